"""`milvus-lab`: doctor, up, down, status, health for the local environment."""

from __future__ import annotations

import argparse
import sys

import httpx
from rich.markup import escape

from milvus_lab import processes
from milvus_lab.doctor import run_checks
from milvus_lab.errors import LabError
from milvus_lab.milvus.server import answers
from milvus_lab.report import console, progress_bars, summary_table
from milvus_lab.settings import ENGINES, Settings


def cmd_doctor(settings: Settings, args: argparse.Namespace) -> int:
    checks = run_checks(settings)
    rows = [(escape(c.name), escape(c.targets), "[green]ok[/]" if c.ok else "[red]missing[/]", escape(c.detail))
            for c in checks]
    console.print(summary_table("milvus-lab doctor", ["prerequisite", "needed by", "status", "found"], rows))
    for c in checks:  # fixes on their own lines: whole commands, never cut, brackets kept
        if not c.ok:
            console.print(f"[red]✘[/] {escape(c.name)}: [bold]fix:[/] {escape(c.fix)}", soft_wrap=True)
    local_ok = all(c.ok for c in checks if c.targets in ("all", "local"))
    console.print("local target: " + ("[green]ready[/]" if local_ok else "[red]not ready[/] (see fixes)"))
    return 0 if local_ok else 2


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    from milvus_lab.locks import run_lock
    from milvus_lab.preflight import preflight

    preflight(settings)  # bad state dir or a foreign process on our ports: exit 2, nothing started
    with run_lock(settings, "up"):
        return _up(settings, args)


def _up(settings: Settings, args: argparse.Namespace) -> int:
    from milvus_lab.app.client import search_body
    from milvus_lab.baseline import ensure_baseline
    from milvus_lab.releases import ALIAS
    from milvus_lab.targets.local import LocalTarget

    target = LocalTarget(settings, lab="03")  # `up` brings up lab 03's starting point
    with progress_bars() as bars:
        base = ensure_baseline(target, rebuild=args.rebuild, on_progress=bars)
    resp = httpx.post(f"{target.live_url()}/search", json=search_body(base.dataset.queries[0], 5), timeout=10)
    resp.raise_for_status()
    hits = resp.json()["hits"]
    label = {"lite": "Milvus Lite", "standalone": "Milvus 2.3.5 standalone"}[settings.milvus]
    console.print(f"[green]✔[/] {label} at {base.milvus_uri}: alias {ALIAS!r} → {base.collection.name} "
                  f"({base.collection.rows:,} rows, {'reused' if base.collection.reused else 'built'})")
    console.print(f"[green]✔[/] search API blue/v1 x{len(base.backends)} behind the router at {target.live_url()}")
    console.print(f"[green]✔[/] smoke search: {len(hits)} hits, served by {resp.headers.get('x-served-by')}, "
                  f"top id {hits[0]['id']} (exact nearest: {int(base.dataset.ground_truth[0][0])})")
    console.print(f"Try it:  curl -s localhost:{settings.router_port}/version   |   stop everything: milvus-lab down")
    return 0


def cmd_down(settings: Settings, args: argparse.Namespace) -> int:
    from milvus_lab.app.replicas import stop_replicas
    from milvus_lab.milvus.engines import all_engines
    from milvus_lab.router.client import stop_router

    n = stop_replicas(settings)
    router = stop_router(settings)
    engines = {engine.name: engine.stop() for engine in all_engines(settings)}  # whichever runs
    settings.path("router", "routes.json").unlink(missing_ok=True)
    leftovers = processes.list_records(settings)
    for rec in leftovers:  # anything else we started (records of dead processes included)
        processes.stop_process(settings, rec.name)
    console.print(f"stopped: {n} API replica(s), router: {'yes' if router else 'no'}, "
                  f"Milvus Lite: {'yes' if engines['lite'] else 'no'}, Milvus standalone: "
                  f"{'yes' if engines['standalone'] else 'no'}; data kept in {settings.state_dir}")
    return 0


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    rows = [(r.name, r.pid, r.port, "[green]running[/]" if r.alive() else "[red]dead (stale)[/]",
             r.extra.get("slot", ""), r.extra.get("version", "")) for r in processes.list_records(settings)]
    console.print(summary_table("milvus-lab processes", ["name", "pid", "port", "state", "slot", "version"], rows))
    from milvus_lab.milvus.engines import all_engines

    engine_rows = [(e.engine + (" (selected)" if e.engine == settings.milvus else ""), e.state,
                    e.pid or "", e.uri, e.detail) for e in (x.status() for x in all_engines(settings))]
    console.print(summary_table("Milvus engines (local target)",
                                ["engine", "state", "pid", "uri", "detail"], engine_rows))
    try:
        table = httpx.get(f"{settings.router_control_url}/routes", timeout=1).json()
        console.print(f"router weights: {table['weights']}  preview: {table['preview']}")
    except httpx.HTTPError:
        console.print("router: not running")
    try:
        from milvus_lab.milvus.collections import alias_target
        from milvus_lab.milvus.engines import get_engine

        ep = get_engine(settings).endpoint()
        if answers(ep.uri, timeout=2, token=ep.token, tls=ep.tls):
            client = ep.client(timeout=3)
            console.print(f"Milvus ({settings.milvus}): {client.list_collections()}  "
                          f"alias products → {alias_target(client, 'products')}")
            client.close()
        else:
            console.print(f"Milvus ({settings.milvus}): nothing answers at {ep.uri}")
    except Exception as exc:  # status must never crash on a half-up environment
        console.print(f"Milvus: {type(exc).__name__}: {exc}")
    return 0


