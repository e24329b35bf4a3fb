"""Lab 04's own section of the JSON report, one entry per lesson step (what the lesson decided
and measured, in the shapes the report and the checks read)."""

from __future__ import annotations

from milvus_lab.abtest.assignment import Experiment
from milvus_lab.abtest.decision import Decision
from milvus_lab.abtest.design import Design, Plan
from milvus_lab.abtest.results import Results
from milvus_lab.abtest.sequential import PeekingOutcome, SequentialTest


def design_section(d: Design, p: Plan, peek: PeekingOutcome) -> dict[str, object]:
    """The design fixed before the first request, its sample-size plan and the peeking simulation."""
    return {"primary_metric": d.primary_metric, "baseline_rate": d.baseline_rate,
            "mde": d.mde, "alpha": d.alpha, "power": d.power, "tau": d.tau,
            "guardrails": d.guardrails, "planned_rps": d.planned_rps, "plan": p,
            "peeking_simulation": {"naive": peek.naive_rate, "msprt": peek.sequential_rate}}


def experiment_section(exp: Experiment, drill: str) -> dict[str, object]:
    """The experiment the replicas evaluate: key, variants, weights, each variant's search params."""
    return {"key": exp.key, "variants": exp.variants, "weights": exp.weights,
            "params": {v: exp.search_params(v) for v in exp.variants}, "drill": drill}


def validity_section(res: Results) -> dict[str, object]:
    """SRM, users per variant and who switched variant (the first 20), requests outside the arms."""
    return {"srm": res.srm, "users": res.sticky.users, "switched": res.sticky.switched[:20],
            "outside": res.outside}


def analysis_section(res: Results, primary: SequentialTest) -> dict[str, object]:
    """The results table, each test, the guardrails and the always-valid test's state."""
    return {"table": res.table(), "success": res.success, "latency": res.latency,
            "recall": res.recall, "guardrails": res.guardrails,
            "always_valid_p": primary.p, "crossed": primary.crossed}


def decision_section(decision: Decision) -> dict[str, object]:
    return {"action": decision.action, "reason": decision.reason, "users_see": decision.users_see}
