"""Lab 03's own flags and their check: bad numbers are refused before anything starts."""

from __future__ import annotations

import argparse

from milvus_lab.bluegreen import faults
from milvus_lab.errors import PrerequisiteError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The drills (`--inject-fault`, `--rollback`) and the load and timing knobs."""
    parser.add_argument("--inject-fault", choices=faults.FAULTS, default=None,
                        help="recall: a bad candidate the gate must stop; errors: a bad API release "
                             "live analysis must roll back")
    parser.add_argument("--rollback", action="store_true",
                        help="after promotion, roll back by hand (timed) while blue is still warm")
    parser.add_argument("--users", type=int, default=20, help="Locust users (default 20)")
    parser.add_argument("--user-rps", type=float, default=3.5, help="searches/s per user (default 3.5)")
    parser.add_argument("--analysis-seconds", type=float, default=12.0,
                        help="post-promotion analysis window (default 12)")
    parser.add_argument("--scale-down-delay", type=float, default=5.0,
                        help="seconds blue stays warm after the switch (default 5)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild half-built collections")


def check_arguments(args: argparse.Namespace) -> None:
    """Exit 2 with the accepted ranges, before anything starts."""
    if args.users < 1 or args.user_rps <= 0 or args.analysis_seconds <= 0 or args.scale_down_delay < 0:
        raise PrerequisiteError(
            f"bad load or timing flags: --users {args.users}, --user-rps {args.user_rps}, "
            f"--analysis-seconds {args.analysis_seconds}, --scale-down-delay {args.scale_down_delay}",
            fix="--users >= 1, --user-rps > 0, --analysis-seconds > 0, --scale-down-delay >= 0")
