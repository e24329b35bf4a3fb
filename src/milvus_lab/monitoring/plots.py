"""The drill as a picture: SLIs (short and long window), burn rates, the page alerts'
firing intervals (from Prometheus's ALERTS series) and each incident's injection and fix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from milvus_lab.monitoring.drill import IncidentTiming
from milvus_lab.monitoring.promapi import PromApi

SLOS = (("requests-availability", "SearchApiHighErrorRate", 0.001, "availability: 5xx ratio"),
        ("requests-latency", "SearchApiHighLatency", 0.01, "latency: share slower than 500 ms"))


def _firing(api: PromApi, alert: str, start: float, end: float, step: float) -> list[tuple[float, float]]:
    t, v = api.query_range(f'max(ALERTS{{alertname="{alert}", alertstate="firing", severity="page"}})',
                           start, end, step)
    spans: list[tuple[float, float]] = []
    for ti in t[v > 0] if len(t) else []:
        if spans and ti - spans[-1][1] <= step * 1.5:
            spans[-1] = (spans[-1][0], ti)
        else:
            spans.append((ti, ti))
    return spans


def plot_drill(api: PromApi, timings: Sequence[IncidentTiming], start: float, end: float, path: Path,
               factor: float, step: float = 1.0) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(12, 9), sharex=True)
    for ax, (slo, alert, budget, title) in zip(axes[:2], SLOS, strict=True):
        sel = f'{{sloth_slo="{slo}"}}'
        for record, label, style in (("slo:sli_error:ratio_rate5m", f"short window (5m / {factor:g})", "-"),
                                     ("slo:sli_error:ratio_rate1h", f"long window (1h / {factor:g})", "--")):
            t, v = api.query_range(record + sel, start, end, step)
            if len(t):
                ax.plot(t - start, v, style, label=label)
        ax.axhline(14.4 * budget, color="red", lw=0.8, ls=":", label=f"page threshold 14.4 x {budget:g}")
        for a, b in _firing(api, alert, start, end, step):
            ax.axvspan(a - start, b - start + step, color="red", alpha=0.15)
        ax.set_ylabel("error ratio")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_ylim(0, 1.5)
        ax.set_title(f"{title} (red band: {alert} page firing)")
        ax.legend(loc="upper right", fontsize=8)
    ax = axes[2]
    for slo, _, _, title in SLOS:
        t, v = api.query_range(f'slo:current_burn_rate:ratio{{sloth_slo="{slo}"}}', start, end, step)
        if len(t):
            ax.plot(t - start, np.clip(v, 1e-2, None), label=title.split(":")[0])
    ax.axhline(14.4, color="red", lw=0.8, ls=":", label="14.4x (page)")
    ax.axhline(1, color="grey", lw=0.8, ls=":", label="1x (budget lasts exactly the period)")
    ax.set_yscale("log")
    ax.set_ylabel("burn rate (x budget)")
    ax.set_xlabel("seconds since the drill started")
    ax.set_title("burn rate now (short window)")
    ax.legend(loc="upper right", fontsize=8)
    for timing in timings:
        for a in axes:
            a.axvline(timing.injected_at - start, color="black", lw=0.8)
            if timing.fixed_at:
                a.axvline(timing.fixed_at - start, color="green", lw=0.8, ls="--")
        axes[0].annotate(f"{timing.name}\n(inject | fix)", (timing.injected_at - start, 0.6),
                         xycoords=("data", "axes fraction"), fontsize=8, ha="left")
    fig.suptitle(f"Lab 06 incident drill: SLIs and burn rates (windows divided by {factor:g})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
