"""Lab 04's pictures: latency ECDF, effect over time with the sequential boundary, recall
per variant, assignment balance. matplotlib's object API on an Agg canvas (no display)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from milvus_lab.abtest.arms import Arm
from milvus_lab.abtest.monitor import STOP_PRIMARY, Tick
from milvus_lab.abtest.records import Record
from milvus_lab.abtest.results import Results

COLORS = {"A": "#1f77b4", "B": "#ff7f0e"}


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    FigureCanvasAgg(fig).print_png(str(path))
    return path


def _err(means: list[float], cis: list[tuple[float, float]]) -> np.ndarray:
    """Error bar lengths below/above each mean (never negative: a CI at 100 % rounds past it)."""
    low = [m - lo for m, (lo, _) in zip(means, cis, strict=True)]
    high = [hi - m for m, (_, hi) in zip(means, cis, strict=True)]
    return np.clip(np.nan_to_num(np.array([low, high])), 0, None)


def latency_ecdf(arms: dict[str, Arm], path: Path, title: str = "Latency per variant") -> Path:
    fig = Figure(figsize=(7, 4.2))
    ax = fig.add_subplot()
    for variant, arm in arms.items():
        if not arm.latencies_ms:
            continue
        x = np.sort(arm.latencies_ms)
        y = np.arange(1, len(x) + 1) / len(x)
        ax.step(x, y, where="post", color=COLORS.get(variant), label=f"{variant} (n={len(x)}, "
                f"p50 {np.percentile(x, 50):.0f} ms, p95 {np.percentile(x, 95):.0f} ms)")
        ax.axvline(np.percentile(x, 95), color=COLORS.get(variant), ls=":", lw=1)
    ax.axhline(0.95, color="grey", lw=0.6, ls="--")
    ax.set_xscale("log")
    lat = [x for arm in arms.values() for x in arm.latencies_ms]
    if lat:
        ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
                 if min(lat) / 2 <= t <= max(lat) * 2]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("latency seen by the client, ms (log scale); dotted: p95")
    ax.set_ylabel("share of requests at or below")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def effect_over_time(ticks: list[Tick], path: Path, mde: float, min_per_arm: int,
                     title: str = "Success rate B - A over time") -> Path:
    """The estimate, the naive CI and the always-valid confidence sequence at every look."""
    t0 = ticks[0].t if ticks else 0.0
    looks = [(t.t - t0, t.primary) for t in ticks if t.primary is not None]
    fig = Figure(figsize=(7.5, 4.4))
    ax = fig.add_subplot()
    if looks:
        x = np.array([s for s, _ in looks])
        d = np.array([lk.diff for _, lk in looks])
        se = np.array([lk.se for _, lk in looks])
        b = np.array([lk.boundary for _, lk in looks])
        ax.fill_between(x, d - b * se, d + b * se, color="#ff7f0e", alpha=0.25,
                        label="always-valid 95% confidence sequence (mSPRT)")
        ax.plot(x, d - 1.96 * se, color="grey", ls="--", lw=1, label="naive 95% CI (valid once, not when peeking)")
        ax.plot(x, d + 1.96 * se, color="grey", ls="--", lw=1)
        ax.plot(x, d, color="black", lw=1.5, label="estimate B - A")
    ax.axhline(0, color="black", lw=0.8)
    ax.axhline(mde, color="#2ca02c", lw=0.8, ls=":", label=f"MDE +{mde:.2f}")
    stops = [t for t in ticks if t.stop]
    if stops:
        color = "#2ca02c" if stops[0].stop == STOP_PRIMARY else "#d62728"
        ax.axvline(stops[0].t - t0, color=color, lw=1.5, ls="-.", label=f"stop: {stops[0].stop[:60]}")
    if looks:
        burn = next((s for s, lk in looks if lk.n >= 2 * min_per_arm), None)
        if burn is not None:
            ax.axvspan(looks[0][0], burn, color="grey", alpha=0.08, label="burn-in (looks do not count)")
    ax.set_xlabel("seconds since the first look")
    ax.set_ylabel("success rate difference (B - A)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def recall_per_variant(results: Results, path: Path, title: str = "Quality per variant") -> Path:
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    variants = list(results.recall)
    xs = np.arange(len(variants))
    rec = [results.recall[v] for v in variants]
    s = results.success
    succ = [(s.rate_a, s.rate_ci_a), (s.rate_b, s.rate_ci_b)]
    ax.bar(xs - 0.2, [r.mean for r in rec], 0.38, color=[COLORS.get(v) for v in variants],
           yerr=_err([r.mean for r in rec], [(r.low, r.high) for r in rec]), capsize=4,
           label="recall@10 (95% CI)")
    ax.bar(xs + 0.2, [m for m, _ in succ], 0.38, color=[COLORS.get(v) for v in variants], alpha=0.45,
           hatch="//", yerr=_err([m for m, _ in succ], [ci for _, ci in succ]), capsize=4,
           label="success: exact top-1 in top 3 (95% Wilson CI)")
    for x, r, (m, ci) in zip(xs, rec, succ, strict=True):  # labels above the error bars
        ax.text(x - 0.2, max(r.mean, r.high) + 0.004, f"{r.mean:.3f}", ha="center", va="bottom", fontsize=8)
        ax.text(x + 0.2, max(m, ci[1]) + 0.004, f"{m:.3f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(xs, [f"{v} (n={results.arms[v].requests})" for v in variants])
    low = min([r.low for r in rec] + [ci[0] for _, ci in succ])
    ax.set_ylim(max(0.0, low - 0.1), 1.04)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def assignment_balance(results: Results, records: list[Record], weights: dict[str, float],
                       path: Path, title: str = "Assignment balance") -> Path:
    fig = Figure(figsize=(9, 4))
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    srm = results.srm
    variants = list(srm.observed)
    left.bar(variants, [srm.observed[v] for v in variants], color=[COLORS.get(v) for v in variants])
    for i, v in enumerate(variants):
        left.hlines(srm.expected[v], i - 0.4, i + 0.4, color="black", ls="--")
    left.set_title(f"users per variant (dashed: expected)\nSRM chi-square p = {srm.p_value:.2g}"
                   + ("  MISMATCH" if srm.mismatch else ""), fontsize=9,
                   color="#d62728" if srm.mismatch else "black")
    firsts: dict[str, tuple[float, str]] = {}
    for r in records:
        if r.user not in firsts:
            firsts[r.user] = (r.t, r.variant or "none")
    ordered = sorted(firsts.values())
    if ordered:
        t0 = ordered[0][0]
        share_b = np.cumsum([v == "B" for _, v in ordered]) / np.arange(1, len(ordered) + 1)
        right.plot([t - t0 for t, _ in ordered], share_b, color=COLORS["B"])
        right.axhline(weights.get("B", 0.5) / sum(weights.values()), color="black", ls="--", lw=1)
    right.set_ylim(0, 1)
    right.set_xlabel("seconds")
    right.set_ylabel("cumulative share of new users in B")
    right.set_title("share of users assigned to B over time", fontsize=9)
    fig.suptitle(title)
    right.grid(alpha=0.3)
    return _save(fig, path)


def make_all(results: Results, ticks: list[Tick], records: list[Record], weights: dict[str, float],
             mde: float, min_per_arm: int, out_dir: Path) -> list[tuple[Path, str]]:
    """Lab 04's four pictures in `out_dir`, each with one line saying what it shows."""
    return [
        (latency_ecdf(results.arms, out_dir / "04_ab_latency_ecdf.png"), "latency ECDF per variant"),
        (effect_over_time(ticks, out_dir / "04_ab_effect_over_time.png", mde, min_per_arm),
         "success B - A over time: naive CI vs always-valid confidence sequence"),
        (recall_per_variant(results, out_dir / "04_ab_quality.png"), "recall@10 and success per variant"),
        (assignment_balance(results, records, weights, out_dir / "04_ab_assignment_balance.png"),
         "users per variant, SRM"),
    ]
