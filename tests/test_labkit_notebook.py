"""NotebookSteps: one notebook cell runs one lesson step, skips once the run failed, and
does nothing outside Jupyter (pure logic: a stand-in run that only says whether it stopped)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from milvus_lab.labkit import LabRun, NotebookSteps


@dataclass
class StandInRun:
    failures: list[str] = field(default_factory=list)

    @property
    def stopped(self) -> bool:
        return bool(self.failures)


class Lesson:
    def __init__(self, run: LabRun) -> None:
        self.run = run
        self.ran: list[str] = []

    def gate(self) -> None:
        self.ran.append("gate")
        self.run.failures.append("gate said no")

    def promote(self) -> None:
        self.ran.append("promote")


def test_a_cell_runs_its_step_until_the_run_failed() -> None:
    steps = NotebookSteps(StandInRun(), Lesson)  # type: ignore[arg-type]
    steps.gate()
    steps.promote()  # the gate failed: skipped, as run_steps skips the rest
    assert steps.lesson is not None and steps.lesson.ran == ["gate"]
    assert steps.in_jupyter


def test_outside_jupyter_every_cell_does_nothing() -> None:
    steps: NotebookSteps[Lesson] = NotebookSteps(None, Lesson)
    steps.gate()
    assert steps.lesson is None and not steps.in_jupyter
    with pytest.raises(RuntimeError, match="main"):
        steps.finish()


def test_a_misspelt_step_is_an_error_in_jupyter() -> None:
    steps = NotebookSteps(StandInRun(), Lesson)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        steps.gatee()
    with pytest.raises(AttributeError):
        steps.__deepcopy__  # noqa: B018  (dunders are never steps)
