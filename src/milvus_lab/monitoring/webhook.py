"""The lab's alert receiver: a tiny HTTP server on 127.0.0.1 that appends every
Alertmanager webhook notification (one JSON line, with its arrival time) to a file.

In production the receiver is PagerDuty or a ticket queue; here the lab reads the file to
time "alert fired -> notification arrived".

    python -m milvus_lab.monitoring.webhook --port 9095 --out notifications.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from milvus_lab import processes
from milvus_lab.settings import Settings

NAME = "alert-webhook"


@dataclass(frozen=True)
class Notification:
    """One alert inside one webhook call (Alertmanager batches a group's alerts)."""

    received_at: float
    receiver_path: str  # /page, /ticket, /default: which route delivered it
    status: str  # firing | resolved (of this alert)
    alertname: str
    labels: dict[str, str]
    annotations: dict[str, str]


def _handler(out: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            record = {"received_at": time.time(), "path": self.path, "body": json.loads(body or b"{}")}
            with out.open("a") as f:
                f.write(json.dumps(record) + "\n")
            self.send_response(200)
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)  # readiness
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def serve(port: int, out: Path) -> None:
    ThreadingHTTPServer(("127.0.0.1", port), _handler(out)).serve_forever()


def notifications_file(settings: Settings) -> Path:
    return settings.state_dir / "monitoring" / "notifications.jsonl"


def read(path: Path) -> list[Notification]:
    """Every alert of every notification received so far, in arrival order."""
    found: list[Notification] = []
    if not path.is_file():
        return found
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        for alert in rec["body"].get("alerts", []):
            labels = alert.get("labels", {})
            found.append(Notification(rec["received_at"], rec["path"], alert.get("status", ""),
                                      labels.get("alertname", ""), labels, alert.get("annotations", {})))
    return found


def start(settings: Settings, port: int, timeout: float = 30.0) -> Path:
    """(Re)start the receiver with an empty notifications file; returns the file."""
    stop(settings)
    out = notifications_file(settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("")
    argv = processes.python_argv("-m", "milvus_lab.monitoring.webhook", "--port", str(port), "--out", str(out))
    rec = processes.start_process(settings, NAME, argv, port)

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    processes.wait_until(rec, up, timeout, "alert webhook receiver")
    return out


def stop(settings: Settings) -> bool:
    return processes.stop_process(settings, NAME)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m milvus_lab.monitoring.webhook")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    serve(args.port, args.out)


if __name__ == "__main__":
    main()
