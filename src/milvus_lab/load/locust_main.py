"""Entry point of the Locust subprocess: `python -m milvus_lab.load.locust_main <locust args>`.

Installs the timeline recorder before Locust loads the locustfile, so every run started by
the runner records a timeline, even with a locustfile that does not call `install()`.
Importing locust first lets it gevent-patch the process before anything else loads.

Locust runs in its own session (a learner's Ctrl-C is the lab's to handle), so nothing
would stop it if the lab that started it died without stopping it (kill -9, or a Ctrl-C
that lands while `Popen` is still starting it). It watches its parent instead and stops,
writing its stats, when the parent is gone.
"""

from __future__ import annotations

import os
import signal
import sys

PARENT_ENV = "MILVUS_LAB_LOCUST_PARENT"  # pid of the process that owns this run
PARENT_CHECK_S = 1.0
FORCED_EXIT_AFTER_S = 20.0  # Locust's own stop (--stop-timeout 2) plus writing its stats


def _stop_when_orphaned(parent: int) -> None:
    """Poll (as a greenlet) until the owner is gone, then stop like `LocustRun.stop` would."""
    import gevent

    while os.getppid() == parent:
        gevent.sleep(PARENT_CHECK_S)
    print(f"milvus-lab: the process that started this load test (pid {parent}) is gone; stopping",
          file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
    gevent.sleep(FORCED_EXIT_AFTER_S)
    os._exit(1)


def main() -> None:
    import gevent
    import locust  # noqa: F401  (monkey-patches the process with gevent; must come first)
    from locust.main import main as locust_main

    from milvus_lab.load.listener import install

    parent = os.environ.get(PARENT_ENV, "")
    if parent.isdigit():
        gevent.spawn(_stop_when_orphaned, int(parent))
    install()
    sys.argv[0] = "locust"
    locust_main()


if __name__ == "__main__":
    main()
