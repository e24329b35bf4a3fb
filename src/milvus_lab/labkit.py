"""The lab skeleton: a lab script declares a `LabSpec` and writes its lesson; `lab_main` does the rest.

What every lab shares lives here once: the common flags, settings and target selection,
the capability check, the exercise loader (checked before anything starts), dry-run and
cleanup dispatch, Ctrl-C, cleanup callbacks, the exit-code contract, the verification
table and the one JSON report (`milvus_lab.lab_report`).
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Generic, TypeVar

from rich.markup import escape

from milvus_lab import interrupts, lab_report, processes
from milvus_lab.errors import LabError, PrerequisiteError, VerificationFailed
from milvus_lab.locks import RunLock
from milvus_lab.preflight import preflight
from milvus_lab.progress import OnProgress
from milvus_lab.report import Narrator, StepRecord, console, progress_bars, settings_table
from milvus_lab.settings import ENGINES, TARGETS, Settings, find_repo_root
from milvus_lab.targets import Capability, Target, get_target
from milvus_lab.targets.capabilities import missing, refuse
from milvus_lab.verification import Verification

IMPLS = ("solutions", "labs")
L = TypeVar("L")


@dataclass(frozen=True)
class Drill:
    """One way to run a lab and what it must produce; the discovery test runs every drill.

    `passes` names verifications that must be in the report and passed, `fails` ones
    that must be there and failed.
    """

    name: str
    argv: tuple[str, ...] = ()
    exit_code: int = 0
    passes: tuple[str, ...] = ()
    fails: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabSpec:
    """What a lab is: its number, its lesson's promise, where it runs, what it needs, its drills."""

    number: str
    slug: str
    title: str
    learn: tuple[str, ...]
    targets: tuple[str, ...] = TARGETS
    minutes: int = 2
    needs: frozenset[Capability] = frozenset()
    exercise: str | None = None
    drills: tuple[Drill, ...] = (Drill("plain"),)

    @property
    def script(self) -> str:
        return f"{self.number}_{self.slug}.py"

    @property
    def command(self) -> str:
        return f"python step05_production/{self.script}"


@dataclass(frozen=True)
class Artifact:
    path: str
    description: str


@dataclass
class LabRun:
    """One run of a lab: what the lesson reads (args, settings, target, impl) and what it records."""

    spec: LabSpec
    args: argparse.Namespace
    settings: Settings
    target: Target
    impl: ModuleType | None
    story: Narrator
    report_path: Path
    section: dict[str, object] = field(default_factory=dict)
    verifications: list[Verification] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _exit_callbacks: list[Callable[[], None]] = field(default_factory=list)

    # narration ------------------------------------------------------------------
    @contextmanager
    def step(self, title: str, why: str, equivalent: str | None = None) -> Iterator[StepRecord]:
        with self.story.step(title, why, equivalent) as record:
            yield record

    def result(self, ok: bool, message: str) -> None:
        self.story.result(ok, message)

    def info(self, message: str) -> None:
        self.story.info(message)

    def warn(self, message: str) -> None:
        self.story.warn(message)

    # outcome --------------------------------------------------------------------
    def record(self, *verifications: Verification) -> None:
        """Keep verifications for the table and the report, each printed as a ✔/✘/skipped line."""
        for v in verifications:
            self.verifications.append(v)
            if v.skipped:
                self.story.warn(f"skipped: {v.name}: {v.hint or v.observed}")
            else:
                self.story.result(bool(v.passed), v.line())

    def verify(self, name: str, passed: bool | None, observed: object = "", required: object = "",
               hint: str = "") -> Verification:
        v = Verification(name, passed, str(observed), str(required), hint)
        self.record(v)
        return v

    def artifact(self, path: Path | str, description: str) -> None:
        self.artifacts.append(Artifact(str(path), description))

    def progress(self) -> AbstractContextManager[OnProgress]:
        """Bars for the long work of low layers: `with run.progress() as p: insert(..., on_progress=p)`."""
        return progress_bars()

    def on_exit(self, callback: Callable[[], None]) -> None:
        """Run at the end whatever happens (Ctrl-C and errors too), last registered first."""
        self._exit_callbacks.append(callback)

    def fail(self, reason: str) -> None:
        """End the run with exit 1 (a gate said no, a rollback happened); later steps are skipped."""
        self.failures.append(reason)

    @property
    def stopped(self) -> bool:
        """True once the run failed: step functions return early instead of going on."""
        return bool(self.failures)

    @property
    def failed(self) -> bool:
        return bool(self.failures) or any(v.failed for v in self.verifications)

    def run_exit_callbacks(self) -> None:
        while self._exit_callbacks:
            callback = self._exit_callbacks.pop()
            try:
                callback()
            except Exception as exc:  # one failing cleanup must not hide the others
                self.story.warn(f"cleanup step {getattr(callback, '__name__', callback)} failed: {exc}")


