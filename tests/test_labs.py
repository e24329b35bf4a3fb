"""Every lab, discovered from step05_production/, run drill by drill on the local target.

Each lab declares its drills (flags, exit code, verifications that must pass or fail) in
its `SPEC`; this one test runs them all and checks each report against the one schema.
"""

from __future__ import annotations

import socket
from pathlib import Path

import jsonschema
import pytest

from milvus_lab.lab_report import load_schema
from milvus_lab.labkit import Drill, LabSpec
from milvus_lab.testing.labs import ROOT, lab_scripts, load_spec, run_drill, setup_marks
from milvus_lab.testing.standalone_fixtures import (
    require_standalone,
    standalone_env,
    standalone_settings,
    stop_standalone_home,
)

SPECS = [load_spec(path) for path in lab_scripts()]
DRILLS = [(spec, drill) for spec in SPECS for drill in spec.drills]


def test_every_lab_is_discovered_and_complete() -> None:
    assert [s.number for s in SPECS] == sorted({s.number for s in SPECS}), "lab numbers must be unique"
    assert {"01", "03"} <= {s.number for s in SPECS}
    readme = (ROOT / "README.md").read_text()
    for spec in SPECS:
        assert (ROOT / "step05_production" / spec.script).is_file()
        assert (ROOT / "notebooks" / spec.script.replace(".py", ".ipynb")).is_file(), f"lab {spec.number}: notebook"
        assert spec.script in readme, f"README.md has no row for {spec.script}"
        assert spec.drills and spec.drills[0].exit_code == 0, f"lab {spec.number}: the first drill is the plain run"
        if spec.exercise:
            for folder in ("solutions", "labs"):
                assert (ROOT / folder / f"{spec.exercise}.py").is_file(), f"{folder}/{spec.exercise}.py"
            assert list((ROOT / "checks").glob(f"test_lab{spec.number}_*.py")), f"checks for lab {spec.number}"


def check_report(spec: LabSpec, drill: Drill, report: dict[str, object]) -> None:
    """The report validates against the schema and says what the drill declares."""
    jsonschema.validate(report, load_schema(), format_checker=jsonschema.FormatChecker())
    assert report["lab"] == spec.number and report["script"] == f"step05_production/{spec.script}"
    assert report["exit_code"] == drill.exit_code
    by_name = {v["name"]: v for v in report["verifications"]}  # type: ignore[union-attr]
    for name in drill.passes:
        assert name in by_name, f"verification {name!r} missing; have {sorted(by_name)}"
        assert by_name[name]["passed"] is True, by_name[name]
    for name in drill.fails:
        assert name in by_name, f"verification {name!r} missing; have {sorted(by_name)}"
        assert by_name[name]["passed"] is False, by_name[name]
    for artifact in report["artifacts"]:  # type: ignore[union-attr]
        path = Path(artifact["path"])
        assert path.is_file() and path.stat().st_size > 0, artifact
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One home per lab: drills of a lab share data (and re-runs prove idempotency)."""
    return {spec.number: tmp_path_factory.mktemp(f"lab{spec.number}") for spec in SPECS}


@pytest.mark.slow
@pytest.mark.parametrize(("spec", "drill"), [
    pytest.param(s, d, id=f"{s.number}-{d.name}", marks=setup_marks(s.number)) for s, d in DRILLS])
def test_lab_drill(spec: LabSpec, drill: Drill, homes: dict[str, Path]) -> None:
    env: dict[str, str] = {}
    if "standalone" in drill.argv:  # the real Milvus 2.3.5 on free ports below 32768, stopped after
        require_standalone()
        settings = standalone_settings(homes[spec.number])
        env = standalone_env(settings)
    try:
        result = run_drill(spec, drill, homes[spec.number], env=env, timeout=900)
    finally:
        if env:
            stop_standalone_home(settings)
    assert result.code == drill.exit_code, result.output[-4000:]
    assert result.report, f"no report written:\n{result.output[-3000:]}"
    assert "Traceback" not in result.output, result.output[-3000:]
    check_report(spec, drill, result.report)


@pytest.mark.parametrize("spec", SPECS, ids=[s.number for s in SPECS])
def test_bad_flag_value_is_exit_2_before_anything_starts(spec: LabSpec, tmp_path: Path) -> None:
    bad = Drill("bad-target", ("--target", "nowhere"), 2)
    result = run_drill(spec, bad, tmp_path, timeout=120)
    assert result.code == 2 and "invalid choice" in result.output and "Traceback" not in result.output


def test_a_taken_milvus_port_is_exit_2_with_the_fix(tmp_path: Path) -> None:
    spec = next(s for s in SPECS if s.number == "03")
    with socket.socket() as s:  # something that is not our Milvus holds the port
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = run_drill(spec, Drill("busy"), tmp_path, env={"MILVUS_LAB_MILVUS_PORT": str(port)}, timeout=120)
    assert result.code == 2, result.output[-2000:]
    assert f"port {port} is in use" in result.output and "fix:" in result.output
    check_report(spec, Drill("busy", exit_code=2), result.report)


@pytest.mark.slow
def test_lab03_plain_drill_on_the_standalone_engine(tmp_path: Path) -> None:
    """The same drill on the real Milvus 2.3.5 binary (`MILVUS_LAB_MILVUS=standalone`)."""
    require_standalone()
    spec = next(s for s in SPECS if s.number == "03")
    plain = spec.drills[0]
    settings = standalone_settings(tmp_path)
    try:
        result = run_drill(spec, plain, tmp_path, env=standalone_env(settings), timeout=900)
    finally:
        stop_standalone_home(settings)
    assert "Traceback" not in result.output, result.output[-3000:]
    assert settings.path("logs", "milvus-standalone.log").is_file(), "the standalone engine did not run"
    assert result.code == plain.exit_code, result.output[-4000:]
    check_report(spec, plain, result.report)

