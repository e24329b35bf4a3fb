"""Capacity planning: a Milvus memory sizing model calibrated on measured memory, and the QPS
at which the latency SLO breaks; together they answer "how many replicas and how much memory
for N vectors at Q QPS".

The pure part (unit-testable, no I/O):
- `index_bytes(n, dim, index)`: what the index structures hold in theory (faiss layouts,
  which Milvus's knowhere and Milvus Lite both use): raw float32 vectors, HNSW links
  (2M neighbours on level 0, M per upper level, 1/(M-1) upper levels per node on average),
  IVF ids and centroids, SQ8's one byte per dimension.
- `SizingModel`: memory = base + factor x (index bytes + scalar bytes), `fit_model` finds
  base (the process with nothing loaded) and factor (what the implementation adds on top
  of the theory: raw data kept beside the index, allocator slack) by least squares.
- `find_slo_break(steps, slo)`: the highest QPS that still met the latency SLO.
- `plan_capacity(...)`: replicas and memory for N vectors at Q QPS.

The measuring part (real processes): `measure_memory` starts a fresh Milvus Lite server per
collection size and reads its RSS from /proc (the server's pid comes from its process
record); `run_step_test` runs Locust (milvus_lab.load) at increasing user counts.
`calibrate` = measure + fit on all sizes but a held-out one + the error on that one.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from milvus_lab.milvus.client import quiet_pymilvus
from milvus_lab.milvus.collections import IndexSpec
from milvus_lab.processes import stat_fields
from milvus_lab.settings import Settings

Progress = Callable[[str, float], None]
MB = 1024 * 1024
#: bytes per row of the products schema's scalar fields (id, price, category, title, release)
PRODUCTS_SCALAR_BYTES = 8 + 4 + 10 + 28 + 2


def _noop(_msg: str, _frac: float) -> None:
    return None


# ---- the theory ---------------------------------------------------------------------------
def raw_vector_bytes(n: int, dim: int) -> int:
    """float32 vectors: 4 bytes per dimension."""
    return 4 * n * dim


def index_bytes(n: int, dim: int, index: IndexSpec) -> float:
    """Bytes an index of `n` x `dim` float32 vectors holds, from its data layout (faiss).

    FLAT: the vectors. HNSW(M): vectors + int32 links (2M on level 0, M on each upper level,
    1/(M-1) upper levels per node on average) + 12 bytes of level/offset bookkeeping.
    IVF_FLAT(nlist): vectors + an int64 id per row + nlist centroids. IVF_SQ8: one byte per
    dimension instead of four, + ids, centroids and the per-dimension min/max.
    """
    if n < 0 or dim < 1:
        raise ValueError(f"bad size n={n}, dim={dim}")
    raw = raw_vector_bytes(n, dim)
    kind = index.index_type
    if kind == "FLAT":
        return float(raw)
    if kind == "HNSW":
        m = int(index.build.get("M", 16))
        if m < 2:
            raise ValueError(f"HNSW M must be >= 2 (got {m})")
        links = 4.0 * (2 * m + m / (m - 1))
        return raw + n * (links + 12.0)
    nlist = int(index.build.get("nlist", 128))
    centroids = 4.0 * nlist * dim
    if kind == "IVF_FLAT":
        return raw + 8.0 * n + centroids
    if kind == "IVF_SQ8":
        return n * dim * 1.0 + 8.0 * n + centroids + 2 * 4.0 * dim
    raise ValueError(f"no sizing rule for index type {kind}")


def data_bytes(n: int, dim: int, index: IndexSpec, scalar_bytes_per_row: float) -> float:
    """Theoretical bytes of a loaded collection: the index plus the scalar fields."""
    return index_bytes(n, dim, index) + n * scalar_bytes_per_row


@dataclass(frozen=True)
class SizingModel:
    """memory(n) = base + factor x theoretical bytes, per replica (each replica loads a copy)."""

    base_bytes: float  # the server with nothing loaded
    factor: float  # measured bytes per theoretical byte
    scalar_bytes_per_row: float = PRODUCTS_SCALAR_BYTES
    calibrated_on: str = ""  # e.g. "Milvus Lite 3.2.2, HNSW(M=16), dim 128, n=5k..20k"

    def predict(self, n: int, dim: int, index: IndexSpec, replicas: int = 1) -> float:
        """Bytes for `n` x `dim` vectors with `index`, times `replicas`."""
        if replicas < 1:
            raise ValueError("replicas must be >= 1")
        return replicas * (self.base_bytes + self.factor * data_bytes(n, dim, index,
                                                                      self.scalar_bytes_per_row))

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def fit_model(points: Sequence[tuple[int, float]], dim: int, index: IndexSpec,
              scalar_bytes_per_row: float = PRODUCTS_SCALAR_BYTES,
              calibrated_on: str = "") -> SizingModel:
    """Least-squares fit of base and factor to measured `(n, bytes)` points (>= 2 sizes)."""
    if len({n for n, _ in points}) < 2:
        raise ValueError("need measurements at two or more collection sizes to fit")
    x = np.array([data_bytes(n, dim, index, scalar_bytes_per_row) for n, _ in points])
    y = np.array([float(b) for _, b in points])
    design = np.column_stack([np.ones_like(x), x])
    (base, factor), *_ = np.linalg.lstsq(design, y, rcond=None)
    return SizingModel(float(base), float(factor), scalar_bytes_per_row, calibrated_on)


def error_pct(predicted: float, measured: float) -> float:
    """Signed prediction error in percent of the measured value."""
    return 100.0 * (predicted - measured) / measured


# ---- measuring memory ---------------------------------------------------------------------
def process_tree_rss(pid: int) -> int:
    """Resident memory (bytes) of `pid` and all its descendants, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat_fields(stat)
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        todo.extend(children.get(p, []))
    if not seen or total == 0 and not Path(f"/proc/{pid}").exists():
        raise ProcessLookupError(f"no process {pid}")
    return total


