"""The cutover picture: who answered each second, what failed, and the p95, with the marks.

Uses matplotlib's object API on an Agg canvas (no pyplot global state, no display
needed), so it works in a lab thread, in CI and on a laptop without a GUI.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from milvus_lab.load.result import LoadResult, Mark
from milvus_lab.load.timeline import SecondStats

_PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
            "#bcbd22", "#7f7f7f")  # no red: red means failures
FAILURE_COLOR = "#d62728"


def plot_timeline(
    result: LoadResult | list[SecondStats],
    path: str | Path,
    marks: list[Mark] | None = None,
    title: str = "Load timeline",
    start: float | None = None,
) -> Path:
    """Write a PNG: stacked successful requests/s per served_by, failures/s in red on top,
    p95 latency on the right axis, a dashed line + label at every mark. Returns the path."""
    history = result.history if isinstance(result, LoadResult) else list(result)
    if isinstance(result, LoadResult):
        marks = result.marks if marks is None else marks
        start = result.start if start is None else start
    marks = marks or []
    if start is None:
        start = float(history[0].t) if history else 0.0

    keys = sorted({k for s in history for k in s.served_by})
    x = [s.t + 0.5 - start for s in history]  # bucket midpoints, seconds since start
    ok_series = [[s.served_by.get(k, 0) - s.served_by_failures.get(k, 0) for s in history]
                 for k in keys]
    failures = [s.failures for s in history]

    fig = Figure(figsize=(11, 5.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    bottom = [0] * len(history)
    for i, (key, ys) in enumerate(zip(keys, ok_series, strict=True)):
        ax.bar(x, ys, width=1.0, bottom=bottom, color=_PALETTE[i % len(_PALETTE)],
               label=f"{key} ok", align="center", linewidth=0)
        bottom = [b + y for b, y in zip(bottom, ys, strict=True)]
    ax.bar(x, failures, width=1.0, bottom=bottom, color=FAILURE_COLOR, label="failures",
           align="center", linewidth=0)
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("requests / s (stacked by who answered)")
    peak = max([b + f for b, f in zip(bottom, failures, strict=True)], default=0)
    ax.set_ylim(0, max(peak, 1) * 1.15)
    if history:
        ax.set_xlim(min(x) - 0.5, max(x) + 0.5)

    ax2 = ax.twinx()
    p95 = [s.p95 for s in history]
    ax2.plot([xi for xi, p in zip(x, p95, strict=True) if p is not None],
             [p for p in p95 if p is not None], color="black", linewidth=1.4, marker=".",
             label="p95 latency")
    ax2.set_ylabel("p95 latency (ms)")
    ax2.set_ylim(0, max([p for p in p95 if p is not None], default=1.0) * 1.15)

    top = ax.get_ylim()[1]
    for mk in marks:
        mx = mk.t - start
        ax.axvline(mx, color="black", linestyle="--", linewidth=1)
        ax.text(mx, top * 0.98, f" {mk.label}", rotation=90, va="top", ha="right", fontsize=8,
                bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1})

    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(handles + h2, labels + l2, loc="upper center", bbox_to_anchor=(0.5, -0.13),
              ncol=min(5, len(labels) + len(l2)), fontsize=8, frameon=False)
    ax.set_title(title)
    fig.tight_layout()

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out
