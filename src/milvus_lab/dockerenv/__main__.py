"""``python -m milvus_lab.dockerenv up|down|status|env|images``: the CI Docker Engine."""

from __future__ import annotations

import argparse
import sys
import time

from milvus_lab.dockerenv import engine
from milvus_lab.errors import LabError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m milvus_lab.dockerenv", description=__doc__)
    parser.add_argument("action", choices=("up", "down", "status", "env", "images"))
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            start = time.monotonic()
            p = engine.up(timeout=args.timeout)
            print(f"dockerenv: up in {time.monotonic() - start:.1f} s; {engine.status()}", file=sys.stderr)
            print(f"export DOCKER_HOST={p.docker_host}")
        elif args.action == "down":
            stopped = engine.down(timeout=args.timeout)
            print("dockerenv: stopped" if stopped else "dockerenv: was not running", file=sys.stderr)
        elif args.action == "env":
            print(f"export DOCKER_HOST={engine.paths().docker_host}")
        elif args.action == "images":
            from milvus_lab.dockerenv import images

            for line in images.build_all(engine.paths().docker_host):
                print(line)
        else:
            print(engine.status())
    except LabError as err:
        print(f"dockerenv: {err}", file=sys.stderr)
        return err.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
