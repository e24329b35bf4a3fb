"""How long the Docker path takes: engine start, image builds, Milvus container to healthy.

    python benchmarks/docker_engine.py [--starts 3]

Uses the private engine (``python -m milvus_lab.dockerenv up``; started here when not
running, and stopped again if it was started here). Image builds are timed as they are
(cold on an empty cache, warm when cached: run twice to see both). Then the Milvus 2.3.5
image (PyPI binary, NOT the official image) is started ``--starts`` times with host
networking on free ports, timing start -> /healthz 200, and stopped (docker stop) timing
the stop. Prints each figure; nothing is left running.
"""

from __future__ import annotations

import argparse
import statistics
import time

from milvus_lab.dockerenv import engine, images
from milvus_lab.processes import free_ports
from milvus_lab.testing.docker_fixtures import _free_block, wait_http


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()
    was_up = engine.answers(engine.paths().docker_host) is not None
    t = time.monotonic()
    host = engine.up().docker_host
    print(f"engine up: {time.monotonic() - t:.1f} s ({'reused' if was_up else 'started'})")
    try:
        for line in images.build_all(host):
            print(line)
        client = images.client(host)
        ready, stops = [], []
        for i in range(args.starts):
            port, metrics = free_ports(2)
            t = time.monotonic()
            c = client.containers.run(images.MILVUS_IMAGE, detach=True, network_mode="host",
                                      environment={"MILVUS_PORT": str(port), "MILVUS_METRICS_PORT": str(metrics),
                                                   "MILVUS_INTERNAL_PORT_BASE": str(_free_block(10))})
            try:
                wait_http(f"http://127.0.0.1:{metrics}/healthz", timeout=300, container=c)
                ready.append(time.monotonic() - t)
                t = time.monotonic()
                c.stop(timeout=30)
                stops.append(time.monotonic() - t)
            finally:
                c.remove(force=True, v=True)
            print(f"milvus container {i + 1}: healthy in {ready[-1]:.1f} s, stopped in {stops[-1]:.1f} s")
        print(f"milvus container: healthy median {statistics.median(ready):.1f} s, "
              f"stop median {statistics.median(stops):.1f} s over {args.starts} starts")
        client.close()
    finally:
        if not was_up:
            engine.down()
            print("engine stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
