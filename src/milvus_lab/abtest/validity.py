"""Is the experiment trustworthy at all? Checked before any result is read.

- Sample ratio mismatch (SRM): the users per variant must match the configured weights.
  A chi-square goodness-of-fit p < 0.001 means the assignment or the logging is broken
  (a crash that loses one arm's users, a redirect, a bot filter): the result is invalid
  whatever the p-values say, because the users in the arms are no longer comparable.
- Stickiness: every user must have seen one variant only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from scipy import stats

SRM_THRESHOLD = 0.001  # the industry's convention: SRM checks run on every experiment, so strict


@dataclass(frozen=True)
class SrmResult:
    observed: dict[str, int]
    expected: dict[str, float]
    chi2: float
    p_value: float
    threshold: float

    @property
    def mismatch(self) -> bool:
        return self.p_value < self.threshold


def srm_test(counts: Mapping[str, int], weights: Mapping[str, float],
             threshold: float = SRM_THRESHOLD) -> SrmResult:
    """Chi-square goodness of fit of the counts per variant against the weights."""
    variants = list(weights)
    observed = [int(counts.get(v, 0)) for v in variants]
    total = sum(observed)
    if total == 0:
        raise ValueError("no units to test")
    wsum = sum(weights.values())
    expected = [total * weights[v] / wsum for v in variants]
    chi2, p = stats.chisquare(observed, expected)
    return SrmResult(dict(zip(variants, observed, strict=True)),
                     dict(zip(variants, expected, strict=True)), float(chi2), float(p), threshold)


@dataclass(frozen=True)
class Stickiness:
    users: int
    switched: list[str]  # users seen in more than one variant
    repeat_users: int  # users with two or more requests (the ones that can prove it)

    @property
    def sticky(self) -> bool:
        return not self.switched and self.repeat_users > 0


def stickiness(pairs: Iterable[tuple[str, str]]) -> Stickiness:
    """(user id, variant) per request -> the users who saw more than one variant."""
    seen: dict[str, set[str]] = defaultdict(set)
    counts: dict[str, int] = defaultdict(int)
    for user, variant in pairs:
        seen[user].add(variant)
        counts[user] += 1
    switched = sorted(u for u, vs in seen.items() if len(vs) > 1)
    return Stickiness(len(seen), switched, sum(1 for n in counts.values() if n >= 2))


def users_per_variant(pairs: Iterable[tuple[str, str]], variants: Sequence[str]) -> dict[str, int]:
    """Distinct users per variant (the unit of randomisation, so the SRM unit)."""
    users: dict[str, set[str]] = {v: set() for v in variants}
    for user, variant in pairs:
        if variant in users:
            users[variant].add(user)
    return {v: len(u) for v, u in users.items()}
