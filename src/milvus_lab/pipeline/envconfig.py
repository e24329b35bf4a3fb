"""Per-environment configuration: dev / staging / prod as overlays of one base.

`render(env)` deep-merges `base.yaml` with `<env>.yaml`; `diff()` shows exactly which keys
differ between environments; `validate()` refuses a bad value before anything is deployed.
Secrets stay references (`{secretRef: NAME}`) in everything rendered or printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from milvus_lab.errors import PrerequisiteError

ENVIRONMENTS = ("dev", "staging", "prod")
LOG_LEVELS = ("debug", "info", "warning", "error")
_CPU = re.compile(r"^(\d+m|\d+(\.\d+)?)$")
_MEMORY = re.compile(r"^\d+(Mi|Gi)$")
Config = dict[str, object]


def merge(base: Config, overlay: Config) -> Config:
    """Deep merge: mappings merge key by key, anything else in the overlay replaces."""
    out = dict(base)
    for key, value in overlay.items():
        old = out.get(key)
        out[key] = merge(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


def _load(path: Path) -> Config:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise PrerequisiteError(f"{path} not found", fix="restore it from git (git checkout -- deploy/pipeline)") from exc
    except yaml.YAMLError as exc:
        raise PrerequisiteError(f"{path} is not valid YAML: {exc}", fix=f"fix the syntax of {path}") from exc
    if not isinstance(data, dict):
        raise PrerequisiteError(f"{path} must be a mapping", fix="write key: value pairs")
    return data


def render(config_dir: Path, env: str, overrides: Config | None = None) -> Config:
    """The full configuration of one environment (base + overlay + optional overrides)."""
    if env not in ENVIRONMENTS:
        raise PrerequisiteError(f"unknown environment {env!r}", fix=f"use one of {', '.join(ENVIRONMENTS)}")
    cfg = merge(_load(config_dir / "base.yaml"), _load(config_dir / f"{env}.yaml"))
    return merge(cfg, overrides or {})


def flatten(cfg: Config, prefix: str = "") -> dict[str, object]:
    """`{"search": {"ef": 64}}` -> `{"search.ef": 64}` (a secret reference stays one value)."""
    out: dict[str, object] = {}
    for key, value in cfg.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and "secretRef" not in value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


@dataclass(frozen=True)
class Difference:
    key: str
    values: dict[str, object]  # env -> value (None when the key is absent)


def diff(configs: dict[str, Config]) -> list[Difference]:
    """The keys whose values are not the same in every environment, sorted."""
    flat = {env: flatten(cfg) for env, cfg in configs.items()}
    keys = sorted({k for f in flat.values() for k in f})
    out = []
    for key in keys:
        values = {env: f.get(key) for env, f in flat.items()}
        if len({repr(v) for v in values.values()}) > 1:
            out.append(Difference(key, values))
    return out


def problems(cfg: Config) -> list[str]:
    """Every bad value in one rendered config (empty when it can be deployed)."""
    flat = flatten(cfg)
    errs: list[str] = []

    def number(key: str, lo: float, hi: float, integer: bool = False) -> None:
        value = flat.get(key)
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type or not lo <= float(value) <= hi:  # type: ignore[arg-type]
            kind = "an integer" if integer else "a number"
            errs.append(f"{key}={value!r}: must be {kind} in [{lo:g}, {hi:g}]")

    number("replicas", 1, 8, integer=True)
    number("search.ef", 1, 4096, integer=True)
    number("search.top_k", 1, 100, integer=True)
    number("search.timeout_s", 0.1, 30)
    number("gates.smoke_requests", 1, 100, integer=True)
    number("gates.watch_requests", 4, 2000, integer=True)
    number("gates.max_error_ratio", 0, 1)
    if isinstance(flat.get("search.ef"), int) and isinstance(flat.get("search.top_k"), int) \
            and flat["search.ef"] < flat["search.top_k"]:  # type: ignore[operator]
        errs.append(f"search.ef={flat['search.ef']} < search.top_k={flat['search.top_k']}: HNSW needs ef >= k")
    if flat.get("log_level") not in LOG_LEVELS:
        errs.append(f"log_level={flat.get('log_level')!r}: must be one of {', '.join(LOG_LEVELS)}")
    if not _CPU.match(str(flat.get("resources.cpu", ""))):
        errs.append(f"resources.cpu={flat.get('resources.cpu')!r}: use millicores (500m) or cores (1)")
    if not _MEMORY.match(str(flat.get("resources.memory", ""))):
        errs.append(f"resources.memory={flat.get('resources.memory')!r}: use Mi or Gi (512Mi)")
    if not str(flat.get("search.collection", "")).isidentifier():
        errs.append(f"search.collection={flat.get('search.collection')!r}: must be an identifier")
    for key, value in flat.items():
        secretish = any(word in key for word in ("token", "password", "secret"))
        if secretish and not (isinstance(value, dict) and set(value) == {"secretRef"}):
            errs.append(f"{key}: a secret must be a reference ({{secretRef: NAME}}), never a value")
    return errs


def validate(config_dir: Path, overrides: dict[str, Config] | None = None) -> dict[str, Config]:
    """Render every environment; raise PrerequisiteError (exit 2) naming each bad value."""
    configs = {env: render(config_dir, env, (overrides or {}).get(env)) for env in ENVIRONMENTS}
    errs = [f"{env}: {p}" for env, cfg in configs.items() for p in problems(cfg)]
    if errs:
        raise PrerequisiteError(
            "bad environment configuration, nothing deployed:\n  " + "\n  ".join(errs),
            fix=f"fix the values in {config_dir}/<env>.yaml",
        )
    return configs


def parse_override(text: str) -> tuple[str, Config]:
    """`prod:search.ef=8` -> ("prod", {"search": {"ef": 8}}) (the value parsed as YAML)."""
    try:
        env, assignment = text.split(":", 1)
        dotted, raw = assignment.split("=", 1)
    except ValueError as exc:
        raise PrerequisiteError(f"bad --set {text!r}", fix="write ENV:KEY.PATH=VALUE, e.g. prod:replicas=2") from exc
    value: object = yaml.safe_load(raw)
    for part in reversed(dotted.split(".")):
        value = {part: value}
    return env, value  # type: ignore[return-value]
