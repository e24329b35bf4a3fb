# %% [markdown]
# # Lab 03: zero-downtime blue-green releases
#
# You will release a new version of **the data** (a Milvus collection behind an alias)
# and of **the search API** (replicas behind a traffic switch) while real users, a Locust
# load test, keep searching. Nobody should notice.
#
# - Targets: `local` (default: Milvus Lite + local router, Python only), `compose`, `kube`.
# - Time: about 1 minute on a laptop.
# - Drills: `--inject-fault recall` (the gate stops a bad candidate),
#   `--inject-fault errors` (live analysis rolls back), `--rollback` (manual rollback).
#
# ```
# python step05_production/03_blue_green_deployment.py
# ```

# %%
from __future__ import annotations

import sys
import time
from collections.abc import Callable

from milvus_lab.app import client as api
from milvus_lab.baseline import ensure_baseline
from milvus_lab.bluegreen import faults, ops, probes
from milvus_lab.bluegreen.analysis import measurements_table, watch
from milvus_lab.bluegreen.cleanup import clean_up
from milvus_lab.bluegreen.flags import add_arguments, check_arguments
from milvus_lab.bluegreen.gates import AnalysisPolicy, GatePolicy
from milvus_lab.bluegreen.outcome import record_load_outcome
from milvus_lab.bluegreen.plan import plan
from milvus_lab.labkit import Drill, LabRun, LabSpec, lab_main, notebook_lesson, run_steps
from milvus_lab.load import open_live_panel
from milvus_lab.load.runner import LocustRun
from milvus_lab.milvus import datasets
from milvus_lab.releases import ALIAS, V1, V2
from milvus_lab.report import console
from milvus_lab.targets import Capability

SPEC = LabSpec(
    number="03", slug="blue_green_deployment", title="Blue-green releases with zero downtime",
    learn=("move a Milvus alias atomically after a pre-promotion gate (data layer)",
           "switch live traffic between API versions atomically (service layer)",
           "watch live traffic after a switch and roll back automatically"),
    minutes=1, exercise="lab03_blue_green",
    drills=(
        Drill("plain", (), 0, passes=("recall@10", "answers come from v2 data after alias switch",
                                      "0 failed requests", "both versions answered", "green/v2 answers at the end")),
        Drill("recall", ("--inject-fault", "recall"), 1, passes=("users never saw the candidate", "0 failed requests"),
              fails=("recall@10",)),
        Drill("errors", ("--inject-fault", "errors"), 1, passes=("automatic rollback", "rolled back within 10 s of the "
              "switch", "no request served by v2 after rollback"), fails=("post-promotion analysis",)),
        Drill("rollback", ("--rollback",), 0, passes=("manual rollback", "0 failed requests", "both versions answered")),
    ),
)

# The lab's flags (--inject-fault, --rollback, --users, ...) are in milvus_lab/bluegreen/flags.py,
# its dry run (plan) and --cleanup in bluegreen/plan.py and bluegreen/cleanup.py.


# %% [markdown]
# ## The lesson
# Each step is a numbered panel with the equivalent command. The release object keeps
# what one step hands to the next (the load, the dataset, when traffic switched).


