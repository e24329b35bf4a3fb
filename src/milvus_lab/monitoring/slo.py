"""SLO rules: Sloth generates them from the spec; the lab runs a time-scaled copy.

- `generate()` runs Sloth on `deploy/slo/search-api.yaml` and writes
  `deploy/prometheus/rules/search-api-slos.yml` (committed; a test fails when stale).
- `scale_rules()` divides every range window and `for:` of a rule file by a factor, so a
  lab lasting minutes exercises the same alert logic: with factor 60, the page alert's
  5m/1h windows become 5s/60s and the 30-day budget period becomes 12 hours. Rule and
  label names keep their production windows (`slo:sli_error:ratio_rate5m`), so queries
  and dashboards are the same. The unscaled rules are what `promtool test rules` proves.

    python -m milvus_lab.monitoring.slo generate   # after editing the spec
    python -m milvus_lab.monitoring.slo check      # exit 1 when the committed rules are stale
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

from milvus_lab.monitoring import tools
from milvus_lab.monitoring.promapi import PromApi
from milvus_lab.settings import find_repo_root

SPEC = Path("deploy/slo/search-api.yaml")
RULES = Path("deploy/prometheus/rules/search-api-slos.yml")
LAB_SCALE = 60  # one production hour = one lab minute
# The objectives of deploy/slo/search-api.yaml, by the alert Sloth generates for each SLO.
OBJECTIVES = {"SearchApiHighErrorRate": 99.9, "SearchApiHighLatency": 99.0}
# Each SLO's bad and total events over a window W (the drill's length): (slo, alert, bad, total).
BUDGET_QUERIES = (
    ("requests-availability", "SearchApiHighErrorRate",
     'sum(increase(search_api_requests_total{endpoint="/search",status=~"5.."}[W]))',
     'sum(increase(search_api_requests_total{endpoint="/search"}[W]))'),
    ("requests-latency", "SearchApiHighLatency",
     'sum(increase(search_api_request_duration_seconds_count[W])) - '
     'sum(increase(search_api_request_duration_seconds_bucket{le="0.5"}[W]))',
     "sum(increase(search_api_request_duration_seconds_count[W]))"),
)

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_RANGE = re.compile(r"\[((?:\d+(?:ms|s|m|h|d|w|y))+)(:[^\]]*)?\]")


def parse_duration(text: str) -> float:
    """Prometheus duration (`1h30m`, `5m`, `30d`) in seconds."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def format_duration(seconds: float) -> str:
    """Seconds as a Prometheus duration, whole seconds when possible (`5s`, `12h`)."""
    ms = round(seconds * 1000)
    for unit, size in (("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def scale_expr(expr: str, factor: float) -> str:
    """Every `[window]` in a PromQL expression divided by `factor`."""
    def repl(m: re.Match[str]) -> str:
        return f"[{format_duration(parse_duration(m.group(1)) / factor)}{m.group(2) or ''}]"
    return _RANGE.sub(repl, expr)


def scale_rules(doc: dict, factor: float) -> dict:
    """A copy of a Prometheus rule file (parsed YAML) with windows and `for:` divided."""
    groups = []
    for group in doc.get("groups", []):
        rules = []
        for rule in group.get("rules", []):
            rule = dict(rule)
            rule["expr"] = scale_expr(str(rule["expr"]), factor)
            if "for" in rule:
                rule["for"] = format_duration(parse_duration(str(rule["for"])) / factor)
            rules.append(rule)
        scaled = {**group, "rules": rules}
        if "interval" in group:
            scaled["interval"] = format_duration(parse_duration(str(group["interval"])) / factor)
        groups.append(scaled)
    return {"groups": groups}


def write_scaled(src_dir: Path, out_dir: Path, factor: float) -> list[Path]:
    """Scaled copies of every rule file in `src_dir` (the lab's Prometheus loads these)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.yml"):
        old.unlink()
    written = []
    for path in sorted(src_dir.glob("*.yml")):
        doc = scale_rules(yaml.safe_load(path.read_text()), factor)
        out = out_dir / path.name
        header = f"# Scaled copy of {path.name}: every window and `for:` divided by {factor:g}.\n"
        out.write_text(header + yaml.safe_dump(doc, sort_keys=False, width=200))
        written.append(out)
    return written


def run_sloth(spec: Path, out: Path) -> None:
    sloth = tools.require_sloth()
    proc = subprocess.run([str(sloth), "generate", "-i", str(spec), "-o", str(out)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"sloth generate failed:\n{proc.stderr[-2000:]}")


def generate(root: Path | None = None) -> Path:
    root = root or find_repo_root()
    out = root / RULES
    out.parent.mkdir(parents=True, exist_ok=True)
    run_sloth(root / SPEC, out)
    return out


def stale(root: Path | None = None) -> str | None:
    """None when the committed rules equal what Sloth makes from the spec now, else why."""
    root = root or find_repo_root()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "rules.yml"
        run_sloth(root / SPEC, fresh)
        committed = root / RULES
        if not committed.is_file():
            return f"{RULES} is missing"
        if yaml.safe_load(fresh.read_text()) != yaml.safe_load(committed.read_text()):
            return f"{RULES} differs from what Sloth generates from {SPEC}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m milvus_lab.monitoring.slo")
    parser.add_argument("command", choices=("generate", "check"))
    args = parser.parse_args(argv)
    if args.command == "generate":
        print(f"wrote {generate()}")
        return 0
    reason = stale()
    if reason:
        print(f"{reason}; run: python -m milvus_lab.monitoring.slo generate", file=sys.stderr)
        return 1
    print("SLO rules are up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


_CONDITION = re.compile(r"slo:sli_error:ratio_rate(\w+)\{[^}]*\}\s*>\s*\(([\d.]+)\s*\*\s*([\d.eE+-]+)\)")


class AlertWindowLike(Protocol):
    """One multi-window condition (the exercise's `AlertWindow`)."""

    severity: str
    long_s: float
    short_s: float
    budget_spent: float


@dataclass(frozen=True)
class RuleCondition:
    """One `ratio_rate<window> > (burn * budget)` comparison inside a generated alert."""

    alert: str
    severity: str
    window_s: float
    burn_rate: float
    threshold: float  # burn x (1 - objective), the error ratio compared against


def rule_conditions(doc: dict) -> list[RuleCondition]:
    """Every burn-rate comparison of every alert in a Sloth rule file (parsed YAML)."""
    found = []
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            if "alert" not in rule:
                continue
            severity = rule.get("labels", {}).get("sloth_severity", "")
            for window, burn, budget in _CONDITION.findall(str(rule["expr"])):
                found.append(RuleCondition(rule["alert"], severity, parse_duration(window),
                                           float(burn), float(burn) * float(budget)))
    return found


def threshold_mismatches(conditions: list[RuleCondition], windows: Sequence[AlertWindowLike],
                         burn_rate: Callable[[float, float], float],
                         error_ratio_threshold: Callable[[float, float], float]) -> list[str]:
    """Each generated comparison whose threshold differs from the one computed with the given
    functions (the lab passes the learner's exercise); empty = all equal."""
    out = []
    for c in conditions:
        w = next(w for w in windows if w.severity == c.severity and c.window_s in (w.long_s, w.short_s))
        mine = error_ratio_threshold(OBJECTIVES[c.alert], burn_rate(w.budget_spent, w.long_s))
        if abs(mine - c.threshold) > 1e-9:
            out.append(f"{c.alert}/{c.severity}/{c.window_s:g}s: {mine:.5f} vs {c.threshold:.5f}")
    return out


def error_budgets(api: PromApi, window_s: float, at: float,
                  budget_remaining: Callable[[float, float, float], float]) -> dict[str, dict[str, float | None]]:
    """Per SLO: Sloth's `slo:period_error_budget_remaining:ratio` next to `budget_remaining`
    (the learner's) over the bad/total events of the last `window_s` before `at`."""
    window = f"{max(1, round(window_s))}s"
    out: dict[str, dict[str, float | None]] = {}
    for slo_name, alert, bad_q, total_q in BUDGET_QUERIES:
        sloth_left = api.query(f'slo:period_error_budget_remaining:ratio{{sloth_slo="{slo_name}"}}')
        bad = api.query(bad_q.replace("W", window), at=at) or 0.0
        total = api.query(total_q.replace("W", window), at=at) or 0.0
        out[slo_name] = {"sloth_remaining": sloth_left, "drill_remaining": budget_remaining(OBJECTIVES[alert], bad, total),
                         "bad_events": bad, "events": total}
    return out


def budget_line(name: str, budget: dict[str, float | None]) -> str:
    """One SLO's budget for the console: Sloth's view next to the drill's events."""
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1%}"

    return (f"{name}: Sloth {pct(budget['sloth_remaining'])} left, drill events "
            f"{pct(budget['drill_remaining'])} left ({budget['bad_events']:,.0f} bad of {budget['events']:,.0f})")
