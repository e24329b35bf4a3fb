# Exercise generated from solutions/lab04_ab_testing.py by `python -m milvus_lab.exercises`.
"""Lab 04 exercise: the three judgements of an A/B test that nobody should get wrong.

1. `check_assignment`: is assignment sticky, and is it the experiment's own hashing?
2. `srm_check`: do the users per variant match the configured split (sample ratio mismatch)?
3. `decide`: ship B, keep A, inconclusive or invalid, with guardrails that veto a win.

The lab calls these functions on live traffic (`--impl labs` runs yours);
`pytest checks` tests them against the real search API and real statistics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from scipy import stats  # noqa: F401 - for you: stats.chisquare

from milvus_lab.abtest.assignment import Experiment, sdk_bucket_variant  # noqa: F401 - for you
from milvus_lab.abtest.decision import (  # noqa: F401 - the four decisions, for you
    INCONCLUSIVE,
    INVALID,
    KEEP_A,
    SHIP_B,
    Decision,
    Evidence,
)
from milvus_lab.verification import Verification


def check_assignment(pairs: Iterable[tuple[str, str]], experiment: Experiment) -> list[Verification]:
    """Two verifications from (user id, variant seen in the response) pairs, in this order:

    - "sticky assignment": no user saw two variants, and at least one user was seen twice
      (otherwise there is no evidence). `observed` names the users who switched.
    - "assignment matches the SDK": every user's variant equals
      `sdk_bucket_variant(experiment, user)` (GrowthBook's hash of the id with the
      experiment's seed), so the API really runs the experiment in the file.
    """
    # TODO: group variants by user, then compare each user with the SDK's bucket
    raise NotImplementedError("group variants by user, then compare each user with the SDK's bucket")


def srm_check(users: Mapping[str, int], weights: Mapping[str, float],
              threshold: float = 0.001) -> Verification:
    """"sample ratio (SRM)": a chi-square goodness-of-fit test (scipy.stats.chisquare) of the
    users per variant against the expected counts from the weights. Passed when p >= threshold.
    `observed` shows the counts and the p-value.
    """
    # TODO: expected = total * weight / sum(weights); chisquare(observed, expected)
    raise NotImplementedError('expected = total * weight / sum(weights); chisquare(observed, expected)')


def decide(evidence: Evidence) -> Decision:
    """The decision rule, in this order:

    1. INVALID when the SRM p-value < srm_threshold or assignment is not sticky
       (whatever the p-values say: the arms are not comparable)
    2. KEEP_A when any guardrail failed (a guardrail vetoes a win); the reason names it
    3. SHIP_B when the primary test is significant and B is better (primary_diff > 0)
    4. KEEP_A when it is significant and B is worse
    5. INCONCLUSIVE otherwise
    """
    # TODO: validity, then guardrails, then the primary metric
    raise NotImplementedError('validity, then guardrails, then the primary metric')
