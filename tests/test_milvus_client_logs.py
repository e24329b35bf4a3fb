"""pymilvus's background warnings reach a lab's console as one line, never as a traceback.

CI once failed a healthy lab 03 run on this: pymilvus 3 logged "Connection recovery failed"
with a full traceback after a gRPC GOAWAY it then recovered from; the lab exited 0.
"""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import logging
from milvus_lab.milvus.client import one_line_pymilvus_logs
one_line_pymilvus_logs()
one_line_pymilvus_logs()  # idempotent: one filter, one line
try:
    raise ConnectionError("Fail connecting to server on 127.0.0.1:1\\nsecond line")
except ConnectionError:
    logging.getLogger("pymilvus.client.connection_manager").warning("Connection recovery failed", exc_info=True)
logging.getLogger("pymilvus").warning("plain %s", "warning")
"""


def test_a_pymilvus_warning_with_an_exception_is_one_line() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr
    recovery = [line for line in lines if "Connection recovery failed" in line]
    assert len(recovery) == 1, lines
    assert "(ConnectionError: Fail connecting to server on 127.0.0.1:1)" in recovery[0]
    assert any("plain warning" in line for line in lines), lines
    assert "second line" not in proc.stderr
