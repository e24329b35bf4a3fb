"""The one verification model every lab, exercise and checker shares.

A lab's gate, a checker's assertion and a report row are the same object, so a
verification that failed is the same red row on the console, in the JSON report and in
`pytest checks`. `passed=None` means skipped (the hint says why and what would run it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Verification:
    """One verified fact: what was observed against what was required, and what to do if not."""

    name: str
    passed: bool | None
    observed: str = ""
    required: str = ""
    hint: str = ""

    @property
    def failed(self) -> bool:
        return self.passed is False

    @property
    def skipped(self) -> bool:
        return self.passed is None

    def line(self) -> str:
        """`name: observed (required ...)`, the text of a ✔/✘ line."""
        text = f"{self.name}: {self.observed}" if self.observed else self.name
        return f"{text} (required {self.required})" if self.required else text

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def all_passed(verifications: Iterable[Verification]) -> bool:
    """True when there is at least one verification and none failed: no evidence is not good evidence."""
    items = list(verifications)
    return bool(items) and not any(v.failed for v in items)
