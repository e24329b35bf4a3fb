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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from milvus_lab.bluegreen import faults, probes, traffic
from milvus_lab.bluegreen.catalog import ALIAS, V1, V2, Release
from milvus_lab.bluegreen.gates import AnalysisPolicy, GatePolicy, TrafficWindow
from milvus_lab.environment import ensure_baseline, milvus_client
from milvus_lab.errors import PrerequisiteError, VerificationFailed
from milvus_lab.labkit import (
    confirm,
    default_report_path,
    lab_parser,
    load_impl,
    run_lab,
    settings_from_args,
)
from milvus_lab.load import live_panel, locustfile, plot_timeline, start_locust
from milvus_lab.milvus import collections, datasets
from milvus_lab.report import Narrator, console, settings_table, summary_table, write_json_report
from milvus_lab.targets import get_target

LAB = "03"
SCRIPT = "03_blue_green_deployment.py"  # (no __file__ in a notebook)
CLEANUP = "python step05_production/03_blue_green_deployment.py --cleanup"


def parse_args(argv: list[str] | None = None) -> Any:
    parser = lab_parser("Lab 03: blue-green releases of Milvus data and of the search API")
    parser.add_argument("--inject-fault", choices=faults.FAULTS, default=None,
                        help="recall: a bad candidate the gate must stop; errors: a bad API release "
                             "live analysis must roll back")
    parser.add_argument("--rollback", action="store_true",
                        help="after promotion, roll back by hand (timed) while blue is still warm")
    parser.add_argument("--users", type=int, default=20, help="Locust users (default 20)")
    parser.add_argument("--user-rps", type=float, default=3.5, help="searches/s per user (default 3.5)")
    parser.add_argument("--analysis-seconds", type=float, default=12.0,
                        help="post-promotion analysis window (default 12)")
    parser.add_argument("--scale-down-delay", type=float, default=5.0,
                        help="seconds blue stays warm after the switch (default 5)")
    parser.add_argument("--keep-running", action="store_true",
                        help="leave Milvus, API replicas and router running at the end")
    parser.add_argument("--rebuild", action="store_true", help="rebuild half-built collections")
    args = parser.parse_args(argv)
    if args.users < 1 or args.user_rps <= 0:
        parser.error("--users must be >= 1 and --user-rps > 0")
    return args


@dataclass
class Outcome:
    """Everything the summary, the JSON report and the checks need."""

    data_promoted: bool = False
    service_promoted: bool = False
    gate: list[dict] = field(default_factory=list)
    rollback: dict[str, Any] = field(default_factory=dict)
    cutovers: dict[str, float] = field(default_factory=dict)
    verifications: dict[str, bool] = field(default_factory=dict)
    load: dict[str, Any] = field(default_factory=dict)
    failure: str = ""


# %% [markdown]
# ## The lesson
# Each step below is printed as a numbered panel with the equivalent command.


# %%
def run(args: Any) -> int:
    settings = settings_from_args(args)
    impl = load_impl("lab03_blue_green", args.impl)
    target = get_target(settings, lab=LAB)
    story = Narrator(LAB, "Blue-green releases with zero downtime")
    story.header(
        ["move a Milvus alias atomically after a pre-promotion gate (data layer)",
         "switch live traffic between API versions atomically (service layer)",
         "watch live traffic after a switch and roll back automatically"],
        targets="local (default), compose, kube", minutes=1,
    )
    console.print(settings_table({**target.describe(), "impl": args.impl,
                                  "fault": args.inject_fault or "none", "load": f"{args.users} users"}))
    if target.name == "local":
        story.info("Milvus Lite has no auth/TLS; lab 05 covers those on compose/kube.")
    if args.cleanup:
        if not confirm(f"Drop alias {ALIAS!r}, the lab's collections and stop its processes?", args.yes):
            console.print("nothing removed")
            return 0
        return cleanup(target)
    if args.dry_run:
        return dry_run(target, story)

    out = Outcome()
    report_path = args.report or default_report_path(settings, SCRIPT)
    try:
        lesson(args, settings, impl, target, story, out)
    finally:
        if not args.keep_running:
            target.teardown()
    write_summary(story, out, report_path)
    if out.failure:
        raise VerificationFailed(out.failure, fix="read the report; the live version was never in doubt")
    return 0