def settled_rss(pid: int, timeout_s: float = 20.0, tolerance: float = 0.01,
                interval_s: float = 0.5) -> int:
    """RSS once two reads `interval_s` apart differ by less than `tolerance` (or at the
    deadline: the last read): freed buffers and lazy loads settle before we read."""
    deadline = time.monotonic() + timeout_s
    last = process_tree_rss(pid)
    while time.monotonic() < deadline:
        time.sleep(interval_s)
        now = process_tree_rss(pid)
        if abs(now - last) <= tolerance * max(last, 1):
            return now
        last = now
    return last


@dataclass(frozen=True)
class MemoryPoint:
    """One measurement: n x dim rows built on a fresh server, then served by a restarted one."""

    n: int
    dim: int
    index: str
    empty_bytes: int  # RSS of a fresh server before the collection existed
    after_build_bytes: int  # RSS of the server that ingested it (insert buffers not returned)
    loaded_bytes: int  # RSS of a restarted server with the collection loaded and searched
    build_s: float
    load_s: float


def _fresh_settings(home: Path) -> Settings:
    from milvus_lab import processes
    from milvus_lab.settings import Settings

    home.mkdir(parents=True, exist_ok=True)
    return Settings(repo_root=home.resolve(), home=home.resolve(), milvus_port=processes.free_port())


def measure_memory(sizes: Sequence[int], dim: int, index: IndexSpec, work_dir: Path, *,
                   searches: int = 20, progress: Progress | None = None) -> list[MemoryPoint]:
    """For each size: start a fresh Milvus Lite server (own data dir in `work_dir`, a free
    port), build a seeded collection of n x dim with `index`, stop it; start it again (what a
    query node does: load from storage, no ingest garbage), load, search, and read the
    server's settled RSS from /proc (pid from its process record); stop it.

    Output: one `MemoryPoint` per size. Real processes: ~3 s per 10k rows here.
    """
    report = progress or _noop
    points = []
    with quiet_pymilvus():
        for i, n in enumerate(sizes):
            points.append(_measure_one(i, n, len(sizes), dim, index, work_dir, searches, report))
    return points


