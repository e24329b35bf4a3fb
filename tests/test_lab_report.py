"""The one report schema: what a lab writes validates; what breaks the contract does not."""

from __future__ import annotations

import argparse
import copy
from datetime import datetime, timezone

import jsonschema
import pytest

from milvus_lab import lab_report
from milvus_lab.errors import PrerequisiteError
from milvus_lab.interrupts import Terminated
from milvus_lab.labkit import Drill, LabRun, LabSpec, exit_code, lab_parser, unimplemented
from milvus_lab.report import Narrator
from milvus_lab.settings import Settings
from milvus_lab.targets import get_target
from milvus_lab.verification import Verification, all_passed

SPEC = LabSpec(number="99", slug="unit_test", title="Unit", learn=("x",), drills=(Drill("plain"),))


def make_run(tmp_path) -> tuple[argparse.Namespace, LabRun]:
    args = lab_parser(SPEC).parse_args(["--report", str(tmp_path / "r.json")])
    settings = Settings(home=tmp_path)
    run = LabRun(SPEC, args, settings, get_target(settings, lab="99"), None, Narrator("99", "Unit"), tmp_path / "r.json")
    return args, run


def build(tmp_path, mutate=None, error=None, interrupted: KeyboardInterrupt | None = None) -> dict:
    args, run = make_run(tmp_path)
    with run.step("one", "why"):
        run.verify("fact", True, 1, ">= 1")
    run.section["numbers"] = (1, 2)
    if mutate:
        mutate(run)
    code = exit_code(run, error, interrupted)
    return lab_report.build(SPEC, args, run, datetime.now(timezone.utc), code, error, interrupted)


def test_a_passing_report_validates(tmp_path) -> None:
    report = build(tmp_path)
    jsonschema.validate(report, lab_report.load_schema())
    assert report["exit_code"] == 0 and report["outcome"] == "passed"
    assert report["steps"][0]["lines"] == ["✔ fact: 1 (required >= 1)"]


def test_a_failed_verification_is_exit_1_and_named(tmp_path) -> None:
    report = build(tmp_path, lambda run: run.verify("gate", False, "0.1", ">= 0.9", "fix the index"))
    jsonschema.validate(report, lab_report.load_schema())
    assert report["exit_code"] == 1 and report["outcome"] == "failed" and "gate" in report["message"]


@pytest.mark.parametrize(("interrupt", "code", "cause"), [
    (KeyboardInterrupt(), 130, "Ctrl-C"), (Terminated(), 143, "SIGTERM")])
def test_an_interrupted_run_says_by_what(tmp_path, interrupt: KeyboardInterrupt, code: int, cause: str) -> None:
    report = build(tmp_path, interrupted=interrupt)
    assert (report["exit_code"], report["outcome"]) == (code, "interrupted")
    assert report["message"] == f"interrupted ({cause})"
    jsonschema.validate(report, lab_report.load_schema())


def test_a_prerequisite_error_is_exit_2_with_its_fix(tmp_path) -> None:
    report = build(tmp_path, error=PrerequisiteError("port taken", fix="free it"))
    jsonschema.validate(report, lab_report.load_schema())
    assert (report["exit_code"], report["fix"]) == (2, "free it")


@pytest.mark.parametrize("breakage", ["exit-0-with-failed-row", "missing-field", "bad-verification"])
def test_the_schema_rejects_a_broken_report(tmp_path, breakage: str) -> None:
    report = copy.deepcopy(build(tmp_path))
    if breakage == "exit-0-with-failed-row":
        report["verifications"].append(Verification("x", False).to_dict())
    elif breakage == "missing-field":
        del report["parameters"]
    else:
        report["verifications"][0]["passed"] = "yes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(report, lab_report.load_schema())


def test_all_passed_needs_evidence() -> None:
    assert not all_passed([])
    assert all_passed([Verification("a", True), Verification("b", None)])
    assert not all_passed([Verification("a", True), Verification("b", False)])


def test_unimplemented_finds_the_todos() -> None:
    from milvus_lab.labkit import load_impl

    assert unimplemented(load_impl("lab03_blue_green", "labs")) == [
        "gate_passed", "measurement_failed", "pre_promotion_gate", "promote", "rollback_decision"]
    assert unimplemented(load_impl("lab03_blue_green", "solutions")) == []


def test_a_crashing_lesson_still_writes_its_report_then_raises(tmp_path, monkeypatch) -> None:
    """A bug in a lab is not hidden: cleanup runs, the report says exit 1, the traceback follows."""
    import json

    from milvus_lab.labkit import lab_main
    from milvus_lab.testing.milvus_fixtures import lab_env, new_lab_settings

    for key, value in lab_env(new_lab_settings(tmp_path / "home")).items():
        monkeypatch.setenv(key, value)
    cleaned: list[bool] = []

    def plan(run: LabRun) -> None:
        run.on_exit(lambda: cleaned.append(True))
        raise RuntimeError("boom")

    spec = LabSpec(number="99", slug="crash", title="A lab with a bug", learn=("nothing",))
    report = tmp_path / "report.json"
    with pytest.raises(RuntimeError, match="boom"):
        lab_main(spec, lambda run: None, argv=["--dry-run", "--report", str(report)], plan=plan)
    assert cleaned == [True]
    data = json.loads(report.read_text())
    assert data["exit_code"] == 1 and "RuntimeError" in json.dumps(data)
    jsonschema.validate(data, lab_report.load_schema())


@pytest.mark.parametrize(("flag", "says", "never"), [
    ("--cleanup", "cleaned up", "Clean up with"),
    ("--dry-run", "dry run complete", "Clean up with"),
    (None, "complete", "cleaned up"),
])
def test_the_last_line_fits_what_the_run_did(flag, says, never, tmp_path, monkeypatch, capsys) -> None:
    """After --cleanup the summary must not tell the learner to clean up."""
    from milvus_lab.labkit import lab_main
    from milvus_lab.testing.milvus_fixtures import lab_env, new_lab_settings

    for key, value in lab_env(new_lab_settings(tmp_path / "home")).items():
        monkeypatch.setenv(key, value)
    spec = LabSpec(number="98", slug="summary", title="A lab that does nothing", learn=("nothing",))
    argv = [*([flag] if flag else []), "--yes", "--report", str(tmp_path / "r.json")]
    code = lab_main(spec, lambda run: None, argv=argv, plan=lambda run: None, cleanup=lambda run: None)
    out = capsys.readouterr().out
    assert code == 0 and says in out and never not in out, out