def lesson(args: Any, settings: Any, impl: Any, target: Any, story: Narrator, out: Outcome) -> None:
    # Step 1: blue is live
    with story.step("Blue is live",
                    f"Collection {V1.collection} ({V1.index.label()}) behind alias {ALIAS!r}; "
                    f"search API {V1.slot}/{V1.version} x{V1.replicas} takes all traffic.",
                    f"client.create_alias('{V1.collection}', '{ALIAS}')   # or alter_alias"):
        base = ensure_baseline(target, V1, rebuild=args.rebuild)
        target.retire(V2.slot)  # a leftover green from an interrupted run: never live here
        story.result(True, f"{V1.collection}: {base.collection.rows:,} rows "
                           f"({'reused' if base.collection.reused else 'built'}); alias {ALIAS} → {V1.collection}"
                           + (f" (was {base.alias_before})" if base.alias_before not in (None, V1.collection) else ""))
        story.result(True, f"live: {V1.slot} x{len(base.backends)} at {target.live_url()}")

    # Step 2: load starts and runs through every step below
    with story.step("Load starts",
                    f"{args.users} Locust users search continuously through the live route. A non-200, an "
                    "empty result or an unknown version counts as a failure.",
                    f"locust -f loadtests/blue_green.py --host {target.live_url()} --headless -u {args.users}"):
        run_dir = settings.path("load", "03")
        load = start_locust(
            locustfile("blue_green"), target.live_url(), users=args.users, spawn_rate=args.users,
            run_time_s=None, out_dir=run_dir,
            env={"MILVUS_LAB_DATASET_DIR": str(datasets.dataset_dir(settings, V1.dataset.name)),
                 "MILVUS_LAB_EXPECT_VERSIONS": "v1,v2", "MILVUS_LAB_USER_RPS": str(args.user_rps)},
        )
        story.result(True, f"Locust pid {load.pid}, files in {run_dir}")
    try:
        with live_panel(load, title="live traffic"):
            _wait_for_traffic(load, seconds=5)
            baseline = load.result().window(time.time() - 5, time.time(), "baseline")
            release(args, impl, target, story, out, load, baseline.p95_ms)
            time.sleep(3)  # steady traffic after the last change, for the timeline
    finally:
        load.stop()
    result = load.result()
    out.load = result.summary()
    out.load["phases_table"] = [(w.label, w.requests, w.failures, w.p50_ms, w.p95_ms, w.p99_ms)
                                for w in result.phases()]
    png = plot_timeline(result, settings.path("reports", "03_blue_green_timeline.png"),
                        title="Lab 03: traffic by served version, with the cutovers")
    out.load["timeline_png"] = str(png)
    _verify_traffic(args, out, result)


def release(args: Any, impl: Any, target: Any, story: Narrator, out: Outcome, load: Any,
            baseline_p95: float | None) -> None:
    candidate = V2
    client = milvus_client(target.ensure_milvus())
    try:
        promoted = data_release(args, impl, client, target, story, out, load, candidate)
    finally:
        client.close()
    if not promoted:
        return
    service_release(args, impl, target, story, out, load, candidate, baseline_p95)


# %% [markdown]
# ### Step 3: data-layer release (collection + alias)