def _measure_one(i: int, n: int, count: int, dim: int, index: IndexSpec, work_dir: Path,
                 searches: int, report: Progress) -> MemoryPoint:
    from pymilvus import MilvusClient

    from milvus_lab.milvus import server
    from milvus_lab.milvus.collections import ensure_collection
    from milvus_lab.milvus.datasets import DatasetSpec, generate

    def step(msg: str, part: float) -> None:
        report(f"{n:,} x {dim}: {msg}", (i + part) / count)

    settings = _fresh_settings(Path(work_dir) / f"size-{n}")
    step("generate data", 0.0)
    ds = generate(DatasetSpec(name=f"capacity-{n}", n=n, dim=dim, n_queries=searches, seed=11))
    step("start a fresh Milvus Lite", 0.1)
    endpoint = server.ensure_server(settings, timeout=90.0)
    try:
        assert endpoint.pid is not None
        empty = settled_rss(endpoint.pid)
        step("insert, index, load", 0.2)
        client = MilvusClient(uri=endpoint.uri, timeout=120)
        t0 = time.monotonic()
        ensure_collection(client, "capacity", ds, index, batch=5_000)
        build_s = time.monotonic() - t0
        after_build = settled_rss(endpoint.pid, timeout_s=5.0)
        client.close()
    finally:
        server.stop_server(settings)
    step("restart, load, search", 0.7)
    endpoint = server.ensure_server(settings, timeout=90.0)
    try:
        assert endpoint.pid is not None
        client = MilvusClient(uri=endpoint.uri, timeout=120)
        t0 = time.monotonic()
        client.load_collection("capacity")
        load_s = time.monotonic() - t0
        client.search("capacity", ds.queries.tolist(), limit=10, search_params=dict(index.search))
        loaded = settled_rss(endpoint.pid)
        client.close()
    finally:
        server.stop_server(settings)
    step(f"{loaded / MB:,.0f} MB loaded (after ingest: {after_build / MB:,.0f} MB)", 1.0)
    return MemoryPoint(n, dim, index.label(), empty, after_build, loaded,
                       round(build_s, 2), round(load_s, 2))


@dataclass(frozen=True)
class CalibrationRow:
    n: int
    measured_mb: float
    predicted_mb: float
    error_pct: float
    held_out: bool


@dataclass(frozen=True)
class Calibration:
    """A model fitted on some sizes and tested on the held-out ones."""

    model: SizingModel
    dim: int
    index: IndexSpec
    points: list[MemoryPoint]
    rows: list[CalibrationRow]

    @property
    def held_out_error_pct(self) -> float:
        """The largest |error| on the held-out sizes (the honest number)."""
        held = [abs(r.error_pct) for r in self.rows if r.held_out]
        return max(held) if held else float("nan")

    def summary(self) -> dict[str, object]:
        return {"model": self.model.to_dict(), "dim": self.dim, "index": self.index.label(),
                "rows": [asdict(r) for r in self.rows],
                "held_out_error_pct": round(self.held_out_error_pct, 2)}


def fit_and_test(points: Sequence[MemoryPoint], index: IndexSpec, held_out: Sequence[int],
                 scalar_bytes_per_row: float = PRODUCTS_SCALAR_BYTES,
                 calibrated_on: str = "") -> Calibration:
    """Fit on every measured size except `held_out`, then predict all of them (pure)."""
    if not points:
        raise ValueError("no measurements")
    dim = points[0].dim
    train = [(p.n, float(p.loaded_bytes)) for p in points if p.n not in held_out]
    model = fit_model(train, dim, index, scalar_bytes_per_row, calibrated_on)
    rows = []
    for p in points:
        pred = model.predict(p.n, dim, index)
        rows.append(CalibrationRow(p.n, round(p.loaded_bytes / MB, 1), round(pred / MB, 1),
                                   round(error_pct(pred, p.loaded_bytes), 2), p.n in held_out))
    return Calibration(model, dim, index, list(points), rows)


