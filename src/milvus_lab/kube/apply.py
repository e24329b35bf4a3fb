"""Validate and apply manifests: offline schema checks, server dry-run, server-side apply.

Three gates, cheapest first:
1. `validate_offline` checks each object against the Kubernetes OpenAPI schema
   (kubernetes-validate, strict: unknown fields are errors) with no cluster at all;
2. `apply_objects(dry_run=True)` asks the real API server, which also runs defaulting
   and admission, and changes nothing;
3. `apply_objects()` server-side applies with field manager `milvus-lab`, so re-running
   a lab is idempotent and `kubectl apply --server-side` would agree with us.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from milvus_lab.errors import PrerequisiteError
from milvus_lab.kube.labels import FIELD_MANAGER

#: Schema version used when no cluster tells us its own (the testenv and kind both run 1.33).
SCHEMA_VERSION = "1.33"
REDACTED = "<redacted>"


@dataclass(frozen=True)
class ObjectRef:
    """Names one object the way kubectl does."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    @property
    def kubectl(self) -> str:
        """`deployment/search-api-blue -n milvus-lab`: paste after `kubectl describe`."""
        ns = f" -n {self.namespace}" if self.namespace else ""
        return f"{self.kind.lower()}/{self.name}{ns}"


# A manifest: one of the kubernetes client's ~30 model classes (V1Deployment, ...) or its dict form.
KubeObject = Any


def to_dict(obj: KubeObject) -> dict[str, Any]:
    """A manifest as the API server sees it (camelCase keys, no None) from a model or dict."""
    if isinstance(obj, dict):
        return obj
    from kubernetes.client import ApiClient

    return ApiClient().sanitize_for_serialization(obj)


def ref(obj: Any) -> ObjectRef:
    d = to_dict(obj)
    meta = d.get("metadata") or {}
    return ObjectRef(d.get("apiVersion", "?"), d.get("kind", "?"), meta.get("name", "?"), meta.get("namespace"))


def redact(obj: Any) -> dict[str, Any]:
    """A copy with Secret values replaced, for anything printed or written for reading."""
    d = json.loads(json.dumps(to_dict(obj)))
    if d.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if d.get(key):
                d[key] = {k: REDACTED for k in d[key]}
    return d


def to_yaml(objs: Iterable[Any]) -> str:
    """Multi-document YAML of the objects, Secrets redacted: for reading, not for applying."""
    return yaml.safe_dump_all([redact(o) for o in objs], sort_keys=False, default_flow_style=False)


# ---- offline validation -------------------------------------------------------------------
@dataclass(frozen=True)
class SchemaIssue:
    """One object that fails the schema: which object, which field, what is wrong."""

    ref: ObjectRef
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.ref}: {self.path or '(top level)'}: {self.message}"


def _field_path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def schema_version(server_version: str) -> str:
    """The newest bundled schema not newer than the server (a newer server gets the newest)."""
    from kubernetes_validate.utils import all_versions, major_minor

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in major_minor(v.lstrip("v")).split("."))

    known = sorted({major_minor(v) for v in all_versions()}, key=key)
    fitting = [v for v in known if key(v) <= key(server_version)]
    return fitting[-1] if fitting else known[0]


def validate_offline(objs: Sequence[Any], kube_version: str = SCHEMA_VERSION) -> list[SchemaIssue]:
    """Check every object against the OpenAPI schema of `kube_version`; no cluster needed.

    Strict mode: an unknown field (a typo such as `replica:`) is an error, where kubectl
    would silently drop it.
    """
    import kubernetes_validate
    from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

    kube_version = schema_version(kube_version)
    issues: list[SchemaIssue] = []
    for obj in objs:
        d = to_dict(obj)
        r = ref(d)
        if not d.get("apiVersion") or not d.get("kind"):
            issues.append(SchemaIssue(r, "", "apiVersion and kind are required"))
            continue
        try:
            kubernetes_validate.validate(d, kube_version, strict=True)
        except ValidationError as exc:
            issues.append(SchemaIssue(r, _field_path(exc.absolute_path), exc.message))
        except SchemaNotFoundError:
            issues.append(SchemaIssue(
                r, "apiVersion",
                f"Kubernetes {kube_version} has no {d['kind']} in {d['apiVersion']} (removed or misspelled API?)",
            ))
    return issues


def ensure_valid(objs: Sequence[Any], kube_version: str = SCHEMA_VERSION) -> int:
    """Raise one PrerequisiteError listing every invalid object; return how many were checked."""
    issues = validate_offline(objs, kube_version)
    if issues:
        lines = "\n".join(f"  - {i}" for i in issues)
        raise PrerequisiteError(
            f"{len(issues)} of {len(objs)} objects fail the Kubernetes {kube_version} schema:\n{lines}",
            fix="fix the named field in the builder (see `kubectl explain <kind>.<field>`)",
        )
    return len(objs)