# %%
def data_release(args: Any, impl: Any, client: Any, target: Any, story: Narrator, out: Outcome,
                 load: Any, rel: Release) -> bool:
    settings = target.settings
    faulty = args.inject_fault == "recall"
    name = f"{rel.collection}_faulty" if faulty else rel.collection
    with story.step(f"Build candidate {name}",
                    f"Dataset {rel.version} ({rel.dataset.n:,} rows) on {rel.index.label()}, built while "
                    f"{V1.slot} keeps serving. Nobody reads it until the alias moves."
                    + (" [fault: vectors misaligned with ids]" if faulty else ""),
                    f"client.create_collection('{name}', ...); client.insert(...); client.load_collection(...)"):
        ds = datasets.ensure_dataset(settings, rel.dataset)
        build_ds = faults.misaligned(ds) if faulty else ds
        # nobody reads the candidate yet, so a half-built one from an interrupted run is rebuilt
        serving = collections.alias_target(client, ALIAS) == name
        status = collections.ensure_collection(client, name, build_ds, rel.index,
                                               rebuild=args.rebuild or faulty or not serving)
        story.result(True, f"{name}: {status.rows:,} rows, index {status.index}, "
                           f"{'reused' if status.reused else 'built'}")

    with story.step("Pre-promotion gate",
                    "Measure the candidate before any user sees it: row count, recall@10 against exact "
                    "ground truth, p95 of a probe, filtered queries.",
                    f"client.search('{name}', data=queries, limit=10)   # vs numpy ground truth"):
        report = probes.measure_candidate(client, name, ds, rel.index)
        checks = impl.pre_promotion_gate(report, GatePolicy())
        for check in checks:
            story.result(check.passed, f"{check.name}: {check.observed} (required {check.required})")
        out.gate = [check.__dict__ for check in checks]
        passed = impl.gate_passed(checks)
    if not passed:
        load.mark("gate failed")
        with story.step("Candidate rejected",
                        "The gate failed, so the alias never moved: users kept getting v1 answers.",
                        f"client.drop_collection('{name}')"):
            client.drop_collection(name)
            story.result(True, f"alias {ALIAS} still → {collections.alias_target(client, ALIAS)}; {name} dropped")
        out.failure = "pre-promotion gate failed: " + ", ".join(c.name for c in checks if not c.passed)
        return False

    with story.step("Promote: move the alias",
                    "alter_alias is atomic: every search sees either the old or the new collection. "
                    f"{V1.collection} stays for the rollback window.",
                    f"client.alter_alias('{name}', '{ALIAS}')"):
        t0 = time.perf_counter()
        promotion = impl.promote(client, ALIAS, name)
        load.mark(f"alias → {rel.version}")
        out.cutovers["alias_switch_s"] = round(time.perf_counter() - t0, 4)
        story.result(promotion.current == name, f"alias {ALIAS}: {promotion.previous} → {promotion.current} "
                                                f"in {out.cutovers['alias_switch_s'] * 1000:.1f} ms")
        seen = traffic.sample(target.live_url(), ds, n=10)
        answered_by_new = seen.data_versions.get(rel.version, 0) == seen.ok == seen.total
        story.result(answered_by_new, f"answers now come from {dict(seen.data_versions)} data")
        out.verifications["answers come from v2 data after alias switch"] = answered_by_new
        out.data_promoted = True
    return True


# %% [markdown]
# ### Step 4: service-layer release (green replicas + router switch)


