"""From evidence to a decision: ship B, keep A, inconclusive, or invalid.

The order matters and is the lesson: validity first (an SRM makes every p-value
meaningless), then guardrails (a win on the primary metric that breaks latency or errors
is not a win), then the primary metric's always-valid test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SHIP_B = "ship B"
KEEP_A = "keep A"
INCONCLUSIVE = "inconclusive"
INVALID = "invalid"
DECISIONS = (SHIP_B, KEEP_A, INCONCLUSIVE, INVALID)

WHAT_USERS_SEE = {
    SHIP_B: "everyone gets B's configuration: more searches find the right product",
    KEEP_A: "everyone stays on A; B is switched off for all users",
    INCONCLUSIVE: "everyone stays on A (the default); B was not shown to be better",
    INVALID: "everyone stays on A; fix the assignment bug and run the experiment again",
}


@dataclass(frozen=True)
class Guardrail:
    """One metric that may not get worse."""

    name: str
    passed: bool
    observed: str
    required: str


@dataclass(frozen=True)
class Evidence:
    """What the decision rule reads."""

    srm_p: float
    srm_threshold: float
    sticky: bool
    guardrails: list[Guardrail] = field(default_factory=list)
    primary_significant: bool = False  # the always-valid test crossed its boundary
    primary_diff: float = 0.0  # B - A on the primary metric


@dataclass(frozen=True)
class Decision:
    action: str  # one of DECISIONS
    reason: str

    @property
    def users_see(self) -> str:
        return WHAT_USERS_SEE[self.action]