# ---- server-side apply ----------------------------------------------------------------------
@dataclass
class ApplyResult:
    """What the API server did with one object."""

    ref: ObjectRef
    action: str  # created | configured | unchanged | would create | would update
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)
    note: str = ""
    object: dict[str, Any] = field(default_factory=dict, repr=False)


def server_error(exc: Any) -> str:
    """The API server's reason, with the fields it names (422 details.causes)."""
    try:
        body = json.loads(exc.body)
    except (TypeError, ValueError):
        return f"HTTP {getattr(exc, 'status', '?')} {getattr(exc, 'reason', '')}".strip()
    causes = (body.get("details") or {}).get("causes") or []
    if causes:
        return "; ".join(f"{c.get('field', '?')}: {c.get('message', c.get('reason', ''))}" for c in causes)
    return body.get("message") or str(body)


def _warnings(resp: Any) -> list[str]:
    headers = getattr(resp, "headers", None)
    if headers is None:
        return []
    values = headers.getlist("Warning") if hasattr(headers, "getlist") else [headers.get("Warning")]
    out = []
    for v in values:
        if v:  # `299 - "message"`
            out.append(v.split(" - ", 1)[-1].strip().strip('"').replace('\\"', '"'))
    return out


def _namespace_exists(conn: Any, name: str) -> bool:
    from kubernetes.client.rest import ApiException

    try:
        conn.core.read_namespace(name)
        return True
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise


def _changed(before: Any, after: dict[str, Any]) -> bool:
    """Did the apply change the object? The spec generation when there is one (a change in
    field ownership alone is no change), else the resourceVersion."""
    if before.generation is not None and after.get("generation") is not None:
        labels = before.labels.to_dict() if before.labels is not None else {}
        return bool(before.generation != after["generation"] or labels != (after.get("labels") or {}))
    return bool(before.resourceVersion != after.get("resourceVersion"))


def apply_objects(
    conn: Any,
    objs: Sequence[Any],
    *,
    dry_run: bool = False,
    field_manager: str = FIELD_MANAGER,
) -> list[ApplyResult]:
    """Server-side apply each object in order (force conflicts: this manager owns its fields).

    With `dry_run` the server validates, defaults and admits but stores nothing. Namespaced
    objects whose namespace does not exist yet are dry-run in `default` and say so.
    """
    from kubernetes.client.rest import ApiException

    results: list[ApplyResult] = []
    known_ns: dict[str, bool] = {}
    for obj in objs:
        body = json.loads(json.dumps(to_dict(obj)))
        r = ref(body)
        note = ""
        try:
            resource = conn.dynamic.resources.get(api_version=r.api_version, kind=r.kind)
        except Exception as exc:  # noqa: BLE001 - ResourceNotFoundError and discovery errors
            raise PrerequisiteError(
                f"{r}: the cluster does not serve {r.kind} in {r.api_version} ({type(exc).__name__})",
                fix=f"{conn.kubectl('api-resources')} lists what it serves",
            ) from None
        ns = r.namespace if resource.namespaced else None
        if dry_run and ns:
            if ns not in known_ns:
                known_ns[ns] = _namespace_exists(conn, ns)
            if not known_ns[ns]:
                body["metadata"]["namespace"] = ns = "default"
                note = f"namespace {r.namespace} does not exist yet: dry-run in default"
        try:
            before = conn.dynamic.get(resource, name=r.name, namespace=ns)
        except ApiException as exc:
            if exc.status != 404:
                raise PrerequisiteError(f"{r}: cannot read it: {server_error(exc)}") from None
            before = None
        try:
            resp = conn.dynamic.server_side_apply(
                resource, body=body, name=r.name, namespace=ns, field_manager=field_manager,
                force_conflicts=True, dry_run="All" if dry_run else None, serialize=False,
            )
        except ApiException as exc:
            verb = "server dry-run rejected" if dry_run else "the API server rejected"
            raise PrerequisiteError(
                f"{verb} {r}: {server_error(exc)}",
                fix=f"fix the builder, then check with {conn.kubectl('apply --server-side --dry-run=server -f <file>')}",
            ) from None
        after = json.loads(resp.data.decode("utf-8"))
        if dry_run:  # nothing is stored, so the resourceVersion cannot tell "changed"
            action = "would create" if before is None else "would update"
        elif before is None:
            action = "created"
        else:
            action = "configured" if _changed(before.metadata, after.get("metadata") or {}) else "unchanged"
        results.append(ApplyResult(r, action, dry_run, _warnings(resp), note, after))
    return results


def kubectl_apply_command(path: str, dry_run: bool = False) -> str:
    """The kubectl line equivalent to `apply_objects` for a rendered file."""
    cmd = f"kubectl apply --server-side --field-manager={FIELD_MANAGER} --force-conflicts -f {path}"
    return cmd + (" --dry-run=server" if dry_run else "")