# %%
class BlueGreenRelease:
    """Lab 03's steps over one LabRun: blue live, load, data release, service release, analysis."""

    def __init__(self, run: LabRun) -> None:
        self.run, self.args, self.target = run, run.args, run.target
        self.load: LocustRun | None = None
        self.blue_urls: list[str] = []
        self.switched_at: float | None = None
        self.candidate = f"{V2.collection}_faulty" if self.args.inject_fault == "recall" else V2.collection

    def steps(self) -> list[Callable[[], None]]:
        return [self.blue_is_live, self.start_load, self.build_candidate, self.gate, self.move_alias,
                self.deploy_green, self.switch_traffic, self.analyse, self.scale_down_blue]

    def blue_is_live(self) -> None:
        with self.run.step("Blue is live",
                           f"Collection {V1.collection} ({V1.index.label()}) behind alias {ALIAS!r}; search "
                           f"API {V1.slot}/{V1.version} x{V1.replicas} takes all traffic.",
                           f"client.create_alias('{V1.collection}', '{ALIAS}')   # or alter_alias"):
            base = ensure_baseline(self.target, V1, rebuild=self.args.rebuild)
            self.target.retire(V2.slot)  # a leftover green from an interrupted run: never live here
            self.blue_urls = base.backends
            self.run.result(True, f"{V1.collection}: {base.collection.rows:,} rows "
                                  f"({'reused' if base.collection.reused else 'built'}); alias {ALIAS} → {V1.collection}")
            self.run.result(True, f"live: {V1.slot} x{len(base.backends)} at {self.target.live_url()}")

    def start_load(self) -> None:
        users = self.args.users
        with self.run.step("Load starts",
                           f"{users} Locust users search continuously through the live route. A non-200, an "
                           "empty result or an unknown version counts as a failure.",
                           f"locust -f loadtests/blue_green.py --host {self.target.live_url()} --headless -u {users}"):
            self.load = load = ops.start_load(self.run.settings, self.target.live_url(), users, self.args.user_rps)
            self.run.on_exit(lambda: record_load_outcome(self.run, load, self.switched_at))
            self.run.on_exit(load.stop)
            self.run.on_exit(open_live_panel(load, title="live traffic"))
            load.wait_for_traffic(seconds=5)
            p95 = load.result().window(time.time() - 5, time.time(), "baseline").p95_ms
            self.run.result(True, f"Locust pid {load.pid}; baseline p95 {p95} ms")

    # -- data-layer release: build, gate, move the alias ---------------------------------

    def build_candidate(self) -> None:
        faulty = self.args.inject_fault == "recall"
        with self.run.step(f"Build candidate {self.candidate}",
                           f"Dataset {V2.version} ({V2.dataset.n:,} rows) on {V2.index.label()}, built while "
                           f"{V1.slot} keeps serving. Nobody reads it until the alias moves."
                           + (" [fault: vectors misaligned with ids]" if faulty else ""),
                           f"client.create_collection('{self.candidate}', ...); client.insert(...)"):
            with self.run.progress() as bars:  # drawn inside the live traffic panel
                status = ops.build_candidate(self.run.settings, self.target, self.candidate, faulty,
                                             self.args.rebuild, on_progress=bars)
            self.run.result(True, f"{self.candidate}: {status.rows:,} rows, index {status.index}, "
                                  f"{'reused' if status.reused else 'built'}")

    def gate(self) -> None:
        with self.run.step("Pre-promotion gate",
                           "Measure the candidate before any user sees it: row count, recall@10 against exact "
                           "ground truth, filtered queries, and p95 probed interleaved with the live collection "
                           "(a busy laptop slows both: only a difference counts).",
                           f"client.search('{self.candidate}', data=queries, limit=10)   # vs numpy ground truth"):
            ds = datasets.ensure_dataset(self.run.settings, V2.dataset)
            with ops.milvus(self.target) as client:
                report = probes.measure_candidate(client, self.candidate, ds, V2.index,
                                                  reference=(V1.collection, V1.index))
            checks = self.run.impl.pre_promotion_gate(report, GatePolicy())
            self.run.record(*checks)
            if self.run.impl.gate_passed(checks):
                return
            self.load.mark("gate failed")
            serving = ops.reject_candidate(self.target, self.candidate)
            self.run.result(True, f"candidate dropped; alias {ALIAS} still → {serving}: users kept getting v1")
            self.run.fail("pre-promotion gate failed: " + ", ".join(c.name for c in checks if c.failed))

    def move_alias(self) -> None:
        with self.run.step("Promote: move the alias",
                           "alter_alias is atomic: every search sees either the old or the new collection. "
                           f"{V1.collection} stays for the rollback window.",
                           f"client.alter_alias('{self.candidate}', '{ALIAS}')"):
            with ops.milvus(self.target) as client:
                t0 = time.perf_counter()
                promotion = self.run.impl.promote(client, ALIAS, self.candidate)
                took = time.perf_counter() - t0
            self.load.mark(f"alias → {V2.version}")
            self.run.section["alias_switch_s"] = round(took, 4)
            self.run.result(promotion.current == self.candidate,
                            f"alias {ALIAS}: {promotion.previous} → {promotion.current} in {took * 1000:.1f} ms")
            seen = api.sample(self.target.live_url(), datasets.ensure_dataset(self.run.settings, V2.dataset), n=10)
            self.run.verify("answers come from v2 data after alias switch",
                            seen.data_versions.get(V2.version, 0) == seen.ok == seen.total,
                            dict(seen.data_versions), f"all {seen.total} from {V2.version}",
                            "the API must search the alias, not a collection name")

    # -- service-layer release: green replicas, preview, switch, analysis -----------------

    def deploy_green(self) -> None:
        fault_rate = faults.ERROR_RATE if self.args.inject_fault == "errors" else 0.0
        with self.run.step(f"Deploy {V2.slot}/{V2.version}",
                           f"{V2.replicas} replicas of API {V2.version} start next to blue; readiness probes "
                           "(/readyz) must pass; the preview route reaches them, live traffic does not."
                           + (f" [fault: fails {fault_rate:.0%} of searches]" if fault_rate else ""),
                           "kubectl apply -f search-api-green.yaml && kubectl rollout status deploy/search-api-green"):
            preview = ops.deploy_green(self.run.settings, self.target, fault_rate)
            smoke = preview.smoke
            self.run.verify("preview smoke test", preview.ok,
                            f"{len(preview.urls)} ready; {smoke.ok}/{smoke.total} ok, served by {dict(smoke.served_by)}",
                            f"all ok from {V2.slot}/{V2.version}", "read the green replicas' logs")
            if not preview.ok:
                self.target.retire(V2.slot)
                self.run.fail(f"preview smoke test of {V2.slot} failed: {smoke.errors[:2]}")

    def switch_traffic(self) -> None:
        with self.run.step(f"Switch live traffic to {V2.slot}",
                           "One atomic change: requests in flight finish on blue, new ones go to green.",
                           "kubectl patch service search-api -p '{\"spec\":{\"selector\":{\"slot\":\"green\"}}}'"):
            self.switched_at, took = ops.switch_live(self.target, self.load)
            self.run.section["router_switch_s"] = round(took, 4)
            self.run.result(self.target.live_slots() == [V2.slot],
                            f"live: {self.target.live_slots()} in {self.run.section['router_switch_s'] * 1000:.1f} ms")

    def analyse(self) -> None:
        policy = AnalysisPolicy()
        with self.run.step("Post-promotion analysis",
                           f"Every {policy.interval_s:g}s for {self.args.analysis_seconds:g}s one measurement: green's "
                           "live traffic, and blue (still warm) probed at the same moment as the reference. A "
                           f"measurement fails on errors, or on p95 over the SLO and worse than blue (too few blue "
                           "probes: latency not judged, the machine is slow); "
                           f"{policy.consecutive_failures} failed in a row roll back router and alias at once.",
                           "kubectl argo rollouts get rollout search-api   # AnalysisRun, in miniature"):
            queries = datasets.ensure_dataset(self.run.settings, V2.dataset).queries
            analysis = watch(self.run.impl, self.load, self.switched_at, self.args.analysis_seconds,
                             self.blue_urls, queries, policy)
            rows = analysis.rows(policy, self.run.impl.measurement_failed)
            console.print(measurements_table(rows))
            decision = analysis.decision
            self.run.section["analysis"] = analysis.summary(policy, rows)
            self.run.verify("post-promotion analysis", decision.action == "continue",
                            f"{decision.action}: {decision.reason}", "continue",
                            "raise --users or --analysis-seconds" if decision.action == "wait"
                            else "the new API version fails under live traffic: read its logs")
        if decision.rollback:
            self.roll_back(f"automatic rollback: {decision.reason}")
            self.run.fail(f"automatic rollback: {decision.reason}")
        elif self.args.rollback:
            self.roll_back("manual rollback drill (--rollback)")

    def roll_back(self, reason: str) -> None:
        with self.run.step("Roll back", f"{reason}. Router back to {V1.slot}, alias back to {V1.collection}: "
                           "both still warm.",
                           f"kubectl patch service search-api ...slot={V1.slot}; "
                           f"client.alter_alias('{V1.collection}', '{ALIAS}')"):
            restored = ops.restore_blue(self.target)
            done = self.load.mark("rollback").t
            self.load.wait_for_answers(done + 1)  # evidence that users are back on blue
            self.run.section["rollback"] = restored.report(reason, done, self.switched_at)
            self.run.verify("manual rollback" if self.args.rollback else "automatic rollback", restored.complete,
                            f"{restored.took_s * 1000:.0f} ms; live {restored.live}, alias → {restored.alias}",
                            f"live [{V1.slot}], alias → {V1.collection}")
            self.target.retire(V2.slot)

    def scale_down_blue(self) -> None:
        if "rollback" in self.run.section:
            return
        with self.run.step(f"Scale down {V1.slot}",
                           f"Blue stays warm {self.args.scale_down_delay:g}s (Argo Rollouts' scaleDownDelaySeconds) "
                           "so a rollback needs no cold start; then it stops.",
                           f"kubectl scale deploy/search-api-{V1.slot} --replicas=0"):
            time.sleep(self.args.scale_down_delay)
            self.target.retire(V1.slot)
            self.run.section["blue_stopped_at"] = self.load.mark(f"{V1.slot} stopped").t
            self.load.wait_for_answers(self.run.section["blue_stopped_at"] + 1)  # traffic after the last change
            self.run.result(True, f"{V1.slot} retired; {V1.collection} kept for a data rollback")


