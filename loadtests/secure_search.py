"""Load on the search API with an API key: every user sends `Authorization: Bearer <key>`.

    MILVUS_LAB_API_KEY_FILE=.milvus-lab/secrets/load-key locust -f loadtests/secure_search.py \
        --host http://127.0.0.1:8080

The key comes from a file (MILVUS_LAB_API_KEY_FILE, preferred: it never shows in `ps`) or
MILVUS_LAB_API_KEY; it is read once per process and never printed. Everything else (what
counts as a failure, the timeline) is `search_api.py`'s: a 401/403/429 is a failure.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import search_api as base  # noqa: E402 - the plain scenario, reused (module, not class: one User)


def _read_key() -> str:
    path = os.environ.get("MILVUS_LAB_API_KEY_FILE")
    key = Path(path).read_text().strip() if path else os.environ.get("MILVUS_LAB_API_KEY", "")
    if not key:
        sys.exit("secure_search.py: set MILVUS_LAB_API_KEY_FILE (a file holding the key) "
                 "or MILVUS_LAB_API_KEY")
    return key


AUTH = {"Authorization": f"Bearer {_read_key()}"}


class SecureSearchUser(base.SearchUser):
    """The plain search user, carrying the API key on every request."""

    def _user_header(self) -> dict[str, str]:
        return {**super()._user_header(), **AUTH}
