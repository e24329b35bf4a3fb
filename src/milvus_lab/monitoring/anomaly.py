"""Anomaly detection on QPS and latency series: seasonal decomposition + robust z-score.

Alerts answer "is the SLO burning?"; anomaly detection answers "does this series look unlike
itself?", which also catches what no rule was written for (a QPS drop, a slow creep). The
method is the textbook one: remove what is expected (trend and, when the traffic has a known
cycle, its season) with statsmodels' robust STL, then score each residual by a robust
z-score (median and MAD, so the incidents themselves do not inflate the scale that judges
them). Points beyond a threshold become flagged intervals, and `evaluate` compares them with
the incidents the lab injected: event-level precision and recall with a time tolerance.

Input series are what Prometheus's HTTP API returns for a range query: a list of
`(unix_time, value)` pairs (values may be strings such as "NaN"); `parse_prometheus` turns a
`/api/v1/query_range` response into that.

Entry points (all pure functions, no I/O except `plot_detections`):
- `detect(series, ...) -> Detection`
- `evaluate(flagged, incidents, tolerance_s) -> Evaluation`
- `union(intervals)`, `parse_prometheus(payload)`, `synthetic_series(...)`
- `plot_detections(detections, incidents, path) -> Path`
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

Point = tuple[float, float]
Interval = tuple[float, float]
Direction = Literal["both", "up", "down"]
Progress = Callable[[str, float], None]

# The series lab 06 reads back from Prometheus and scores: (name, PromQL, direction).
LAB_SERIES: tuple[tuple[str, str, Direction], ...] = (
    ("QPS", 'sum(rate(search_api_requests_total{endpoint="/search"}[5s]))', "both"),
    ("p95 latency (s)",
     "histogram_quantile(0.95, sum by (le) (rate(search_api_request_duration_seconds_bucket[5s])))", "up"),
    ("5xx per second",
     'sum(rate(search_api_requests_total{endpoint="/search",status=~"5.."}[5s])) or vector(0)', "up"),
)
MAD_TO_SIGMA = 1.4826  # MAD * this estimates the standard deviation of normal noise
MIN_POINTS = 8


@dataclass(frozen=True)
class Detection:
    """One series scored: the regular grid, the expected values, scores and flagged intervals."""

    name: str
    times: np.ndarray  # unix seconds, regular grid
    values: np.ndarray  # the series on that grid (gaps interpolated)
    baseline: np.ndarray  # what the decomposition expected (trend + season)
    scores: np.ndarray  # robust z-score of the residual (signed)
    threshold: float
    direction: Direction
    method: str  # "STL(period=..)" or "rolling median(..)"
    flagged: list[Interval] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """JSON-ready: method, threshold, max |score| and the flagged intervals."""
        return {"name": self.name, "method": self.method, "threshold": self.threshold,
                "direction": self.direction, "points": int(len(self.times)),
                "max_abs_score": round(float(np.max(np.abs(self.scores))), 2),
                "flagged": [[round(a, 3), round(b, 3)] for a, b in self.flagged]}


@dataclass(frozen=True)
class Evaluation:
    """Event-level comparison of flagged intervals with the incidents that really happened.

    precision = flagged intervals that overlap an incident (widened by the tolerance) /
    flagged intervals (1.0 when nothing was flagged); recall = incidents overlapped by at
    least one flagged interval / incidents (1.0 when there were none).
    """

    precision: float
    recall: float
    true_positives: int  # flagged intervals that match an incident
    false_positives: int  # flagged intervals that match none (false alarms)
    detected: list[bool]  # per incident, in the order given
    delays_s: list[float | None]  # per incident: first matching flag start - incident start

    def summary(self) -> dict[str, object]:
        return {"precision": round(self.precision, 3), "recall": round(self.recall, 3),
                "true_positives": self.true_positives, "false_positives": self.false_positives,
                "detected": self.detected,
                "delays_s": [None if d is None else round(d, 1) for d in self.delays_s]}


# ---- input -------------------------------------------------------------------------------
def parse_prometheus(payload: Mapping[str, object] | Sequence[Mapping[str, object]]) -> list[Point]:
    """`(t, value)` pairs from a Prometheus `/api/v1/query_range` response (the whole JSON,
    its `data.result` list, or one series). Exactly one series is expected: aggregate in
    PromQL (`sum(rate(...))`, `histogram_quantile(0.95, sum by (le) (...))`)."""
    result: object = payload
    if isinstance(result, Mapping) and "data" in result:
        result = result["data"]
    if isinstance(result, Mapping) and "result" in result:
        result = result["result"]
    if isinstance(result, Mapping):
        result = [result]
    if not isinstance(result, Sequence) or len(result) != 1:
        count = len(result) if isinstance(result, Sequence) else "?"
        raise ValueError(f"expected exactly one series in the Prometheus response, got {count}: "
                         "aggregate in PromQL, e.g. sum(rate(x[1m])) or histogram_quantile(...)")
    series = result[0]
    values = series.get("values") if isinstance(series, Mapping) else None
    if not isinstance(values, Sequence):
        raise ValueError("the series has no `values`: use a range query (/api/v1/query_range)")
    return [(float(t), float(v)) for t, v in values]


def regularize(series: Iterable[Point], step_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sort, drop duplicate times, put on a regular grid and fill gaps/NaN by interpolation.

    The step defaults to the median spacing (Prometheus range queries already are regular;
    this makes hand-made or gappy series safe for the decomposition).
    """
    pts = sorted((float(t), float(v)) for t, v in series)
    if len(pts) < MIN_POINTS:
        raise ValueError(f"{len(pts)} points: need at least {MIN_POINTS} to score a series "
                         "(query a longer range or a smaller step)")
    t = np.array([p[0] for p in pts])
    v = np.array([p[1] for p in pts])
    keep = np.concatenate([[True], np.diff(t) > 0])
    t, v = t[keep], v[keep]
    finite = np.isfinite(v)
    if finite.sum() < MIN_POINTS:
        raise ValueError(f"only {int(finite.sum())} finite values (the rest NaN/Inf): "
                         "nothing to score; is the metric being scraped?")
    step = float(step_s) if step_s else float(np.median(np.diff(t)))
    if step <= 0:
        raise ValueError(f"step must be > 0 (got {step})")
    grid = t[0] + step * np.arange(int(math.floor((t[-1] - t[0]) / step + 1e-9)) + 1)
    return grid, np.interp(grid, t[finite], v[finite])


