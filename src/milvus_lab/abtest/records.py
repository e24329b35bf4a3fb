"""What each request of the experiment saw, as the load generator logged it (JSON lines).

The locustfile (`loadtests/ab_testing.py`) writes one line per search: who asked (user
id), which variant answered (the `X-Variant` header), status, latency, which query and
which ids came back. The lab derives the outcomes from the ids and the exact ground truth:
recall@k, and the simulated user outcome "success" = the exact nearest product is among
the top 3 results. Better recall therefore really produces more successes.

Line format: {"t": 1700000000.1, "user": "u-1-7", "variant": "B", "status": 200,
              "latency_ms": 12.3, "q": 17, "ids": [5, 9, ...], "error": null}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from milvus_lab.load.tail import LineTail

RECORDS_ENV = "MILVUS_LAB_AB_RECORDS"
SUCCESS_TOP = 3  # the user looks at the first three results


@dataclass(frozen=True)
class Record:
    t: float
    user: str
    variant: str  # "" = not in the experiment (no X-Variant header)
    status: int
    latency_ms: float
    q: int
    ids: tuple[int, ...]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.ids)

    @classmethod
    def from_line(cls, row: dict) -> Record:
        return cls(float(row["t"]), str(row.get("user") or ""), str(row.get("variant") or ""),
                   int(row.get("status") or 0), float(row.get("latency_ms") or 0.0),
                   int(row.get("q", -1)), tuple(int(i) for i in row.get("ids") or ()),
                   row.get("error"))

    def to_line(self) -> str:
        return json.dumps({"t": round(self.t, 4), "user": self.user, "variant": self.variant,
                           "status": self.status, "latency_ms": round(self.latency_ms, 3),
                           "q": self.q, "ids": list(self.ids), "error": self.error},
                          separators=(",", ":"))


class RecordReader:
    """Reads the growing JSONL file incrementally (complete lines only), from any process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[Record] = []
        self._tail = LineTail(path)

    def poll(self) -> list[Record]:
        for line in self._tail.new_lines():
            try:
                self.records.append(Record.from_line(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                continue  # a torn line from a killed writer
        return self.records


def read_records(path: Path) -> list[Record]:
    return RecordReader(path).poll()


@dataclass(frozen=True)
class Outcome:
    """The per-request metrics of one record."""

    success: bool
    recall: float


def outcome(record: Record, ground_truth: np.ndarray, k: int = 10) -> Outcome:
    """Success (exact top-1 in the first 3 results) and recall@k against the exact truth.

    A failed request is a failure for the user too: no success, recall 0.
    """
    if not record.ok or not 0 <= record.q < len(ground_truth):
        return Outcome(False, 0.0)
    truth = ground_truth[record.q]
    found = set(record.ids[:k])
    return Outcome(int(truth[0]) in record.ids[:SUCCESS_TOP],
                   len(found & set(truth[:k].tolist())) / k)
