"""Tests that wait for CI's background set-up, so pytest can start before the set-up ends.

Why: on a brand-new machine `.ci/run` spends ~25 minutes building the kube test control
plane, the Docker images and the field tools, mostly compiling Go on two cores, while most of
the suite (labs 03-06 on Milvus Lite) needs none of them. `.ci/run` therefore builds them in
background lanes and runs the README's `pytest` at once, with ``MILVUS_LAB_CI_SETUP_DIR``
naming the directory where each lane reports:

- ``<part>.ready``: the part is up; ``<part>.env`` (optional) holds ``export KEY=VALUE``
  lines the tests need (DOCKER_HOST, DOCKER_CONFIG), loaded into ``os.environ``;
- ``<part>.failed``: the lane failed; ``<part>.log`` says why.

A test that has to wait touches ``<part>.awaited`` (its time says when the suite ran out of
other work: how much of the set-up was on the critical path).

The suite runs the tests that need no part first (``order_by_setup``) and each test waits for
the parts it needs (``await_parts``): by its markers, and again in the fixtures that find a
kube API or a Docker engine, so a test that is not marked waits all the same. Without the
variable (a developer's ``pytest``) nothing waits and nothing is reordered. Load it as a
plugin: ``pytest_plugins = ["milvus_lab.testing.ci_setup"]``.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from milvus_lab.errors import LabError
from milvus_lab.polling import poll_until

SETUP_DIR_ENV = "MILVUS_LAB_CI_SETUP_DIR"
# In the order the lanes usually finish on a cold machine (the tests are run in this order).
PARTS = ("docker", "kube", "tools")
PART_OF_MARKER = {"docker": "docker", "kube": "kube", "kind": "kube", "tools": "tools", "ci_runners": "tools"}
WAIT_LIMIT_S = 75 * 60.0
_loaded: set[str] = set()


def setup_dir() -> Path | None:
    value = os.environ.get(SETUP_DIR_ENV)
    return Path(value) if value else None


def parts_needed(item: pytest.Item) -> set[str]:
    """The background parts a test needs, from its markers (module marks included)."""
    return {PART_OF_MARKER[m.name] for m in item.iter_markers() if m.name in PART_OF_MARKER}


def order_by_setup(items: list[pytest.Item]) -> None:
    """Tests needing no part first, then by the last part they need (stable within a rank)."""
    def rank(item: pytest.Item) -> int:
        return max((PARTS.index(p) + 1 for p in parts_needed(item)), default=0)
    items.sort(key=rank)


def _load_env(path: Path) -> None:
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        words = shlex.split(line)
        if words[:1] == ["export"]:
            words = words[1:]
        for word in words:
            key, sep, value = word.partition("=")
            if sep and key:
                os.environ[key] = value


def _lane_failure(root: Path, part: str) -> str | None:
    """Why the lane of ``part`` failed (the tail of its log), or None while it has not."""
    if not (root / f"{part}.failed").exists():
        return None
    log = root / f"{part}.log"
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log.is_file() else ""
    return f"CI set-up of {part} failed (log: {log}):\n{tail}"


def await_part(part: str, say: Callable[[str], None] | None = None,
               limit_s: float = WAIT_LIMIT_S, poll_s: float = 2.0) -> None:
    """Block until the lane of ``part`` is ready (then load its env), or fail the test saying
    why. Returns at once when no CI set-up is pending."""
    root = setup_dir()
    if root is None or part in _loaded:
        return
    say = say or (lambda text: print(text, file=sys.stderr, flush=True))
    started = time.monotonic()
    announced = False

    def ready() -> bool:
        nonlocal announced
        if (root / f"{part}.ready").exists():
            return True
        if not announced:
            say(f"[ci set-up] waiting for {part} (building in the background)")
            (root / f"{part}.awaited").touch()  # when the tests began to wait on this lane
            announced = True
        return False

    try:
        poll_until(ready, timeout=limit_s, interval=poll_s, what=f"CI set-up of {part}",
                   fix=f"read {root / f'{part}.log'}", failed=lambda: _lane_failure(root, part),
                   timeout_message=f"CI set-up of {part} not ready after {limit_s / 60:.0f} min ({root})")
    except LabError as err:
        pytest.fail(_lane_failure(root, part) or err.message, pytrace=False)
    _load_env(root / f"{part}.env")
    _loaded.add(part)
    if announced:
        say(f"[ci set-up] {part} ready after {time.monotonic() - started:.0f} s of waiting")


def await_parts(item: pytest.Item, say: Callable[[str], None] | None = None) -> None:
    for part in sorted(parts_needed(item), key=PARTS.index):
        await_part(part, say)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `.ci/run` (set-up still building in the background): tests that need none of it first."""
    if setup_dir() is not None:
        order_by_setup(items)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Under `.ci/run`: wait for the background parts (kube, docker, tools) this test needs."""
    reporter = item.config.pluginmanager.get_plugin("terminalreporter")
    say = (lambda text: reporter.write_line(text)) if reporter is not None else None
    await_parts(item, say)
