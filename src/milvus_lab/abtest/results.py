"""The final analysis of an experiment's records: validity, tests, effects, guardrails."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from milvus_lab.abtest import analysis, validity
from milvus_lab.abtest.arms import Arm, split
from milvus_lab.abtest.assignment import Experiment
from milvus_lab.abtest.decision import Evidence, Guardrail
from milvus_lab.abtest.design import Design
from milvus_lab.abtest.guardrails import evaluate
from milvus_lab.abtest.monitor import Monitor
from milvus_lab.abtest.records import Record


@dataclass
class Results:
    arms: dict[str, Arm]
    srm: validity.SrmResult
    sticky: validity.Stickiness
    outside: int  # requests without a variant (not in the experiment)
    success: analysis.ProportionTest
    latency: analysis.LatencyComparison | None
    recall: dict[str, analysis.MeanCI]
    guardrails: list[Guardrail]

    def evidence(self, primary_crossed: bool) -> Evidence:
        """What the decision rule reads: validity, guardrails, and the always-valid test's verdict."""
        return Evidence(srm_p=self.srm.p_value, srm_threshold=self.srm.threshold, sticky=self.sticky.sticky,
                        guardrails=self.guardrails, primary_significant=primary_crossed,
                        primary_diff=self.success.diff)

    def table(self) -> list[tuple[str, str, str, str, str]]:
        """(metric, A, B, effect (B - A) with 95 % CI, p-value) rows for the summary."""
        s, lat = self.success, self.latency
        rows = [
            ("success (top-1 in top 3)", f"{s.rate_a:.3f}", f"{s.rate_b:.3f}",
             f"{s.diff:+.3f} [{s.diff_ci[0]:+.3f}, {s.diff_ci[1]:+.3f}]", f"z-test p={s.p_value:.2g}"),
            ("recall@10", f"{self.recall['A'].mean:.3f}", f"{self.recall['B'].mean:.3f}",
             f"A [{self.recall['A'].low:.3f}, {self.recall['A'].high:.3f}]  "
             f"B [{self.recall['B'].low:.3f}, {self.recall['B'].high:.3f}]", "t CI per arm"),
            ("error rate", f"{self.arms['A'].error_rate:.2%}", f"{self.arms['B'].error_rate:.2%}",
             f"{self.arms['B'].error_rate - self.arms['A'].error_rate:+.2%}", "guardrail"),
        ]
        if lat is not None:
            rows += [
                ("latency mean ms", f"{lat.mean_a:.1f}", f"{lat.mean_b:.1f}",
                 f"{lat.diff_ms:+.1f} [{lat.diff_ci[0]:+.1f}, {lat.diff_ci[1]:+.1f}]",
                 f"Welch p={lat.welch_p:.2g}"),
                ("latency p50 / p95 ms", f"{lat.p50_a:.1f} / {lat.p95_a:.1f}",
                 f"{lat.p50_b:.1f} / {lat.p95_b:.1f}", f"P(B slower)={lat.prob_b_slower:.2f}",
                 f"Mann-Whitney p={lat.mannwhitney_p:.2g}"),
            ]
        return rows


def analyze(records: list[Record], ground_truth: np.ndarray, experiment: Experiment,
            design: Design, monitor: Monitor | None = None) -> Results:
    variants = experiment.variants
    arms = split(records, ground_truth, variants)
    pairs = [(r.user, r.variant) for r in records if r.variant]
    srm = validity.srm_test(validity.users_per_variant(pairs, variants),
                            dict(zip(variants, experiment.weights, strict=True)))
    a, b = arms["A"], arms["B"]
    latency = (analysis.compare_latency(a.latencies_ms, b.latencies_ms)
               if min(len(a.latencies_ms), len(b.latencies_ms)) >= 2 else None)
    return Results(
        arms, srm, validity.stickiness(pairs), sum(1 for r in records if not r.variant),
        analysis.two_proportion_test(a.successes, max(a.requests, 1), b.successes, max(b.requests, 1)),
        latency, {v: analysis.mean_ci(arms[v].recalls) for v in variants},
        evaluate(a, b, design.guardrails, monitor),
    )
