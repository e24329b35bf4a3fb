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
    # BEGIN SOLUTION: group variants by user, then compare each user with the SDK's bucket
    seen: dict[str, set[str]] = {}
    requests: dict[str, int] = {}
    for user, variant in pairs:
        seen.setdefault(user, set()).add(variant)
        requests[user] = requests.get(user, 0) + 1
    switched = sorted(u for u, vs in seen.items() if len(vs) > 1)
    repeat = sum(1 for n in requests.values() if n >= 2)
    wrong = sorted(u for u, vs in seen.items() if vs != {sdk_bucket_variant(experiment, u)})
    return [
        Verification("sticky assignment", not switched and repeat > 0,
                     f"{len(switched)} of {len(seen)} users switched variant; {repeat} seen twice or more"
                     + (f" (e.g. {switched[:3]})" if switched else ""),
                     "0 users switch, >= 1 user seen twice",
                     "hash the user id (not the request) and keep the seed fixed"),
        Verification("assignment matches the SDK", bool(seen) and not wrong,
                     f"{len(seen) - len(wrong)} of {len(seen)} users as the SDK's hash says"
                     + (f" (differ: {wrong[:3]})" if wrong else ""),
                     "every user", "evaluate the feature with GrowthBook, hashAttribute id"),
    ]
    # END SOLUTION


def srm_check(users: Mapping[str, int], weights: Mapping[str, float],
              threshold: float = 0.001) -> Verification:
    """"sample ratio (SRM)": a chi-square goodness-of-fit test (scipy.stats.chisquare) of the
    users per variant against the expected counts from the weights. Passed when p >= threshold.
    `observed` shows the counts and the p-value.
    """
    # BEGIN SOLUTION: expected = total * weight / sum(weights); chisquare(observed, expected)
    variants = list(weights)
    observed = [int(users.get(v, 0)) for v in variants]
    total = sum(observed)
    expected = [total * weights[v] / sum(weights.values()) for v in variants]
    p = float(stats.chisquare(observed, expected).pvalue) if total else 0.0
    counts = ", ".join(f"{v}={n}" for v, n in zip(variants, observed, strict=True))
    return Verification("sample ratio (SRM)", p >= threshold, f"{counts}; chi-square p={p:.3g}",
                        f"p >= {threshold:g} for weights {dict(weights)}",
                        "an SRM means the assignment or the logging lost users: the result "
                        "is invalid; find the bug (which users are missing?) and rerun")
    # END SOLUTION


def decide(evidence: Evidence) -> Decision:
    """The decision rule, in this order:

    1. INVALID when the SRM p-value < srm_threshold or assignment is not sticky
       (whatever the p-values say: the arms are not comparable)
    2. KEEP_A when any guardrail failed (a guardrail vetoes a win); the reason names it
    3. SHIP_B when the primary test is significant and B is better (primary_diff > 0)
    4. KEEP_A when it is significant and B is worse
    5. INCONCLUSIVE otherwise
    """
    # BEGIN SOLUTION: validity, then guardrails, then the primary metric
    if evidence.srm_p < evidence.srm_threshold or not evidence.sticky:
        why = (f"sample ratio mismatch (p={evidence.srm_p:.2g} < {evidence.srm_threshold:g})"
               if evidence.srm_p < evidence.srm_threshold else "assignment is not sticky")
        return Decision(INVALID, why)
    failed = [g for g in evidence.guardrails if not g.passed]
    if failed:
        return Decision(KEEP_A, "guardrail failed: " + "; ".join(f"{g.name} ({g.observed})" for g in failed))
    if evidence.primary_significant and evidence.primary_diff > 0:
        return Decision(SHIP_B, f"B is better by {evidence.primary_diff:+.3f} (always-valid test)")
    if evidence.primary_significant:
        return Decision(KEEP_A, f"B is worse by {evidence.primary_diff:+.3f} (always-valid test)")
    return Decision(INCONCLUSIVE, f"no significant difference ({evidence.primary_diff:+.3f})")
    # END SOLUTION
