"""The two ways a lab can fail, each with its own exit code (DESIGN.md section 4)."""

from __future__ import annotations


class LabError(Exception):
    """Base class: an error a lab reports to the user as one clear message."""

    exit_code = 2

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return self.message if not self.fix else f"{self.message}\n  fix: {self.fix}"


class PrerequisiteError(LabError):
    """Something the lab needs is missing or the input is bad: exit code 2, nothing changed."""

    exit_code = 2


class VerificationFailed(LabError):
    """A verification gate failed (including an automatic rollback): exit code 1."""

    exit_code = 1
