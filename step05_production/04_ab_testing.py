# %% [markdown]
# # Lab 04: A/B testing two search configurations on live traffic
#
# Two configurations of the search service run at once on real traffic: **A**, today's
# (IVF_SQ8 scanning `nprobe=2` of its 128 lists), and **B**, a candidate that scans 4x more
# lists (`nprobe=8`) to find the right product more often. Users (Locust users with stable
# ids) are assigned by a feature-flag SDK (GrowthBook, evaluated locally inside the search
# API), stickily. For every request the lab knows the variant, the latency, errors, recall@10
# against the exact ground truth and a simulated user outcome ("success": the exact nearest
# product is in the top 3). Then it decides like an experimentation platform would.
#
# - Targets: `local` (default: Milvus Lite + local router, Python only), `compose`, `kube`.
# - Time: about 2 minutes.
# - Drills: `--aa` (identical arms), `--inject-srm` (an assignment bug loses half of B's
#   users), `--inject-regression` (B is slower and fails 8% of searches).
#
# ```
# python step05_production/04_ab_testing.py
# ```

# %%
from __future__ import annotations

import sys
import time

from milvus_lab.abtest import drills, plots, sequential, setup
from milvus_lab.abtest.cleanup import clean_up
from milvus_lab.abtest.design import Design, plan
from milvus_lab.abtest.flags import add_arguments, check_arguments
from milvus_lab.abtest.live import run_experiment
from milvus_lab.abtest.results import analyze
from milvus_lab.abtest.sections import (
    analysis_section,
    decision_section,
    design_section,
    experiment_section,
    validity_section,
)
from milvus_lab.abtest.state import State
from milvus_lab.labkit import Drill, LabRun, LabSpec, lab_main, notebook_finish, notebook_run
from milvus_lab.report import console, summary_table

SPEC = LabSpec(
    number="04", slug="ab_testing",
    title="A/B testing two search configurations",
    learn=("design an experiment first: primary metric, guardrails, MDE, power, sample size",
           "assign users stickily with a feature-flag SDK inside the application",
           "distrust the result first: sample ratio mismatch, stickiness",
           "z-test, Welch, Mann-Whitney, effects with CIs; an always-valid sequential test",
           "decide: ship B, keep A, inconclusive or invalid, with guardrails that veto a win"),
    targets=("local", "compose", "kube"), minutes=2,
    exercise="lab04_ab_testing",
    drills=(
        Drill("plain", (), exit_code=0,
              passes=("decision", "sample ratio (SRM)", "sticky assignment", "assignment matches the SDK",
                      "guardrail: p95 latency", "guardrail: error rate")),
        Drill("aa", ("--aa",), exit_code=0, passes=("decision", "sample ratio (SRM)", "sticky assignment")),
        Drill("srm", ("--inject-srm",), exit_code=1, passes=("decision",), fails=("sample ratio (SRM)",)),
        # B is both slower and failing: which guardrail trips first is a race (CI once saw the
        # latency one first), so the drill asks for the stop and the decision, not for one guardrail
        Drill("regression", ("--inject-regression",), exit_code=1,
              passes=("decision", "stopped early by a guardrail")),
    ),
)

# The lab's flags (--aa, --inject-srm, --inject-regression, --users, --user-rps) are in
# milvus_lab/abtest/flags.py, its --cleanup in milvus_lab/abtest/cleanup.py.


# %% [markdown]
# ## Step 1: design before traffic
# The primary metric, the guardrails, the minimum detectable effect, alpha and power are
# fixed first; a power analysis turns them into a sample size and so a run length.


# %%
def design_step(run: LabRun, st: State) -> None:
    args = run.args
    st.design = Design(planned_rps=args.users * args.user_rps)
    d, g = st.design, st.design.guardrails
    with run.step("Design the experiment",
                  "Fixed before the first request: what counts as better, what may not get worse, the "
                  "smallest effect worth detecting, and how much traffic that takes.",
                  "NormalIndPower().solve_power(effect_size=proportion_effectsize(p+mde, p), "
                  "alpha=0.05, power=0.8)"):
        st.plan = p = plan(d)
        run.info(f"primary metric: {d.primary_metric} (A's rate ~{d.baseline_rate:.2f})")
        run.info(f"guardrails: p95 latency B <= {g.max_p95_ratio:g} x A + {g.p95_slack_ms:g} ms; "
                 f"error rate not significantly worse by > {g.max_error_rate_increase / 2:.1%}")
        run.info(f"MDE +{d.mde:.2f} absolute (Cohen's h {p.effect_size_h:.3f}), alpha {d.alpha}, "
                 f"power {d.power}")
        run.result(True, f"fixed-horizon z-test: {p.n_fixed_per_arm} per arm (statsmodels NormalIndPower)")
        run.result(True, f"always-valid mSPRT (tau {d.tau}): {p.n_sequential_per_arm} per arm "
                         f"({p.sequential_inflation:.2f}x, the price of looking any time) = "
                         f"~{p.seconds:.0f} s at {d.planned_rps:g} searches/s")
        peek = sequential.peeking_simulation(300, p.n_max_per_arm, 30, d.baseline_rate, d.tau, d.alpha)
        run.result(peek.sequential_rate <= d.alpha,
                   f"why not just watch the p-value: in 300 simulated A/A runs with 30 looks, naive "
                   f"peeking declared a winner {peek.naive_rate:.0%} of the time, the mSPRT "
                   f"{peek.sequential_rate:.1%} (alpha {d.alpha:.0%})")
        run.section["design"] = design_section(d, p, peek)


