"""Lab 04's own flags: the drills (one at a time) and the load; bad numbers refused up front."""

from __future__ import annotations

import argparse

from milvus_lab.abtest import drills
from milvus_lab.errors import PrerequisiteError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--aa`, `--inject-srm`, `--inject-regression` (mutually exclusive), `--users`, `--user-rps`."""
    drill = parser.add_mutually_exclusive_group()
    drill.add_argument("--aa", action="store_true", help="A/A test: both arms get A's configuration")
    drill.add_argument("--inject-srm", action="store_true",
                       help="an integration bug loses the assignment of half of B's users")
    drill.add_argument("--inject-regression", action="store_true",
                       help=f"B is {drills.REGRESSION_FAULT.delay_ms:g} ms slower and fails "
                            f"{drills.REGRESSION_FAULT.error_rate * 100:g}%% of its searches")
    parser.add_argument("--users", type=int, default=20, help="Locust users (default 20)")
    parser.add_argument("--user-rps", type=float, default=3.0, help="searches/s per Locust user (default 3)")


def check_arguments(args: argparse.Namespace) -> None:
    """Exit 2 with the accepted ranges, before anything starts."""
    if args.users < 1 or args.user_rps <= 0:
        raise PrerequisiteError(f"bad load: --users {args.users} --user-rps {args.user_rps}",
                                fix="--users >= 1 and --user-rps > 0 (e.g. --users 20 --user-rps 3)")
