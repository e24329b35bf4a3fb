"""`milvus-lab`: doctor, up, down, status for the local environment."""

from __future__ import annotations

import argparse
import sys

import httpx
from rich.markup import escape

from milvus_lab import processes
from milvus_lab.doctor import run_checks
from milvus_lab.errors import LabError
from milvus_lab.report import console, progress_bars, summary_table
from milvus_lab.settings import Settings


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
    console.print(f"[green]✔[/] Milvus Lite at {base.milvus_uri}: alias {ALIAS!r} → {base.collection.name} "
                  f"({base.collection.rows:,} rows, {'reused' if base.collection.reused else 'built'})")
    console.print(f"[green]✔[/] search API blue/v1 x{len(base.backends)} behind the router at {target.live_url()}")
    console.print(f"[green]✔[/] smoke search: {len(hits)} hits, served by {resp.headers.get('x-served-by')}, "
                  f"top id {hits[0]['id']} (exact nearest: {int(base.dataset.ground_truth[0][0])})")
    console.print(f"Try it:  curl -s localhost:{settings.router_port}/version   |   stop everything: milvus-lab down")
    return 0


def cmd_down(settings: Settings, args: argparse.Namespace) -> int:
    from milvus_lab.app.replicas import stop_replicas
    from milvus_lab.milvus.server import stop_server
    from milvus_lab.router.client import stop_router

    n = stop_replicas(settings)
    router = stop_router(settings)
    milvus = stop_server(settings)
    settings.path("router", "routes.json").unlink(missing_ok=True)
    leftovers = processes.list_records(settings)
    for rec in leftovers:  # anything else we started (records of dead processes included)
        processes.stop_process(settings, rec.name)
    console.print(f"stopped: {n} API replica(s), router: {'yes' if router else 'no'}, "
                  f"Milvus Lite: {'yes' if milvus else 'no'}; data kept in {settings.state_dir}")
    return 0


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    rows = [(r.name, r.pid, r.port, "[green]running[/]" if r.alive() else "[red]dead (stale)[/]",
             r.extra.get("slot", ""), r.extra.get("version", "")) for r in processes.list_records(settings)]
    console.print(summary_table("milvus-lab processes", ["name", "pid", "port", "state", "slot", "version"], rows))
    try:
        table = httpx.get(f"{settings.router_control_url}/routes", timeout=1).json()
        console.print(f"router weights: {table['weights']}  preview: {table['preview']}")
    except httpx.HTTPError:
        console.print("router: not running")
    try:
        from milvus_lab.milvus.collections import alias_target
        from milvus_lab.milvus.server import answers

        if answers(settings.milvus_uri, timeout=1):
            from pymilvus import MilvusClient

            client = MilvusClient(uri=settings.milvus_uri, timeout=3)
            console.print(f"Milvus: {client.list_collections()}  alias products → {alias_target(client, 'products')}")
            client.close()
        else:
            console.print(f"Milvus: nothing answers at {settings.milvus_uri}")
    except Exception as exc:  # status must never crash on a half-up environment
        console.print(f"Milvus: {type(exc).__name__}: {exc}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="milvus-lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check prerequisites of every target, with fixes")
    up = sub.add_parser("up", help="start the local environment (Milvus Lite, API blue/v1, router)")
    up.add_argument("--rebuild", action="store_true", help="rebuild a half-built collection")
    sub.add_parser("down", help="stop every process of ours (data kept)")
    sub.add_parser("status", help="what is running")
    args = parser.parse_args(argv)
    handlers = {"doctor": cmd_doctor, "up": cmd_up, "down": cmd_down, "status": cmd_status}
    try:
        return handlers[args.command](Settings.from_env(), args)
    except LabError as exc:
        console.print(f"[red]✘ {exc.message}[/]")
        if exc.fix:
            console.print(f"  [bold]fix:[/] {exc.fix}")
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