def calibrate(sizes: Sequence[int] = (5_000, 10_000, 20_000, 40_000), dim: int = 128,
              index: IndexSpec | None = None, held_out: Sequence[int] | None = None,
              work_dir: Path | None = None, progress: Progress | None = None) -> Calibration:
    """Measure the real Milvus Lite server's memory at `sizes` and fit the sizing model on all
    but `held_out` (default: the largest size, so the quoted error is an extrapolation).

    Output: a `Calibration` (model, per-size measured/predicted MB and error %).
    """
    import tempfile

    index = index or IndexSpec.hnsw()
    held = list(held_out) if held_out is not None else [max(sizes)]
    if len(set(sizes) - set(held)) < 2:
        raise ValueError("fit on at least two sizes besides the held-out ones")
    with contextlib.ExitStack() as stack:
        base = work_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="capacity-")))
        points = measure_memory(sorted(sizes), dim, index, Path(base), progress=progress)
    try:
        from importlib.metadata import version

        engine = f"Milvus Lite {version('milvus-lite')}"
    except Exception:
        engine = "Milvus Lite"
    train = ", ".join(f"{n // 1000}k" for n in sorted(sizes) if n not in held)
    return fit_and_test(points, index, held, calibrated_on=f"{engine}, {index.label()}, dim {dim}, "
                                                           f"n={train}")


# ---- load step test -----------------------------------------------------------------------
@dataclass(frozen=True)
class StepMeasurement:
    """One load step at a fixed number of users, measured after its warm-up."""

    users: int
    offered_rps: float  # users x per-user rate (0 = closed loop, as fast as answers come)
    achieved_rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    failure_ratio: float
    requests: int


@dataclass(frozen=True)
class Slo:
    """The latency SLO the step test holds the service to."""

    p95_ms: float = 250.0
    max_failure_ratio: float = 0.01


@dataclass(frozen=True)
class SloBreak:
    """Where the SLO broke: the best passing step and the first failing one."""

    sustainable_qps: float  # achieved QPS of the best step that met the SLO (0: none did)
    sustainable_users: int
    breaking_users: int | None  # first step that missed it (None: never broke)
    breaking_qps: float | None
    reason: str  # why the breaking step failed, or "" when it never broke


def meets(step: StepMeasurement, slo: Slo) -> tuple[bool, str]:
    """(ok, reason): p95 under the SLO and failures under the budget."""
    if step.requests == 0 or step.p95_ms is None:
        return False, "no request was answered"
    if step.failure_ratio > slo.max_failure_ratio:
        return False, f"failure ratio {step.failure_ratio:.1%} > {slo.max_failure_ratio:.1%}"
    if step.p95_ms > slo.p95_ms:
        return False, f"p95 {step.p95_ms:.0f} ms > {slo.p95_ms:.0f} ms"
    return True, ""


def find_slo_break(steps: Sequence[StepMeasurement], slo: Slo) -> SloBreak:
    """Walk the steps in order of users: the last one meeting the SLO before the first that
    misses it gives the sustainable QPS (pure)."""
    best: StepMeasurement | None = None
    for step in sorted(steps, key=lambda s: s.users):
        ok, reason = meets(step, slo)
        if not ok:
            return SloBreak(best.achieved_rps if best else 0.0, best.users if best else 0,
                            step.users, step.achieved_rps, reason)
        best = step
    return SloBreak(best.achieved_rps if best else 0.0, best.users if best else 0, None, None, "")


@dataclass(frozen=True)
class StepTest:
    steps: list[StepMeasurement]
    slo: Slo
    result: SloBreak

    def summary(self) -> dict[str, object]:
        return {"slo": asdict(self.slo), "steps": [asdict(s) for s in self.steps],
                "result": asdict(self.result)}


