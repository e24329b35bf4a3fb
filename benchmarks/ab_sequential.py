"""Does lab 04's sequential test keep its promise? Simulated experiments, the lab's own code.

    python benchmarks/ab_sequential.py [--experiments 1000] [--look-every 20] [--seed 1]

Offline (no Milvus, no traffic): Bernoulli "success" streams at the design's baseline rate,
looked at every `--look-every` requests per arm up to the design's planned maximum, the way
the lab looks at live traffic. Every statistic comes from `milvus_lab.abtest` (the same
functions the lab runs):
  1. A/A (no true difference): the share of experiments that ever declare a winner
     - naive peeking: stop at the first look where the fixed-horizon z-test
       (`analysis.two_proportion_test`) says p < alpha; inflated, the classic mistake;
     - the mSPRT (`sequential.SequentialTest`, burn-in as in the lab): must stay <= alpha;
     - one fixed-horizon test at the planned size, for reference (~alpha).
  2. Power: the default effect (baseline -> baseline + MDE) run to the planned maximum with
     the mSPRT: must be >= the design's power (0.8); also the mean stopping sample.
Rates are quoted with 95% Wilson intervals. Prints a table and PASS/MISS per promise;
exit code 1 when a promise is missed.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from statsmodels.stats.proportion import proportion_confint

from milvus_lab.abtest import analysis
from milvus_lab.abtest.design import Design, plan
from milvus_lab.abtest.sequential import SequentialTest

console = Console(highlight=False, width=120)


def run_one(rng: np.random.Generator, p_a: float, p_b: float, n_max: int, every: int,
            design: Design) -> tuple[bool, bool, bool, int]:
    """(naive peeking rejected, mSPRT rejected, single fixed test rejected, mSPRT stop n)."""
    a = np.cumsum(rng.random(n_max) < p_a)
    b = np.cumsum(rng.random(n_max) < p_b)
    seq = SequentialTest(design.tau, design.alpha)
    naive = sequential = False
    stop_n = n_max
    for n in range(every, n_max + 1, every):
        sa, sb = int(a[n - 1]), int(b[n - 1])
        if not naive and n >= design.preview_per_arm:
            naive = analysis.two_proportion_test(sa, n, sb, n).p_value < design.alpha
        if not sequential and n >= design.min_per_arm:
            seq.update(2 * n, (sb - sa) / n, analysis.pooled_se(sa, n, sb, n))
            if seq.crossed:
                sequential, stop_n = True, n
        if naive and sequential:
            break
    fixed = analysis.two_proportion_test(int(a[-1]), n_max, int(b[-1]), n_max).p_value < design.alpha
    return naive, sequential, fixed, stop_n


def rate(hits: int, total: int) -> tuple[float, float, float]:
    low, high = proportion_confint(hits, total, 0.05, "wilson")
    return hits / total, float(low), float(high)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=1000)
    parser.add_argument("--look-every", type=int, default=20, help="requests per arm between looks")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.experiments < 10 or args.look_every < 1:
        parser.error("--experiments >= 10 and --look-every >= 1")
    design = Design()
    p = plan(design)
    p_a, p_b = design.baseline_rate, design.baseline_rate + design.mde
    n_max = p.n_max_per_arm
    console.print(f"design: baseline {p_a:.2f}, MDE +{design.mde:.2f}, alpha {design.alpha}, power "
                  f"{design.power}, tau {design.tau}; planned {n_max} per arm (fixed-horizon "
                  f"{p.n_fixed_per_arm}); looks every {args.look_every} per arm, mSPRT counts from "
                  f"{design.min_per_arm}")
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    aa = np.zeros((args.experiments, 3), dtype=bool)
    power = np.zeros(args.experiments, dtype=bool)
    stops: list[int] = []
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("simulating", total=2 * args.experiments)
        for i in range(args.experiments):
            aa[i] = run_one(rng, p_a, p_a, n_max, args.look_every, design)[:3]
            bar.advance(task)
        for i in range(args.experiments):
            _, hit, _, stop_n = run_one(rng, p_a, p_b, n_max, args.look_every, design)
            power[i] = hit
            if hit:
                stops.append(stop_n)
            bar.advance(task)
    took = time.perf_counter() - t0

    n = args.experiments
    rows = [
        ("A/A: naive peeking (z-test p < alpha at any look)", *rate(int(aa[:, 0].sum()), n),
         "> alpha (inflated)", rate(int(aa[:, 0].sum()), n)[1] > design.alpha),
        ("A/A: mSPRT, always-valid (the lab's test)", *rate(int(aa[:, 1].sum()), n),
         f"<= alpha = {design.alpha}", rate(int(aa[:, 1].sum()), n)[0] <= design.alpha),
        ("A/A: one fixed-horizon z-test at the planned n", *rate(int(aa[:, 2].sum()), n),
         f"~ alpha = {design.alpha}", rate(int(aa[:, 2].sum()), n)[1] <= design.alpha),
        (f"power: mSPRT, effect +{design.mde:.2f}, up to {n_max}/arm", *rate(int(power.sum()), n),
         f">= {design.power}", rate(int(power.sum()), n)[0] >= design.power),
    ]
    table = Table(title=f"{n:,} simulated experiments per row ({took:.1f} s)", title_justify="left")
    for col in ("what", "rate", "95% CI", "promise", "result"):
        table.add_column(col)
    for what, r, low, high, promise, ok in rows:
        table.add_row(what, f"{r:.3f}", f"[{low:.3f}, {high:.3f}]", promise,
                      "[green]PASS[/]" if ok else "[red]MISS[/]")
    console.print(table)
    if stops:
        console.print(f"mSPRT under the effect: stopped at a median {int(np.median(stops))} per arm "
                      f"(mean {np.mean(stops):.0f}) of the {n_max} planned")
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