# %%
def service_release(args: Any, impl: Any, target: Any, story: Narrator, out: Outcome, load: Any,
                    rel: Release, baseline_p95: float | None) -> None:
    settings = target.settings
    fault_rate = faults.ERROR_RATE if args.inject_fault == "errors" else 0.0
    ds = datasets.ensure_dataset(settings, rel.dataset)
    with story.step(f"Deploy {rel.slot}/{rel.version}",
                    f"{rel.replicas} replicas of API {rel.version} start next to blue; readiness probes "
                    "(/readyz) must pass; the preview route reaches them, live traffic does not."
                    + (f" [fault: fails {fault_rate:.0%} of searches]" if fault_rate else ""),
                    "kubectl apply -f search-api-green.yaml && kubectl rollout status deploy/search-api-green"):
        urls = target.deploy(rel.api_config(target.api_milvus_uri(), fault_rate), rel.replicas)
        target.set_preview(rel.slot)
        smoke = traffic.sample(target.preview_url(), ds, n=20)
        ok = smoke.failed == 0 and set(smoke.served_by) == {f"{rel.slot}/{rel.version}"}
        story.result(ok, f"{len(urls)} ready; preview smoke: {smoke.ok}/{smoke.total} ok, "
                         f"served by {dict(smoke.served_by)}")
        if not ok:
            out.failure = f"preview smoke test of {rel.slot} failed: {smoke.errors[:2]}"
            target.retire(rel.slot)
            return

    with story.step(f"Switch live traffic to {rel.slot}",
                    "One atomic change: requests in flight finish on blue, new ones go to green.",
                    "kubectl patch service search-api -p '{\"spec\":{\"selector\":{\"slot\":\"green\"}}}'"):
        t0 = time.perf_counter()
        target.route({rel.slot: 100})
        switched_at = load.mark(f"router → {rel.slot}").t
        out.cutovers["router_switch_s"] = round(time.perf_counter() - t0, 4)
        out.service_promoted = True
        story.result(target.live_slots() == [rel.slot],
                     f"live: {target.live_slots()} in {out.cutovers['router_switch_s'] * 1000:.1f} ms")

    with story.step("Post-promotion analysis",
                    f"For {args.analysis_seconds:g}s, live traffic since the switch decides: error ratio and "
                    "p95 against the policy. A bad verdict rolls back router and alias at once.",
                    "kubectl argo rollouts get rollout search-api   # AnalysisRun, in miniature"):
        decision = watch(impl, load, switched_at, args.analysis_seconds, baseline_p95)
        story.result(not decision.rollback, f"{decision.action}: {decision.reason}")
    if decision.rollback:
        rollback(target, story, out, load, rel, reason=decision.reason, started=switched_at)
        out.failure = f"automatic rollback: {decision.reason}"
        return
    if args.rollback:
        rollback(target, story, out, load, rel, reason="manual rollback drill (--rollback)", started=None)
        return

    with story.step(f"Scale down {V1.slot}",
                    f"Blue stays warm {args.scale_down_delay:g}s (Argo Rollouts' scaleDownDelaySeconds) so a "
                    "rollback needs no cold start; then it stops.",
                    f"kubectl scale deploy/search-api-{V1.slot} --replicas=0"):
        time.sleep(args.scale_down_delay)
        target.retire(V1.slot)
        load.mark(f"{V1.slot} stopped")
        story.result(True, f"{V1.slot} retired; {V1.collection} kept for a data rollback")


def watch(impl: Any, load: Any, since: float, seconds: float, baseline_p95: float | None) -> Any:
    """Ask the rollback decision every half second until it says roll back or time is up."""
    policy = AnalysisPolicy()
    deadline = time.time() + seconds
    while True:
        time.sleep(0.5)
        w = load.result().window(since, time.time() + 1, "since switch")
        decision = impl.rollback_decision(TrafficWindow(w.requests, w.failures, w.p95_ms), baseline_p95, policy)
        if decision.rollback or time.time() >= deadline:
            break
    if decision.action == "wait":
        raise VerificationFailed(f"not enough traffic to judge the release ({decision.reason})",
                                 fix="raise --users or --analysis-seconds")
    return decision


# %% [markdown]
# ### Step 5: rollback (automatic or by hand)


# %%
def rollback(target: Any, story: Narrator, out: Outcome, load: Any, rel: Release, reason: str,
             started: float | None) -> None:
    with story.step("Roll back",
                    f"{reason}. Router back to {V1.slot}, alias back to {V1.collection}: both still warm.",
                    f"kubectl patch service search-api ...slot={V1.slot}; client.alter_alias('{V1.collection}', '{ALIAS}')"):
        t0 = time.perf_counter()
        target.route({V1.slot: 100})
        client = milvus_client(target.ensure_milvus())
        try:
            collections.point_alias(client, ALIAS, V1.collection)
            alias_now = collections.alias_target(client, ALIAS)
        finally:
            client.close()
        took = time.perf_counter() - t0
        done = load.mark("rollback").t
        out.rollback = {"reason": reason, "took_s": round(took, 4),
                        "since_switch_s": round(done - started, 2) if started else None,
                        "completed_at": done}
        story.result(alias_now == V1.collection and target.live_slots() == [V1.slot],
                     f"rolled back in {took * 1000:.0f} ms"
                     + (f", {done - started:.1f}s after the switch" if started else "")
                     + f"; live: {target.live_slots()}, alias {ALIAS} → {alias_now}")
        target.retire(rel.slot)