# %% [markdown]
# ## Step 2: the experiment runs inside the search API
# The GrowthBook features file in the repo is evaluated locally by every replica; the
# user's id picks the variant and the variant picks the search params. Same on every target.


# %%
def deploy_step(run: LabRun, st: State) -> None:
    drill = drills.drill_name(run.args)
    st.experiment = exp = drills.experiment_for(drill)
    with run.step("Deploy the experiment",
                  f"Collection {setup.COLLECTION} ({setup.INDEX.label()}); {setup.REPLICAS} search API "
                  f"replicas evaluate experiment {exp.key!r} (deploy/experiments/search-ab.json) for "
                  f"each request's X-User-Id and answer with X-Variant.{drills.describe(drill)}",
                  "kubectl set env deploy/search-api-ab MILVUS_LAB_API_EXPERIMENT=\"$(cat "
                  "deploy/experiments/search-ab.json)\""):
        st.stage = stage = setup.ensure_stage(run.target, exp)
        run.result(True, f"{setup.COLLECTION}: {stage.collection.rows:,} rows "
                         f"({'reused' if stage.collection.reused else 'built'}); live: {run.target.live_url()}")
        for variant, weight in zip(exp.variants, exp.weights, strict=True):
            run.result(True, f"variant {variant} ({weight:.0%}): search params {exp.search_params(variant)}")
        smoke = setup.smoke(run.target.live_url(), stage.dataset)
        run.result(all(len(v) == 1 for v in smoke.values()),
                   f"smoke: {len(smoke)} users x 3 searches, each user kept one variant "
                   f"({sum(1 for v in smoke.values() if v == {'A'})} A, "
                   f"{sum(1 for v in smoke.values() if v == {'B'})} B)")
        run.section["experiment"] = experiment_section(exp, drill)


# %% [markdown]
# ## Step 3: live traffic, watched by an always-valid test
# Locust users with stable ids search continuously; every request is logged with its
# variant. Each half second the lab looks: SRM, guardrails, then the primary metric.


# %%
def traffic_step(run: LabRun, st: State) -> None:
    args, p = run.args, st.plan
    assert p is not None and st.experiment is not None and st.stage is not None
    limit = p.seconds * 1.5 + 15
    with run.step("Run the experiment",
                  f"{args.users} Locust users x {args.user_rps:g} searches/s, each a series of end users "
                  f"with stable ids. Looks every 0.5 s; stops on SRM, a guardrail, a decision, "
                  f"{p.n_max_per_arm} per arm, or {limit:.0f} s.",
                  f"locust -f loadtests/ab_testing.py --host {run.target.live_url()} --headless "
                  f"-u {args.users}"):
        traffic = run_experiment(run, st, limit)
        last = st.last
        stop = last.stop or "time limit"
        run.result(bool(st.records), f"{len(st.records):,} requests in {time.time() - traffic.started:.0f} s; "
                                     f"stopped: {stop} at A {last.n_a} / B {last.n_b} "
                                     f"(planned up to {p.n_max_per_arm} per arm)")
        run.section["run"] = {"requests": len(st.records), "stop": stop, "n_a": last.n_a, "n_b": last.n_b,
                              "seconds": round(time.time() - traffic.started, 1),
                              "records": str(traffic.records_file)}


# %% [markdown]
# ## Step 4: is the experiment valid?
# Before any p-value: do the users per variant match the 50/50 split (SRM), and did every
# user keep one variant (stickiness, from the responses)?


# %%
def validity_step(run: LabRun, st: State) -> None:
    assert st.experiment is not None and st.stage is not None
    exp, impl = st.experiment, run.impl
    with run.step("Validity checks",
                  "Sample ratio mismatch: chi-square of users per variant against the weights, flagged "
                  "at p < 0.001. Stickiness and the SDK's hashing, checked from the responses.",
                  "scipy.stats.chisquare([users_A, users_B], [n/2, n/2])"):
        st.results = res = analyze(st.records, st.stage.dataset.ground_truth, exp, st.design, st.monitor)
        pairs = [(r.user, r.variant) for r in st.records if r.variant]
        run.record(impl.srm_check(res.srm.observed, dict(zip(exp.variants, exp.weights, strict=True))))
        run.record(*impl.check_assignment(pairs, exp))
        outside = res.outside
        run.info(f"{outside} requests had no variant (not in the experiment)"
                 + (": their users are missing from the arms" if outside else ""))
        n = min(res.arms["A"].requests, res.arms["B"].requests)
        run.verify("enough traffic", n >= st.design.min_per_arm, f"{n} requests in the smaller arm",
                   f">= {st.design.min_per_arm}", "raise --users or --user-rps")
        run.section["validity"] = validity_section(res)


