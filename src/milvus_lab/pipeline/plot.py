"""One picture of a pipeline run: each stage as a bar on a time line, coloured by its outcome."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from milvus_lab.pipeline.stages import StageResult  # noqa: E402

COLOURS = {"passed": "#2e7d32", "failed": "#c62828", "blocked": "#f9a825", "skipped": "#bdbdbd"}


def stage_timeline(results: list[StageResult], title: str, path: Path) -> Path:
    """Stages top to bottom, bars from their start to their end (stages run one after another)."""
    fig, ax = plt.subplots(figsize=(9, 0.4 * max(len(results), 4) + 1.2))
    start = 0.0
    for row, r in enumerate(results):
        width = max(r.seconds, 0.05)
        ax.barh(row, width, left=start, color=COLOURS.get(r.status, "#757575"))
        ax.text(start + width + 0.2, row, f"{r.seconds:.1f}s {r.status}", va="center", fontsize=8)
        start += r.seconds
    ax.set_yticks(range(len(results)), [r.name for r in results])
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the pipeline started")
    ax.set_xlim(0, start * 1.25 + 1)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
