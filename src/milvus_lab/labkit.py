"""What every lab script shares: common flags, the exit-code contract and the exercise loader.

A lab script builds its parser with `lab_parser()`, then hands its `main(args)` to
`run_lab()`, which turns LabError into exit code 2 (or 1 for a failed verification)
and Ctrl-C into a message that says how to clean up.
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from milvus_lab.errors import LabError, PrerequisiteError
from milvus_lab.report import console
from milvus_lab.settings import TARGETS, Settings, find_repo_root

IMPLS = ("solutions", "labs")


def lab_parser(description: str) -> argparse.ArgumentParser:
    """The flags every lab takes (DESIGN.md section 4)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--target", choices=TARGETS, default=None,
                        help="where the lab runs (env MILVUS_LAB_TARGET, default local)")
    parser.add_argument("--dry-run", action="store_true", help="plan and validate, change nothing")
    parser.add_argument("--cleanup", action="store_true", help="remove what the lab made, by label")
    parser.add_argument("--impl", choices=IMPLS, default="solutions",
                        help="run the learner's exercise code (labs) or the reference (solutions)")
    parser.add_argument("--report", type=Path, default=None, help="where to write the JSON report")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask before changing things")
    parser.add_argument("--context", default=None, help="kube context (target kube); non-kind contexts must be named here")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    return Settings.from_env(target=args.target, kube_context=getattr(args, "context", None))


def default_report_path(settings: Settings, lab_file: str) -> Path:
    """`.milvus-lab/reports/NN_name.json` for `step05_production/NN_name.py`."""
    return settings.path("reports", Path(lab_file).stem + ".json")


def load_impl(module_name: str, impl: str = "solutions", root: Path | None = None) -> ModuleType:
    """Import `labs/<module_name>.py` or `solutions/<module_name>.py` by path.

    The two folders hold files of the same name, so they cannot both be on sys.path;
    loading by path keeps them apart and lets `--impl` pick one at run time.
    """
    if impl not in IMPLS:
        raise PrerequisiteError(f"unknown --impl {impl!r}", fix=f"use one of {', '.join(IMPLS)}")
    base = (root or find_repo_root()) / impl
    path = base / f"{module_name}.py"
    if not path.is_file():
        raise PrerequisiteError(f"{path} not found", fix="run from the repository checkout (git clone ...)")
    spec = importlib.util.spec_from_file_location(f"{impl}.{module_name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def confirm(question: str, assume_yes: bool) -> bool:
    """Ask before destroying something; `--yes` (or no terminal, as in CI) answers yes."""
    if assume_yes or not sys.stdin.isatty():
        return True
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def run_lab(main: Callable[[], int | None], cleanup_hint: str) -> int:
    """Run a lab's main and map the outcome to the exit-code contract (0 / 1 / 2)."""
    # Ctrl-C must interrupt even when the shell started us with SIGINT ignored (`cmd &`)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code = main()
        return int(code or 0)
    except NotImplementedError as exc:
        console.print(f"[red]✘ exercise not implemented yet:[/] {exc}\n"
                      "  fix: complete the TODO in labs/, or run with --impl solutions")
        return 1
    except LabError as exc:
        label = "verification failed" if exc.exit_code == 1 else "cannot run"
        console.print(f"[red]✘ {label}:[/] {exc.message}")
        if exc.fix:
            console.print(f"  [bold]fix:[/] {exc.fix}")
        return exc.exit_code
    except KeyboardInterrupt:
        console.print("\n[yellow]Interrupted.[/] Traffic and aliases point at the last verified version.\n"
                      f"  clean up with: {cleanup_hint}")
        return 130
