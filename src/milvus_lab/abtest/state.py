"""What lab 04's steps hand to each other (a library class: lab scripts are loaded by path)."""

from __future__ import annotations

from dataclasses import dataclass, field

from milvus_lab.abtest.assignment import Experiment
from milvus_lab.abtest.design import Design, Plan
from milvus_lab.abtest.monitor import Monitor, Tick
from milvus_lab.abtest.records import Record
from milvus_lab.abtest.results import Results
from milvus_lab.abtest.setup import Stage


@dataclass
class State:
    design: Design = field(default_factory=Design)
    plan: Plan | None = None
    experiment: Experiment | None = None
    stage: Stage | None = None
    monitor: Monitor | None = None
    records: list[Record] = field(default_factory=list)
    last: Tick | None = None
    results: Results | None = None