# ---- scoring -----------------------------------------------------------------------------
def robust_z(residual: np.ndarray) -> np.ndarray:
    """(x - median) / (1.4826 * MAD): a z-score that the outliers themselves cannot inflate.

    A series with MAD 0 (flat most of the time) falls back to the mean absolute deviation,
    then to 1e-9 of the median level, so a single jump still scores as huge rather than NaN.
    """
    med = float(np.median(residual))
    dev = np.abs(residual - med)
    scale = MAD_TO_SIGMA * float(np.median(dev))
    if scale <= 0:
        scale = 1.2533 * float(np.mean(dev))  # mean abs deviation -> sigma for normal noise
    if scale <= 0:
        scale = max(1e-9, 1e-9 * abs(med))
    return (residual - med) / scale


def _odd(n: float, minimum: int = 3) -> int:
    k = max(minimum, int(round(n)))
    return k if k % 2 else k + 1


def rolling_median(values: np.ndarray, window: int) -> np.ndarray:
    """Centred running median (edges padded with the edge value): a robust trend."""
    window = _odd(min(window, len(values) - (1 - len(values) % 2)))
    half = window // 2
    padded = np.pad(values, half, mode="edge")
    view = np.lib.stride_tricks.sliding_window_view(padded, window)
    return np.median(view, axis=1)


def decompose(values: np.ndarray, step_s: float, period_s: float | None,
              trend_s: float) -> tuple[np.ndarray, str]:
    """Expected values: robust STL (trend + season) when the period fits twice in the data,
    else a running median over `trend_s` (short lab runs have no season to remove)."""
    n = len(values)
    trend_pts = _odd(trend_s / step_s)
    if period_s:
        period = int(round(period_s / step_s))
        if period >= 2 and n >= 2 * period + 1:
            from statsmodels.tsa.seasonal import STL

            trend = max(trend_pts, _odd(period + 1))
            fit = STL(values, period=period, trend=trend, robust=True).fit()
            return np.asarray(fit.trend + fit.seasonal), f"STL(period={period}, trend={trend}, robust)"
    return rolling_median(values, trend_pts), f"rolling median({min(trend_pts, n)} points)"