Lesson = Callable[[LabRun], None] | Sequence[Callable[[LabRun], None]]
Hook = Callable[[LabRun], None]


# ---- arguments -----------------------------------------------------------------------------------
def lab_parser(spec: LabSpec) -> argparse.ArgumentParser:
    """The flags every lab takes (DESIGN.md section 4)."""
    parser = argparse.ArgumentParser(prog=spec.command, description=f"Lab {spec.number}: {spec.title}")
    parser.add_argument("--target", choices=TARGETS, default=None,
                        help="where the lab runs (env MILVUS_LAB_TARGET, default local)")
    parser.add_argument("--milvus", choices=ENGINES, default=None,
                        help="Milvus engine on the local target (env MILVUS_LAB_MILVUS, default lite)")
    parser.add_argument("--dry-run", action="store_true", help="plan and validate, change nothing")
    parser.add_argument("--cleanup", action="store_true", help="remove what the lab made (by label on kube)")
    parser.add_argument("--impl", choices=IMPLS, default="solutions",
                        help="run the learner's exercise code (labs) or the reference (solutions)")
    parser.add_argument("--report", type=Path, default=None, help="where to write the JSON report")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask before removing things")
    parser.add_argument("--context", default=None,
                        help="kube context (target kube); a non-kind context must be named here")
    parser.add_argument("--keep-running", action="store_true",
                        help="leave what the lab started (Milvus, replicas, router) running at the end")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    return Settings.from_env(target=args.target, kube_context=getattr(args, "context", None),
                             milvus=getattr(args, "milvus", None))


def default_report_path(settings: Settings, spec: LabSpec) -> Path:
    """`.milvus-lab/reports/NN_slug.json`."""
    return settings.path("reports", Path(spec.script).stem + ".json")


