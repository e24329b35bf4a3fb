"""Wait for a rollout the way `kubectl rollout status` does, but stop early on real failures.

A pod in CrashLoopBackOff or ImagePullBackOff will not fix itself within the timeout, so
waiting the full five minutes only hides the reason. Each poll (every half second) reads
the workload's status and its pods; a failure condition raises at once with the pod's
reason and the `kubectl describe` command, and a timeout names the object and what was
still missing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from milvus_lab.errors import VerificationFailed
from milvus_lab.kube.apply import ObjectRef
from milvus_lab.kube.context import KIND_CLUSTER
from milvus_lab.progress import OnProgress, ProgressUpdate, ignore

#: Container waiting reasons that mean "this will not become ready by waiting".
FAILURE_REASONS = frozenset({
    "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName",
    "CreateContainerConfigError", "CreateContainerError", "RunContainerError", "ErrImageNeverPull",
})
IMAGE_REASONS = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"})
KINDS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1"}
T = TypeVar("T")


class WaitFailed(VerificationFailed):
    """A wait that ended in a failure condition or a timeout (exit code 1)."""

    def __init__(self, message: str, fix: str | None = None, ref: ObjectRef | None = None) -> None:
        super().__init__(message, fix)
        self.ref = ref


@dataclass(frozen=True)
class PodProblem:
    """Why one pod is not going to become ready."""

    pod: str
    namespace: str
    reason: str
    message: str = ""
    container: str = ""

    def __str__(self) -> str:
        where = f"pod {self.namespace}/{self.pod}" + (f" container {self.container}" if self.container else "")
        return f"{where}: {self.reason}" + (f": {self.message}" if self.message else "")

    @property
    def describe(self) -> str:
        return f"kubectl describe pod {self.pod} -n {self.namespace}"


@dataclass
class RolloutState:
    """One look at a Deployment or StatefulSet, with the pods it selects."""

    ref: ObjectRef
    desired: int
    updated: int = 0
    ready: int = 0
    available: int = 0
    pods: int = 0  # pods matching the selector, terminating ones included
    done: bool = False
    waiting_for: str = ""
    failure: str = ""
    problems: list[PodProblem] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # "pod: Unschedulable: 0/2 nodes ..."

    @property
    def line(self) -> str:
        return f"{self.ref.kubectl}: {self.ready}/{self.desired} ready, {self.updated} updated, {self.pods} pods"


def selector_string(match_labels: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((match_labels or {}).items()))


def pod_problems(pods: list[Any]) -> tuple[list[PodProblem], list[str]]:
    """Failures (will not recover by waiting) and pending reasons (may recover) of pods."""
    problems: list[PodProblem] = []
    pending: list[str] = []
    for pod in pods:
        name, ns = pod.metadata.name, pod.metadata.namespace
        if pod.metadata.deletion_timestamp:
            continue
        status = pod.status
        if status is None:
            continue
        if status.phase == "Failed":
            problems.append(PodProblem(name, ns, status.reason or "Failed", status.message or ""))
            continue
        for cs in [*(status.init_container_statuses or []), *(status.container_statuses or [])]:
            waiting = cs.state.waiting if cs.state else None
            if waiting and waiting.reason in FAILURE_REASONS:
                message = waiting.message or ""
                last = cs.last_state.terminated if cs.last_state else None
                if last is not None:
                    message = (f"last exit: {last.reason or 'Error'} (code {last.exit_code}) "
                               f"after {cs.restart_count} restarts. {message}").strip()
                problems.append(PodProblem(name, ns, waiting.reason, message, cs.name))
        for cond in status.conditions or []:
            if cond.type == "PodScheduled" and cond.status == "False":
                pending.append(f"{name}: {cond.reason}: {cond.message or ''}".strip())
    return problems, pending


def _condition(obj: Any, type_: str) -> Any:
    for cond in (obj.status.conditions if obj.status else None) or []:
        if cond.type == type_:
            return cond
    return None


def _deployment_state(dep: Any, r: ObjectRef) -> RolloutState:
    spec, st = dep.spec, dep.status
    desired = spec.replicas if spec.replicas is not None else 1
    state = RolloutState(r, desired, st.updated_replicas or 0, st.ready_replicas or 0, st.available_replicas or 0)
    progressing = _condition(dep, "Progressing")
    failure = _condition(dep, "ReplicaFailure")
    if progressing is not None and progressing.reason == "ProgressDeadlineExceeded":
        state.failure = f"ProgressDeadlineExceeded: {progressing.message}"
    elif failure is not None and failure.status == "True":
        state.failure = f"ReplicaFailure: {failure.reason}: {failure.message}"
    if (dep.metadata.generation or 0) > (st.observed_generation or 0):
        state.waiting_for = "the controller to observe the new spec"
    elif state.updated < desired:
        state.waiting_for = f"{desired - state.updated} pods to be updated"
    elif max(st.replicas or 0, state.ready) > desired:  # a scale-down the status has not caught up with
        state.waiting_for = f"{max(st.replicas or 0, state.ready) - desired} pods to terminate"
    elif (st.replicas or 0) > state.updated:
        state.waiting_for = f"{(st.replicas or 0) - state.updated} old pods to terminate"
    elif state.available < desired:
        state.waiting_for = f"{desired - state.available} pods to become available"
    return state


def _statefulset_state(sts: Any, r: ObjectRef) -> RolloutState:
    spec, st = sts.spec, sts.status
    desired = spec.replicas if spec.replicas is not None else 1
    state = RolloutState(r, desired, st.updated_replicas or 0, st.ready_replicas or 0, st.available_replicas or 0)
    if (sts.metadata.generation or 0) > (st.observed_generation or 0):
        state.waiting_for = "the controller to observe the new spec"
    elif (st.replicas or 0) != desired or state.ready < desired:
        state.waiting_for = f"{desired - state.ready} pods to become ready"
    elif st.update_revision and st.current_revision != st.update_revision and state.updated < desired:
        state.waiting_for = f"{desired - state.updated} pods to be updated"
    return state


def _failed_create(conn: Any, r: ObjectRef, since: dt.datetime) -> str:
    """A FailedCreate warning (quota, Pod Security) on the workload since the wait began."""
    events = conn.core.list_namespaced_event(
        r.namespace, field_selector=f"involvedObject.kind={r.kind},involvedObject.name={r.name}"
    ).items
    for ev in sorted(events, key=_event_time, reverse=True):
        if ev.type == "Warning" and ev.reason == "FailedCreate" and _event_time(ev) >= since:
            return f"FailedCreate: {ev.message}"
    return ""


def _event_time(ev: Any) -> dt.datetime:
    t = ev.last_timestamp or ev.event_time or ev.first_timestamp or ev.metadata.creation_timestamp
    return t or dt.datetime.min.replace(tzinfo=dt.timezone.utc)


def rollout_state(conn: Any, kind: str, name: str, namespace: str) -> RolloutState:
    """Read a Deployment/StatefulSet and its pods once."""
    if kind not in KINDS:
        raise ValueError(f"cannot wait for a {kind} rollout (only {', '.join(KINDS)})")
    r = ObjectRef(KINDS[kind], kind, name, namespace)
    if kind == "Deployment":
        obj = conn.apps.read_namespaced_deployment(name, namespace)
        state = _deployment_state(obj, r)
    else:
        obj = conn.apps.read_namespaced_stateful_set(name, namespace)
        state = _statefulset_state(obj, r)
    selector = selector_string(obj.spec.selector.match_labels)
    pods = conn.core.list_namespaced_pod(namespace, label_selector=selector).items
    state.pods = len(pods)
    state.problems, state.pending = pod_problems(pods)
    if not state.waiting_for and state.pods > state.desired:
        state.waiting_for = f"{state.pods - state.desired} pods to terminate"
    state.done = not state.waiting_for and not state.failure
    return state


def _fix_for(problem: PodProblem, is_kind: bool) -> str:
    fix = problem.describe + f"; kubectl logs {problem.pod} -n {problem.namespace} --previous"
    if problem.reason in IMAGE_REASONS and is_kind:
        fix = (f"{problem.describe}; if the image is local, load it into kind: "
               f"kind load docker-image <image> --name {KIND_CLUSTER}")
    return fix


def wait_for_rollout(
    conn: Any,
    kind: str,
    name: str,
    namespace: str,
    *,
    timeout: float = 300.0,
    interval: float = 0.5,
    on_progress: OnProgress = ignore,
    on_state: Callable[[RolloutState], None] | None = None,
) -> RolloutState:
    """Poll until the rollout is complete; raise WaitFailed on a failure condition or timeout."""
    started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
    deadline = time.monotonic() + timeout
    while True:
        state = rollout_state(conn, kind, name, namespace)
        if on_state:
            on_state(state)
        on_progress(ProgressUpdate(f"{kind.lower()}/{name}", min(state.ready, state.desired),
                                   max(state.desired, 1), f"{kind.lower()}/{name} ready"))
        if state.done:
            return state
        if state.problems:
            first = state.problems[0]
            raise WaitFailed(
                f"{state.ref} cannot become ready: {first}"
                + (f" (and {len(state.problems) - 1} more)" if len(state.problems) > 1 else ""),
                fix=_fix_for(first, conn.is_kind), ref=state.ref)
        if not state.failure and kind == "StatefulSet" and state.ready < state.desired:
            state.failure = _failed_create(conn, state.ref, started)
        if state.failure:
            raise WaitFailed(f"{state.ref} rollout failed: {state.failure}",
                             fix=f"kubectl describe {state.ref.kubectl}", ref=state.ref)
        if time.monotonic() >= deadline:
            pending = f"; pending: {state.pending[0]}" if state.pending else ""
            raise WaitFailed(
                f"{state.ref} not ready after {timeout:.0f}s: {state.line}; waiting for "
                f"{state.waiting_for}{pending}",
                fix=f"kubectl describe {state.ref.kubectl}; kubectl get pods -n {namespace}",
                ref=state.ref)
        time.sleep(interval)