def run_step_test(host: str, users_steps: Sequence[int], step_s: float, out_dir: Path, *,
                  slo: Slo | None = None, user_rps: float = 0.0, warmup_s: float = 2.0,
                  locustfile: str | os.PathLike[str] | None = None,
                  env: Mapping[str, str] | None = None, stop_at_break: bool = True,
                  progress: Progress | None = None) -> StepTest:
    """Real Locust (subprocess, `milvus_lab.load.start_locust`) at each user count for `step_s`
    seconds against `host`; each step is measured after `warmup_s`. `user_rps` per user
    (0: closed loop, every user sends as fast as it is answered: finds the ceiling fastest).

    Output: a `StepTest` with per-step QPS/latency and where the SLO broke. `env` passes the
    locustfile's knobs (MILVUS_LAB_DATASET_DIR, ...). Stops after the first breaking step
    unless `stop_at_break=False`.
    """
    from milvus_lab.load import locustfile as scenario
    from milvus_lab.load import start_locust

    report = progress or _noop
    slo = slo or Slo()
    path = Path(locustfile) if locustfile else scenario("search_api")
    steps: list[StepMeasurement] = []
    for i, users in enumerate(users_steps):
        report(f"step {i + 1}/{len(users_steps)}: {users} users", i / len(users_steps))
        step_env = {**(env or {}), "MILVUS_LAB_USER_RPS": f"{user_rps:g}"}
        # no --run-time: Locust starts that clock before its (slow, on a busy box) start-up,
        # so a short step could end before its first request; we time the step ourselves
        run = start_locust(path, host, users=users, spawn_rate=max(users, 1), run_time_s=None,
                           out_dir=Path(out_dir) / f"step-{i:02d}-{users}u", env=step_env)
        try:
            end = time.monotonic() + step_s
            while run.running and time.monotonic() < end:
                time.sleep(0.1)
        finally:
            run.stop()
        res = run.result()
        window = res.window(res.start + warmup_s, res.end + 1, f"{users} users")
        steps.append(StepMeasurement(users, users * user_rps, round(window.rps, 2), window.p50_ms,
                                     window.p95_ms, window.p99_ms, round(window.failure_ratio, 4),
                                     window.requests))
        ok, why = meets(steps[-1], slo)
        report(f"{users} users: {window.rps:.1f} QPS, p95 {window.p95_ms} ms"
               + ("" if ok else f" (SLO broken: {why})"), (i + 1) / len(users_steps))
        if not ok and stop_at_break:
            break
    return StepTest(steps, slo, find_slo_break(steps, slo))


# ---- the answer ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CapacityPlan:
    """How many replicas and how much memory for N vectors at Q QPS."""

    n_vectors: int
    dim: int
    index: str
    target_qps: float
    qps_per_replica: float  # at n_vectors, after scaling from the measured size
    replicas: int
    memory_per_replica_bytes: float
    total_memory_bytes: float
    headroom: float
    assumptions: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        out = asdict(self)
        out["memory_per_replica_gib"] = round(self.memory_per_replica_bytes / 1024**3, 2)
        out["total_memory_gib"] = round(self.total_memory_bytes / 1024**3, 2)
        return out


def search_cost_ratio(index: IndexSpec, n_measured: int, n_target: int) -> float:
    """How much more work one search does at `n_target` than at `n_measured`: HNSW ~ log n
    (graph hops), FLAT and IVF with fixed nlist/nprobe ~ n (vectors scanned)."""
    if n_measured < 2 or n_target < 2:
        raise ValueError("sizes must be >= 2")
    if index.index_type == "HNSW":
        return math.log(n_target) / math.log(n_measured)
    return n_target / n_measured


