"""Lab 03's load: users searching through the live route while blue and green trade places.

    locust -f loadtests/blue_green.py --host http://127.0.0.1:8080 --headless -u 20 -t 60s

The search user of `search_api.py`, with the release's expectations: only v1 or v2 may
answer (anything else is a failure), at 3.5 searches/s per user. Every knob of
`search_api.py` still applies (MILVUS_LAB_EXPECT_VERSIONS, MILVUS_LAB_USER_RPS, ...).
"""

from __future__ import annotations

import os

os.environ.setdefault("MILVUS_LAB_EXPECT_VERSIONS", "v1,v2")
os.environ.setdefault("MILVUS_LAB_USER_RPS", "3.5")

from search_api import SearchUser  # noqa: E402,F401  (Locust finds the user class here)