def flag(times: np.ndarray, scores: np.ndarray, threshold: float, direction: Direction = "both",
         min_points: int = 2, merge_gap_s: float | None = None) -> list[Interval]:
    """Runs of points beyond the threshold as `(start, end)` intervals.

    Runs closer than `merge_gap_s` (default: 2 steps) are merged; runs shorter than
    `min_points` are dropped (one noisy scrape is not an incident).
    """
    if direction == "up":
        hot = scores > threshold
    elif direction == "down":
        hot = scores < -threshold
    else:
        hot = np.abs(scores) > threshold
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    gap = 2 * step if merge_gap_s is None else merge_gap_s
    runs: list[list[float]] = []  # [start, end, count]
    for t, h in zip(times, hot, strict=True):
        if not h:
            continue
        if runs and t - runs[-1][1] <= gap + 1e-9:
            runs[-1][1] = float(t)
            runs[-1][2] += 1
        else:
            runs.append([float(t), float(t), 1])
    return [(a, b + step) for a, b, c in runs if c >= min_points]


def detect(series: Iterable[Point], *, name: str = "series", threshold: float = 4.0,
           direction: Direction = "both", period_s: float | None = None, trend_s: float = 120.0,
           step_s: float | None = None, min_points: int = 2, merge_gap_s: float | None = None,
           progress: Progress | None = None) -> Detection:
    """Score a series and flag its anomalous intervals.

    Inputs: `series` as (unix_time, value) pairs (`parse_prometheus` makes them from a range
    query); `threshold` on |robust z| (4 is about 1 false point in 16,000 for normal noise);
    `direction` "up" for latency (only slower is bad), "both" for QPS; `period_s` the traffic
    cycle to remove with STL (None: no season, running-median trend); `trend_s` how slow a
    change counts as normal (longer than the incidents you want to catch).
    Output: a `Detection` (grid, baseline, scores, flagged intervals as (start, end) times).
    Raises ValueError for a series too short or without finite values.
    """
    report = progress or (lambda _msg, _frac: None)
    report(f"{name}: regularise", 0.0)
    times, values = regularize(series, step_s)
    step = float(times[1] - times[0]) if len(times) > 1 else 1.0
    report(f"{name}: decompose", 0.3)
    baseline, method = decompose(values, step, period_s, trend_s)
    report(f"{name}: score", 0.7)
    scores = robust_z(values - baseline)
    flagged = flag(times, scores, threshold, direction, min_points, merge_gap_s)
    report(f"{name}: {len(flagged)} interval(s) flagged", 1.0)
    return Detection(name, times, values, baseline, scores, threshold, direction, method, flagged)


# ---- evaluation --------------------------------------------------------------------------
def union(intervals: Iterable[Interval], gap_s: float = 0.0) -> list[Interval]:
    """Merge overlapping intervals (and those closer than `gap_s`), e.g. the flags of the QPS
    and latency detectors into one list of alarms."""
    merged: list[list[float]] = []
    for a, b in sorted((float(a), float(b)) for a, b in intervals):
        if merged and a <= merged[-1][1] + gap_s:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _overlaps(a: Interval, b: Interval) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def evaluate(flagged: Sequence[Interval], incidents: Sequence[Interval],
             tolerance_s: float = 30.0) -> Evaluation:
    """Event-level precision and recall of flagged intervals against incident intervals.

    Each incident is widened by `tolerance_s` on both sides before matching: rate windows and
    scrape intervals make a metric react late and recover late, and that is not a false
    alarm. Inputs are `(start, end)` unix times; output is an `Evaluation`.
    """
    if tolerance_s < 0:
        raise ValueError("tolerance_s must be >= 0")
    wide = [(a - tolerance_s, b + tolerance_s) for a, b in incidents]
    tp = sum(1 for f in flagged if any(_overlaps(f, w) for w in wide))
    detected: list[bool] = []
    delays: list[float | None] = []
    for (start, _end), w in zip(incidents, wide, strict=True):
        hits = [f for f in flagged if _overlaps(f, w)]
        detected.append(bool(hits))
        delays.append(max(0.0, min(f[0] for f in hits) - start) if hits else None)
    precision = tp / len(flagged) if flagged else 1.0
    recall = sum(detected) / len(incidents) if incidents else 1.0
    return Evaluation(precision, recall, tp, len(flagged) - tp, detected, delays)