def _wait_for_traffic(load: Any, seconds: float) -> None:
    deadline = time.time() + 30
    while time.time() < deadline and load.snapshot().total_requests == 0:
        time.sleep(0.2)
    time.sleep(seconds)


def _verify_traffic(args: Any, out: Outcome, result: Any) -> None:
    out.verifications["load ran (>= 100 requests)"] = result.requests >= 100
    if args.inject_fault != "errors":
        out.verifications["0 failed requests"] = result.failures == 0
    if out.rollback.get("completed_at"):
        after = result.window(out.rollback["completed_at"] + 1, result.end + 1, "after rollback")
        out.verifications["no request served by v2 after rollback"] = after.versions.get("v2", 0) == 0
        out.rollback["requests_after"] = after.requests
    if out.service_promoted and not out.rollback:
        tail = result.window(result.end - 2, result.end + 1, "end")
        out.verifications["green/v2 answers at the end"] = set(tail.served_by) == {"green/v2"}
    failed = [name for name, ok in out.verifications.items() if not ok]
    if failed and not out.failure:
        out.failure = "verification failed: " + ", ".join(failed)


# %% [markdown]
# ## Summary and report


# %%
def write_summary(story: Narrator, out: Outcome, report_path: Path) -> None:
    if out.load:
        console.print(summary_table("Traffic by phase", ["phase", "requests", "failures", "p50 ms",
                                                         "p95 ms", "p99 ms"], out.load["phases_table"]))
        console.print(f"Total: {out.load['requests']:,} requests, {out.load['failures']} failed, "
                      f"{out.load['rps']:.0f} req/s; served by {out.load['served_by']}")
        console.print(f"Timeline: {out.load['timeline_png']}")
    console.print(summary_table("Verification", ["check", "passed"], list(out.verifications.items())))
    payload = {"lab": LAB, "steps": story.steps, "outcome": out,
               "elapsed_s": round(time.monotonic() - story.started, 2)}
    write_json_report(report_path, payload)
    console.print(f"Report: {report_path}")


def dry_run(target: Any, story: Narrator) -> int:
    with story.step("Plan (dry run)", "Nothing is changed: this is what the lesson would do.", None):
        for line in [f"ensure {V1.collection} ({V1.index.label()}) and alias {ALIAS} → it",
                     f"deploy {V1.slot}/{V1.version} x{V1.replicas}, route 100% to {V1.slot}",
                     f"build {V2.collection} ({V2.index.label()}), gate, alter alias",
                     f"deploy {V2.slot}/{V2.version}, preview, switch, analyse, retire {V1.slot}"]:
            story.info(line)
        if target.name == "kube":
            from milvus_lab.targets.kube import validate_plan

            for obj, ok, msg in validate_plan(target):
                story.result(ok, f"{obj}: {msg}")
    return 0


def cleanup(target: Any) -> int:
    """Remove what the lab made: processes (or kube objects by label), its collections and alias."""
    target.cleanup()
    try:
        uri = target.ensure_milvus()
    except PrerequisiteError:
        console.print("Milvus not reachable: collections left as they are")
        return 0
    client = milvus_client(uri)
    try:
        if collections.alias_target(client, ALIAS) is not None:
            client.drop_alias(ALIAS)
        for name in (V1.collection, V2.collection, f"{V2.collection}_faulty"):
            if client.has_collection(name):
                client.drop_collection(name)
    finally:
        client.close()
        target.teardown()
    console.print("[green]✔[/] lab 03 cleaned up (alias, collections, processes)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_lab(lambda: run(args), CLEANUP)


# %% [markdown]
# ## Run it
# From a shell: `python step05_production/03_blue_green_deployment.py [flags]`.
# In Jupyter this cell runs the whole lesson with the default flags.

# %%
if "ipykernel" in sys.modules:
    exit_code = main([])
    assert exit_code == 0, f"the lesson exited with {exit_code}: read the output above"
elif __name__ == "__main__":
    sys.exit(main())
