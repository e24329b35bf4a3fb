"""`--inject-failure KIND`: a real fault for a real tool to find, made in the state directory
(never in the repository), so the stage fails exactly the way CI would fail.

- lint: a module with an unused import (ruff F401)
- test: a test that asserts something false (pytest)
- secret: a file holding an AWS-style access key (detect-secrets)
- vuln: a lockfile pinning jinja2 2.10 (osv-scanner: GHSA-462w-v97r-4m45 in the fixture DB)
- smoke: the release starts and is ready but refuses its clients' searches (wrong vector
  dimension: built for another embedding model, it serves a 64-d collection to 128-d clients)
- post-deploy: the release passes the smoke test but fails every search under concurrency
  (both in one environment, dev unless `--fail-in staging|prod`)
"""

from __future__ import annotations

from milvus_lab.settings import Settings

# built at run time so no secret-looking literal sits in the source the scanners read
_KEY = "AKIA" + "J3M5Q7T9V2X4Z6B8"
_SOURCES = {
    "lint": ("drill_lint.py", "import os\n\n\ndef f() -> int:\n    return 1\n"),
    "test": ("test_drill_failure.py", "def test_release_is_correct() -> None:\n    assert 1 + 1 == 3, 'injected failure'\n"),
    "secret": ("drill_settings.py", f'AWS_ACCESS_KEY_ID = "{_KEY}"\n'),
    "vuln": ("drill-requirements.lock", "jinja2==2.10\n"),
}
# The smoke fault must pass /readyz (whose warm-up search uses the replica's own dimension
# and collection) and fail only the smoke test, which searches as the clients do: a 64-d
# release against the 128-d collection would never become ready (a stalled rollout, not a
# smoke failure), so the bad release gets its own 64-d collection (made by the deploy).
SMOKE_DIM = 64
RELEASE_FAULTS = {
    "smoke": {"MILVUS_LAB_DIM": str(SMOKE_DIM), "MILVUS_LAB_API_COLLECTION": f"pipeline_smoke_{SMOKE_DIM}d"},
    "post-deploy": {"MILVUS_LAB_API_FAULT_ERROR_RATE": "1.0"},
}


def fault_files(settings: Settings, inject: str | None, kind: str) -> list[str]:
    """The extra path a stage must scan when its drill is on (written fresh), else none."""
    if inject != kind or kind not in _SOURCES:
        return []
    name, text = _SOURCES[kind]
    path = settings.path("pipeline", "drill", name)
    path.write_text(text)
    return [str(path)]


def fault_collection(fault: dict[str, str]) -> tuple[str, int] | None:
    """The collection (name, dimension) a faulty release searches instead of its
    environment's, which the deploy must provide; None when the release uses the usual one."""
    name = fault.get("MILVUS_LAB_API_COLLECTION")
    return (name, int(fault.get("MILVUS_LAB_DIM", "128"))) if name else None


def release_fault(inject: str | None, env: str, fail_env: str = "dev") -> dict[str, str]:
    """Environment variables that make the release deployed to `env` bad (smoke / post-deploy
    drills, only in `fail_env`: a failure in staging shows dev promoted and prod never reached)."""
    return dict(RELEASE_FAULTS.get(inject or "", {})) if env == fail_env else {}