def score_against(detections: Sequence[Detection], incidents: Sequence[Interval], gap_s: float = 5.0,
                  tolerance_s: float = 15.0) -> Evaluation:
    """All detectors' flags as one alarm list (merged within `gap_s`), scored against the incidents."""
    flagged = union([iv for d in detections for iv in d.flagged], gap_s=gap_s)
    return evaluate(flagged, incidents, tolerance_s=tolerance_s)


# ---- synthetic data (tests, demos, the exercise) -----------------------------------------
def synthetic_series(duration_s: float = 3600.0, step_s: float = 15.0, level: float = 100.0,
                     noise: float = 3.0, period_s: float | None = 600.0, amplitude: float = 20.0,
                     incidents: Sequence[tuple[float, float, float]] = (), start: float = 0.0,
                     seed: int = 0) -> list[Point]:
    """A seasonal series with Gaussian noise and additive incidents `(start_offset_s,
    duration_s, delta)` (delta < 0 for a drop). Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, duration_s, step_s)
    v = level + noise * rng.normal(size=len(t))
    if period_s:
        v += amplitude * np.sin(2 * np.pi * t / period_s)
    for off, dur, delta in incidents:
        v[(t >= off) & (t < off + dur)] += delta
    return [(start + float(a), float(b)) for a, b in zip(t, v, strict=True)]


# ---- plot --------------------------------------------------------------------------------
def plot_detections(detections: Sequence[Detection], incidents: Sequence[Interval], path: Path,
                    incident_labels: Sequence[str] | None = None,
                    title: str = "Anomaly scores with the injected incidents") -> Path:
    """Per series: values + baseline on top, robust z-score below with the threshold; the
    incidents shaded red and the flagged intervals marked orange. Writes a PNG, returns it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not detections:
        raise ValueError("nothing to plot")
    t0 = min(float(d.times[0]) for d in detections)
    fig, axes = plt.subplots(2 * len(detections), 1, figsize=(11, 3.2 * len(detections)),
                             sharex=True, squeeze=False)
    for i, det in enumerate(detections):
        top, bottom = axes[2 * i][0], axes[2 * i + 1][0]
        x = det.times - t0
        top.plot(x, det.values, lw=1, label=det.name)
        top.plot(x, det.baseline, lw=1, ls="--", color="grey", label=f"expected ({det.method})")
        top.set_ylabel(det.name)
        bottom.plot(x, det.scores, lw=1, color="black", label="robust z")
        if det.direction in ("both", "up"):
            bottom.axhline(det.threshold, color="orange", ls=":", lw=1)
        if det.direction in ("both", "down"):
            bottom.axhline(-det.threshold, color="orange", ls=":", lw=1)
        bottom.set_ylabel("score")
        for ax in (top, bottom):
            for j, (a, b) in enumerate(incidents):
                lab = None
                if ax is top and i == 0 and j == 0:
                    lab = "injected incident"
                ax.axvspan(a - t0, b - t0, color="red", alpha=0.15, label=lab)
                if ax is top and incident_labels and j < len(incident_labels):
                    ax.text(a - t0, 1.0, incident_labels[j], transform=ax.get_xaxis_transform(),
                            fontsize=8, va="bottom", color="darkred")
        for k, (a, b) in enumerate(det.flagged):
            bottom.axvspan(a - t0, b - t0, ymin=0.0, ymax=0.08, color="orange",
                           label="flagged" if k == 0 else None)
        top.legend(loc="upper right", fontsize=8)
        bottom.legend(loc="upper right", fontsize=8)
    axes[-1][0].set_xlabel("seconds since start")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


#: Prometheus's range query: (expr, start, end, step) -> (times, values)
QueryRange = Callable[[str, float, float, float], tuple[np.ndarray, np.ndarray]]


def detect_lab_series(query_range: QueryRange, start: float, end: float) -> list[Detection]:
    """Score each of `LAB_SERIES` read back from Prometheus (1 s steps, 60 s running-median
    trend); a series with too few points is skipped rather than scored on noise."""
    detections = []
    for label, expr, direction in LAB_SERIES:
        t, v = query_range(expr, start, end, 1.0)
        if len(t) >= MIN_POINTS:
            detections.append(detect(zip(t.tolist(), v.tolist(), strict=True), name=label,
                                     direction=direction, trend_s=60.0, step_s=1.0))
    return detections
