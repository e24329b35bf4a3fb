"""Entry point of the Locust subprocess: `python -m milvus_lab.load.locust_main <locust args>`.

Installs the timeline recorder before Locust loads the locustfile, so every run started by
the runner records a timeline, even with a locustfile that does not call `install()`.
Importing locust first lets it gevent-patch the process before anything else loads.
"""

from __future__ import annotations

import sys


def main() -> None:
    import locust  # noqa: F401  (monkey-patches the process with gevent; must come first)
    from locust.main import main as locust_main

    from milvus_lab.load.listener import install

    install()
    sys.argv[0] = "locust"
    locust_main()


if __name__ == "__main__":
    main()