# %% [markdown]
# ## Step 5: analysis and decision
# Effects with confidence intervals, not only p-values; then the decision rule: validity
# first, guardrails next, the primary metric last.


# %%
def decision_step(run: LabRun, st: State) -> None:
    assert st.results is not None and st.monitor is not None and st.last is not None
    res, drill = st.results, drills.drill_name(run.args)
    with run.step("Analysis and decision",
                  "Two-proportion z-test on success, Welch and Mann-Whitney on latency, recall@10 per "
                  "variant, each effect with its 95% CI; the always-valid test decides.",
                  "proportions_ztest(...); ttest_ind(b, a, equal_var=False); mannwhitneyu(b, a)"):
        console.print(summary_table("A/B results", ["metric", "A", "B", "B - A [95% CI]", "test"],
                                    res.table()))
        for g in res.guardrails:
            run.verify(f"guardrail: {g.name}", g.passed, g.observed, g.required,
                       "B makes things worse for users: fix it before any rollout")
        primary = st.monitor.primary
        decision = run.impl.decide(res.evidence(primary.crossed))
        run.result(True, f"always-valid p {primary.p:.3g} (crossed: {primary.crossed}); "
                         f"fixed-horizon z-test p {res.success.p_value:.3g} (shown, not used to stop)")
        run.verify("decision", decision.action == drills.EXPECTED[drill], f"{decision.action}: {decision.reason}",
                   drills.EXPECTED[drill], "read the validity checks and the guardrails above")
        run.info(f"what users see: {decision.users_see}")
        if drill == "regression":
            stop = st.last.stop
            run.verify("stopped early by a guardrail", stop.startswith("guardrail"),
                       f"{stop or 'not stopped'} at A {st.last.n_a} / B {st.last.n_b}",
                       f"a guardrail stop before {st.plan.n_max_per_arm if st.plan else '?'} per arm")
        run.section["analysis"] = analysis_section(res, primary)
        run.section["decision"] = decision_section(decision)


# %% [markdown]
# ## Step 6: the pictures


# %%
def plots_step(run: LabRun, st: State) -> None:
    assert st.results is not None and st.monitor is not None and st.experiment is not None
    res, exp = st.results, st.experiment
    with run.step("Plots", "Latency per variant, the effect over time with the sequential boundary, "
                           "quality per variant, assignment balance.", None):
        weights = dict(zip(exp.variants, exp.weights, strict=True))
        made = plots.make_all(res, st.monitor.ticks, st.records, weights, st.design.mde,
                              st.design.min_per_arm, run.settings.path("reports"))
        for path, what in made:
            run.artifact(path, what)
            run.result(True, f"{what}: {path}")


def lesson(run: LabRun) -> None:
    st = State()
    for step in (design_step, deploy_step, traffic_step, validity_step, decision_step, plots_step):
        if run.stopped:
            break
        step(run, st)


def plan_hook(run: LabRun) -> None:
    """--dry-run: the design, the experiment file, and what would be deployed."""
    st = State()
    design_step(run, st)
    exp = drills.experiment_for(drills.drill_name(run.args))
    with run.step("Plan (dry run)", "Nothing is changed: this is what the lesson would do.", None):
        run.info(f"experiment {exp.key}: {dict(zip(exp.variants, exp.weights, strict=True))}, "
                 f"params {[exp.search_params(v) for v in exp.variants]}")
        run.info(f"ensure {setup.COLLECTION} ({setup.INDEX.label()}); deploy slot {setup.SLOT} "
                 f"x{setup.REPLICAS} with the experiment; route 100% to it")
        cfg = setup.api_config(run.target, exp)
        run.record(*run.target.plan([(cfg, setup.REPLICAS)]))


def main(argv: list[str] | None = None) -> int:
    return lab_main(SPEC, lesson, argv=argv, add_arguments=add_arguments,
                    check_arguments=check_arguments, plan=plan_hook, cleanup=clean_up)


# %% [markdown]
# ## Run it
# From a shell: `python step05_production/04_ab_testing.py [flags]`. In Jupyter the cells
# below run the lesson step by step with the default flags.

# %%
NB = notebook_run(SPEC, add_arguments)
NB_STATE = State()

# %%
if NB and not NB.stopped:
    design_step(NB, NB_STATE)

# %%
if NB and not NB.stopped:
    deploy_step(NB, NB_STATE)

# %%
if NB and not NB.stopped:
    traffic_step(NB, NB_STATE)

# %%
if NB and not NB.stopped:
    validity_step(NB, NB_STATE)

# %%
if NB and not NB.stopped:
    decision_step(NB, NB_STATE)

# %%
if NB and not NB.stopped:
    plots_step(NB, NB_STATE)

# %%
if NB:
    notebook_finish(NB)
elif __name__ == "__main__":
    sys.exit(main())
