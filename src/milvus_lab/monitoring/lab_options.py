"""Lab 06's flags and their validation: every bad value is exit 2 with the fix, before
anything starts (no Prometheus half-started because a port number was a typo).

Ports default to the environment (`MILVUS_LAB_PROMETHEUS_PORT`, ...) and else to free ports,
so parallel runs (CI, several learners on one machine) never collide.
"""

from __future__ import annotations

import argparse
import os

from milvus_lab.errors import PrerequisiteError
from milvus_lab.monitoring import incidents, slo, tools

PORT_ENV = {"prometheus": "MILVUS_LAB_PROMETHEUS_PORT", "alertmanager": "MILVUS_LAB_ALERTMANAGER_PORT",
            "webhook": "MILVUS_LAB_WEBHOOK_PORT"}
PLAN_FIX = "e.g. --plan 10000000,500"


def _port(name: str) -> int:
    raw = os.environ.get(PORT_ENV[name], "0")
    return int(raw) if raw.isdigit() else -1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--incidents", default=",".join(incidents.NAMES),
                        help=f"comma list of incidents to inject, in order (default {','.join(incidents.NAMES)})")
    parser.add_argument("--users", type=int, default=8, help="Locust users (default 8)")
    parser.add_argument("--user-rps", type=float, default=2.0,
                        help="searches/s per user (default 2: 16 QPS leaves a busy 2-core machine under the 500 ms SLO)")
    parser.add_argument("--scale", type=float, default=slo.LAB_SCALE,
                        help=f"divide every burn-rate window by this (default {slo.LAB_SCALE}: 1h -> 1 min)")
    parser.add_argument("--detect-timeout", type=float, default=60.0,
                        help="seconds to wait for an alert and for its recovery (default 60)")
    parser.add_argument("--without-alertmanager", action="store_true",
                        help="drill: Prometheus evaluates alerts but no Alertmanager delivers them")
    parser.add_argument("--no-backup", action="store_true", help="skip the backup/restore drill (saves ~20 s)")
    parser.add_argument("--capacity", action="store_true",
                        help="also calibrate the memory model and run the load step test (~2 min)")
    parser.add_argument("--plan", default="1000000,200", metavar="VECTORS,QPS",
                        help="the capacity question: vectors and QPS to plan for (default 1000000,200)")
    for name in PORT_ENV:
        parser.add_argument(f"--{name}-port", type=int, default=_port(name),
                            help=f"{name} port on 127.0.0.1 (default ${PORT_ENV[name]}, else a free port)")


def check_arguments(args: argparse.Namespace) -> None:
    """Validate, and derive `incident_list`, `plan_vectors`, `plan_qps`; the tools must exist."""
    args.incident_list = [i.strip() for i in args.incidents.split(",") if i.strip()]
    unknown = [i for i in args.incident_list if i not in incidents.NAMES]
    if unknown or not args.incident_list:
        raise PrerequisiteError(f"unknown incident(s) {unknown or args.incidents!r}",
                                fix=f"--incidents takes a comma list of {', '.join(incidents.NAMES)}")
    if args.users < 1 or args.user_rps <= 0 or args.scale <= 0 or args.detect_timeout <= 0:
        raise PrerequisiteError("--users, --user-rps, --scale and --detect-timeout must be positive",
                                fix="e.g. --users 8 --user-rps 2 --scale 60 --detect-timeout 60")
    try:
        args.plan_vectors, args.plan_qps = (float(x) for x in args.plan.split(","))
    except ValueError:
        raise PrerequisiteError(f"--plan {args.plan!r} is not VECTORS,QPS", fix=PLAN_FIX) from None
    if args.plan_vectors < 2 or args.plan_qps <= 0:
        raise PrerequisiteError("--plan needs at least 2 vectors and a positive QPS", fix=PLAN_FIX)
    for name in PORT_ENV:
        if not 0 <= getattr(args, f"{name}_port") < 65536:
            raise PrerequisiteError(f"--{name}-port is not a port", fix=f"unset {PORT_ENV[name]} or pass 1-65535")
    for tool in ("prometheus", "promtool") + (() if args.without_alertmanager else ("alertmanager",)):
        tools.require(tool)