# ---- exercises -----------------------------------------------------------------------------------
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
    if spec is None or spec.loader is None:
        raise PrerequisiteError(f"{path} cannot be imported", fix="check the file is valid Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def unimplemented(module: ModuleType) -> list[str]:
    """Functions of an exercise module whose body still raises NotImplementedError (the TODOs)."""
    names: list[str] = []
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        if fn.__module__ != module.__name__:
            continue
        try:
            tree = ast.parse(inspect.getsource(fn).lstrip())
        except (OSError, SyntaxError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                    names.append(name)
                    break
    return names


def check_exercise(module: ModuleType, impl: str, spec: LabSpec) -> None:
    """Say which TODOs are open before the lab brings anything up (not after 45 s of set-up)."""
    todo = unimplemented(module)
    if todo:
        raise PrerequisiteError(
            f"exercise labs/{spec.exercise}.py is not finished: {', '.join(todo)} still raise "
            "NotImplementedError",
            fix=f"complete the TODOs (pytest checks/test_lab{spec.number}_*.py shows which fail), "
                f"or run {spec.command} --impl solutions",
        )


def confirm(question: str, assume_yes: bool) -> bool:
    """Ask before destroying something; `--yes` (or no terminal, as in CI) answers yes."""
    if assume_yes or not sys.stdin.isatty():
        return True
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


# ---- the run -------------------------------------------------------------------------------------
def start_run(spec: LabSpec, args: argparse.Namespace) -> LabRun:
    """Everything that can be checked before anything changes, then the run context."""
    settings = settings_from_args(args)
    if settings.target not in spec.targets:
        others = ", ".join(t for t in spec.targets)
        raise PrerequisiteError(f"lab {spec.number} does not run on target {settings.target}",
                                fix=f"{spec.command} --target {spec.targets[0]}   (targets: {others})")
    impl = None
    if spec.exercise:
        impl = load_impl(spec.exercise, args.impl)
        check_exercise(impl, args.impl, spec)
    target = get_target(settings, lab=spec.number)
    lacking = missing(spec.needs, target.capabilities) if spec.needs else []
    if lacking:
        target.require(frozenset(lacking))  # a target may provide them (local: the standalone engine)
        still = missing(spec.needs, target.capabilities)
        if still:
            raise refuse(settings.target, still, spec.command)
    story = Narrator(spec.number, spec.title)
    report_path = args.report or default_report_path(settings, spec)
    return LabRun(spec=spec, args=args, settings=settings, target=target, impl=impl, story=story,
                  report_path=report_path)


def run_steps(run: LabRun, steps: Sequence[Callable[[], None]]) -> None:
    """Each step in order; once the run failed (a gate said no) the rest are skipped."""
    for step in steps:
        if run.stopped:
            break
        step()


def run_lesson(run: LabRun, lesson: Lesson) -> None:
    """A lesson is one function of the run, or a sequence of them run as steps."""
    if callable(lesson):
        lesson(run)
    else:
        run_steps(run, [lambda s=s: s(run) for s in lesson])


def lab_main(spec: LabSpec, lesson: Lesson, argv: list[str] | None = None,
             add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
             check_arguments: Callable[[argparse.Namespace], None] | None = None,
             plan: Hook | None = None, cleanup: Hook | None = None) -> int:
    """Parse, check, run the lesson (or the dry run / cleanup), report; return the exit code."""
    parser = lab_parser(spec)
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args(argv)
    interrupts.interrupt_on_stop_signals()  # Ctrl-C and SIGTERM both end in the clean-up below
    started = datetime.now(timezone.utc)
    run: LabRun | None = None
    error: LabError | None = None
    bug: Exception | None = None
    interrupted: KeyboardInterrupt | None = None
    try:
        if check_arguments:
            check_arguments(args)
        run = start_run(spec, args)
        if not args.dry_run:  # a dry run changes nothing: it needs neither free ports nor the lock
            preflight(run.settings)  # state dir, ports: exit 2 while nothing has moved
            run.on_exit(RunLock(run.settings, spec.number).acquire().release)  # released last
        run.story.header(spec.learn, targets=", ".join(spec.targets), minutes=spec.minutes)
        console.print(settings_table({**run.target.describe(), **lab_report.flag_values(args)}))
        if not args.keep_running and not args.cleanup:
            if not args.dry_run and any(r.alive() for r in processes.list_records(run.settings)):
                run.warn("processes from an earlier `milvus-lab up` or run are running: this run takes "
                         "them over and stops them at the end (add --keep-running to leave them up)")
            run.on_exit(run.target.teardown)
        if args.cleanup:
            if confirm(f"Remove what lab {spec.number} made on target {run.settings.target}?", args.yes):
                if cleanup is None:
                    raise PrerequisiteError(f"lab {spec.number} has nothing to clean up", fix=spec.command)
                cleanup(run)
            else:
                console.print("nothing removed")
        elif args.dry_run:
            if plan is None:
                raise PrerequisiteError(f"lab {spec.number} has no dry run", fix=spec.command)
            plan(run)
            console.print("dry run: nothing was changed")
        else:
            run_lesson(run, lesson)
    except LabError as exc:
        error = exc
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM as interrupts.Terminated
        interrupted = interrupt
    except Exception as exc:  # a bug: still clean up and write the report, then show the traceback
        bug = exc
        error = VerificationFailed(f"unexpected {type(exc).__name__} in the lab: {exc} (traceback below)",
                                   fix="this is a bug in the lab or the library: report it with the traceback")
    finally:
        if run is not None:
            run.run_exit_callbacks()
    code = finish(spec, args, run, started, error, interrupted)
    if bug is not None:
        raise bug
    return code


def finish(spec: LabSpec, args: argparse.Namespace, run: LabRun | None, started: datetime,
           error: LabError | None, interrupted: KeyboardInterrupt | None) -> int:
    """The verification table, the one-line outcome, the JSON report; return the exit code."""
    if run is not None:
        lab_report.print_verifications(run.verifications)
        if error is not None and error.exit_code == 1:
            run.failures.append(error.message)
    code = exit_code(run, error, interrupted)
    if interrupted is not None:
        console.print(f"\n[yellow]Interrupted ({interrupts.cause(interrupted)}).[/] Traffic and aliases point at the last verified version.\n"
                      f"  clean up with: {spec.command} --cleanup")
    elif error is not None:
        label = "verification failed" if error.exit_code == 1 else "cannot run"
        console.print(f"[red]✘ {label}:[/] {escape(error.message)}", soft_wrap=True)
        if error.fix:
            console.print(f"  [bold]fix:[/] {escape(error.fix)}", soft_wrap=True)
    elif run is not None and run.failed:
        console.print(f"[red]✘ lab {spec.number} failed:[/] {lab_report.failure_summary(run)}")
    elif run is not None and args.cleanup:
        console.print(f"[green]✔ lab {spec.number} cleaned up.[/]")
    elif run is not None and args.dry_run:
        console.print(f"[green]✔ lab {spec.number} dry run complete.[/] Run it with: {spec.command}")
    elif run is not None:
        console.print(f"[green]✔ lab {spec.number} complete.[/] Clean up with: {spec.command} --cleanup")
    if run is not None or error is not None:
        path = run.report_path if run else (args.report or _fallback_report_path(spec))
        if path is not None:
            written = lab_report.write(path, lab_report.build(spec, args, run, started, code, error, interrupted))
            if written:
                console.print(f"Report: {written}")
    return code


def in_notebook() -> bool:
    return "ipykernel" in sys.modules


def notebook_run(spec: LabSpec, add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
                 argv: list[str] | None = None) -> LabRun | None:
    """In Jupyter: a LabRun with the default flags, so each cell can run one lesson step.

    Outside Jupyter: None (the script's notebook cells then do nothing).
    """
    if not in_notebook():
        return None
    parser = lab_parser(spec)
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args(argv or [])
    run = start_run(spec, args)
    run.story.header(spec.learn, targets=", ".join(spec.targets), minutes=spec.minutes)
    console.print(settings_table({**run.target.describe(), **lab_report.flag_values(args)}))
    run.on_exit(run.target.teardown)
    run.section["started_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return run


class NotebookSteps(Generic[L]):
    """A lesson's steps for notebook cells: `steps.gate()` runs that step in Jupyter.

    One cell per step keeps a notebook a lesson a learner steps through. Once the run
    failed (a gate said no) the remaining cells do nothing, as `run_steps` skips the rest;
    outside Jupyter (no run: the script runs `main()`) every cell does nothing. `run`,
    `in_jupyter` and `finish` are its own names; any other attribute is a lesson step.
    """

    def __init__(self, run: LabRun | None, lesson: Callable[[LabRun], L]) -> None:
        self.run = run
        self.lesson: L | None = lesson(run) if run is not None else None

    @property
    def in_jupyter(self) -> bool:
        return self.run is not None

    def finish(self) -> int:
        """The last cell: cleanup, the verification table and the report (`notebook_finish`)."""
        if self.run is None:
            raise RuntimeError("no notebook run: outside Jupyter the script runs main()")
        return notebook_finish(self.run)

    def __getattr__(self, name: str) -> Callable[[], None]:
        if name.startswith("_"):  # copy, pickle and IPython's display probe dunders: not steps
            raise AttributeError(name)
        run, lesson = self.run, self.lesson
        if run is None or lesson is None:
            return lambda: None
        step: Callable[[], None] = getattr(lesson, name)

        def cell() -> None:
            if not run.stopped:
                step()
        return cell


def notebook_lesson(spec: LabSpec, lesson: Callable[[LabRun], L],
                    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
                    argv: list[str] | None = None) -> NotebookSteps[L]:
    """`notebook_run` plus the lesson's steps, one per cell (see `NotebookSteps`)."""
    return NotebookSteps(notebook_run(spec, add_arguments, argv), lesson)


def notebook_finish(run: LabRun) -> int:
    """The last notebook cell: cleanup callbacks, the table and the report; fails loudly when the lab failed."""
    started = datetime.fromisoformat(str(run.section.pop("started_at")))
    run.run_exit_callbacks()
    code = finish(run.spec, run.args, run, started, None, None)
    if code != 0:
        raise AssertionError(f"lab {run.spec.number} exited with {code}: read the output above")
    return code


def exit_code(run: LabRun | None, error: LabError | None, interrupted: KeyboardInterrupt | None) -> int:
    if interrupted is not None:
        return interrupts.exit_code(interrupted)
    if error is not None:
        return error.exit_code
    return 1 if run is not None and run.failed else 0


def _fallback_report_path(spec: LabSpec) -> Path | None:
    """Where the report goes when the settings themselves were bad (so no state dir is known)."""
    try:
        return default_report_path(Settings(), spec)
    except (OSError, LabError):
        return None