def plan_capacity(n_vectors: int, dim: int, target_qps: float, model: SizingModel,
                  measured_qps_per_replica: float, measured_n: int,
                  index: IndexSpec | None = None, headroom: float = 0.7) -> CapacityPlan:
    """Replicas = ceil(target QPS / (QPS one replica sustains at n_vectors x headroom)); memory =
    the sizing model per replica x replicas.

    Inputs: the calibrated `model`; the sustainable QPS of one replica measured by the step
    test on a collection of `measured_n` rows (scaled to n_vectors by `search_cost_ratio`);
    `headroom` the fraction of that capacity you plan to use (0.7 leaves room for a replica
    to fail or a burst). Output: a `CapacityPlan` with its assumptions spelled out.
    """
    index = index or IndexSpec.hnsw()
    if measured_qps_per_replica <= 0:
        raise ValueError("the step test found no sustainable QPS: nothing to plan with")
    if not 0 < headroom <= 1:
        raise ValueError("headroom must be in (0, 1]")
    ratio = search_cost_ratio(index, measured_n, n_vectors)
    qps = measured_qps_per_replica / ratio
    replicas = max(1, math.ceil(target_qps / (qps * headroom)))
    per = model.predict(n_vectors, dim, index)
    return CapacityPlan(
        n_vectors, dim, index.label(), target_qps, round(qps, 2), replicas, per, per * replicas,
        headroom,
        assumptions=[
            f"memory model calibrated on {model.calibrated_on or 'the measured sizes'}: "
            f"base {model.base_bytes / MB:.0f} MB + {model.factor:.2f} x theoretical bytes",
            f"QPS per replica {measured_qps_per_replica:.1f} measured at {measured_n:,} rows, "
            f"divided by {ratio:.2f} for {n_vectors:,} rows ({index.index_type} search cost)",
            f"plan at {headroom:.0%} of sustainable QPS; every replica holds a full copy",
        ])


# ---- plot ---------------------------------------------------------------------------------
def plot_calibration(calibration: Calibration, path: Path,
                     extrapolate_to: int | None = None) -> Path:
    """Measured RSS vs the fitted model (line), held-out sizes marked, error % annotated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cal = calibration
    ns = [r.n for r in cal.rows]
    top = max(extrapolate_to or 0, max(ns))
    grid = np.linspace(0, top * 1.05, 100)
    line = [cal.model.predict(int(n), cal.dim, cal.index) / MB for n in grid]
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(grid / 1000, line, color="grey", lw=1.5,
            label=f"model: {cal.model.base_bytes / MB:.0f} MB + {cal.model.factor:.2f} x theory")
    theory = [(cal.model.base_bytes + data_bytes(int(n), cal.dim, cal.index,
                                                 cal.model.scalar_bytes_per_row)) / MB for n in grid]
    ax.plot(grid / 1000, theory, color="grey", ls="--", lw=1,
            label="base + theoretical bytes (factor 1: the index layout alone)")
    for r in cal.rows:
        style = {"marker": "D", "color": "red", "s": 60} if r.held_out else {"marker": "o", "color": "C0", "s": 45}
        ax.scatter(r.n / 1000, r.measured_mb, zorder=3, **style)
        ax.annotate(f"{r.error_pct:+.1f}%", (r.n / 1000, r.measured_mb), textcoords="offset points",
                    xytext=(6, -12), fontsize=9, color=style["color"])
    ax.scatter([], [], marker="o", color="C0", label="measured (fit)")
    ax.scatter([], [], marker="D", color="red",
               label=f"measured (held out): error {cal.held_out_error_pct:.1f}%")
    ax.set_xlabel(f"rows (thousands) x dim {cal.dim}, {cal.index.label()}")
    ax.set_ylabel("Milvus process RSS (MB)")
    ax.set_title("Milvus memory sizing model vs measured RSS")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def format_table(calibration: Calibration) -> str:
    """The calibration as a plain-text table (sizes, measured MB, predicted MB, error %)."""
    lines = [f"{'rows':>8} {'measured MB':>12} {'predicted MB':>13} {'error %':>8}  set"]
    for r in calibration.rows:
        lines.append(f"{r.n:>8,} {r.measured_mb:>12.1f} {r.predicted_mb:>13.1f} "
                     f"{r.error_pct:>+8.2f}  {'held out' if r.held_out else 'fit'}")
    return "\n".join(lines)