def lesson(run: LabRun) -> None:
    if Capability.ALIAS_RULES not in run.target.capabilities:
        run.info("Unlike real Milvus, this embedded Milvus lets drop_collection remove the collection "
                 "behind an alias; the lab's drops refuse that themselves (collections.drop_collection).")
    run_steps(run, BlueGreenRelease(run).steps())


def main(argv: list[str] | None = None) -> int:
    return lab_main(SPEC, lesson, argv=argv, add_arguments=add_arguments, check_arguments=check_arguments,
                    plan=plan, cleanup=clean_up)


# %% [markdown]
# ## Run it
# From a shell: `python step05_production/03_blue_green_deployment.py [flags]`. In Jupyter
# the cells below run the lesson one step at a time with the default flags.

# %%
steps = notebook_lesson(SPEC, BlueGreenRelease, add_arguments)  # each cell below runs one step

# %%
steps.blue_is_live()

# %%
steps.start_load()

# %%
steps.build_candidate()

# %%
steps.gate()

# %%
steps.move_alias()

# %%
steps.deploy_green()

# %%
steps.switch_traffic()

# %%
steps.analyse()

# %%
steps.scale_down_blue()

# %%
if steps.in_jupyter:
    steps.finish()
elif __name__ == "__main__":
    sys.exit(main())