def _milvus_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--milvus", choices=ENGINES, default=None,
                        help="the local target's Milvus engine (env MILVUS_LAB_MILVUS, default lite)")


def cmd_health(settings: Settings, args: argparse.Namespace) -> int:
    """Exit code per component (`milvus_lab.monitoring.health`: 0 healthy, bits 4..64)."""
    import json

    from milvus_lab.errors import PrerequisiteError
    from milvus_lab.monitoring.health import COMPONENTS, State, check_health

    only = [c.strip() for c in args.only.split(",") if c.strip()] if args.only else list(COMPONENTS)
    unknown = [c for c in only if c not in COMPONENTS]
    if unknown or args.timeout <= 0:
        raise PrerequisiteError(f"bad --only {unknown} or --timeout {args.timeout}",
                                fix=f"--only takes a comma list of {', '.join(COMPONENTS)}; --timeout > 0")
    report = check_health(settings, components=only, alias=args.alias or None, timeout=args.timeout)
    if args.json:
        print(json.dumps(report.summary(), indent=1))
        return report.exit_code
    style = {State.HEALTHY: "green", State.DEGRADED: "yellow", State.DOWN: "red", State.NOT_RUNNING: "dim"}
    rows = [(c.name, f"[{style[c.state]}]{c.state.value}[/]", c.detail,
             str(c.code) if c.counts else "", f"{c.seconds * 1000:.0f} ms") for c in report.components]
    console.print(summary_table("milvus-lab health", ["component", "state", "detail", "exit bit", "took"], rows))
    code = report.exit_code
    console.print("all healthy (exit 0)" if code == 0 else f"[red]not healthy: exit {code}[/] "
                  "(bits: 4 Milvus, 8 API, 16 router, 32 Prometheus, 64 Alertmanager)")
    return code


HEALTH_EPILOG = """exit codes: 0 all checked components healthy; 2 bad input; otherwise the sum of
4 Milvus, 8 API replicas, 16 router, 32 Prometheus, 64 Alertmanager for each component that is
down or degraded (e.g. 12 = Milvus + API). Prometheus/Alertmanager count only when started."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="milvus-lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _milvus_flag(sub.add_parser("doctor", help="check prerequisites of every target, with fixes"))
    up = sub.add_parser("up", help="start the local environment (Milvus, API blue/v1, router)")
    up.add_argument("--rebuild", action="store_true", help="rebuild a half-built collection")
    _milvus_flag(up)
    _milvus_flag(sub.add_parser("down", help="stop every process of ours, both engines (data kept)"))
    _milvus_flag(sub.add_parser("status", help="what is running"))
    health = sub.add_parser("health", help="check every component; exit code per component state",
                            epilog=HEALTH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _milvus_flag(health)
    health.add_argument("--json", action="store_true", help="print the report as JSON")
    health.add_argument("--only", default="", help="comma list: milvus,api,router,prometheus,alertmanager")
    health.add_argument("--alias", default="products",
                        help="alias whose collection Milvus must serve loaded ('' to skip)")
    health.add_argument("--timeout", type=float, default=3.0, help="seconds per request")
    args = parser.parse_args(argv)
    handlers = {"doctor": cmd_doctor, "up": cmd_up, "down": cmd_down, "status": cmd_status,
                "health": cmd_health}
    try:
        return handlers[args.command](Settings.from_env(milvus=args.milvus), args)
    except LabError as exc:
        console.print(f"[red]✘ {exc.message}[/]")
        if exc.fix:
            console.print(f"  [bold]fix:[/] {exc.fix}")
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
