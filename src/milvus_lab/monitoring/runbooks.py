"""Runbooks: every alert rule's `runbook_url` annotation names a file in the repo
(`docs/runbooks/*.md`); the drill prints its "First step:" line when the alert fires."""

from __future__ import annotations

from pathlib import Path

import yaml


def alert_rules(rules_dir: Path) -> list[dict]:
    """Every alerting rule in the rule files of `rules_dir`."""
    found = []
    for path in sorted(rules_dir.glob("*.yml")):
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", []):
            found += [r for r in group.get("rules", []) if "alert" in r]
    return found


def runbook_for(rules_dir: Path, alert: str) -> str | None:
    for rule in alert_rules(rules_dir):
        if rule["alert"] == alert:
            return rule.get("annotations", {}).get("runbook_url")
    return None


def first_step(repo_root: Path, runbook: str) -> str:
    """The runbook's "First step:" line (what on-call does in the first minute)."""
    for line in (repo_root / runbook).read_text().splitlines():
        if line.startswith("First step:"):
            return line.removeprefix("First step:").strip()
    return f"(no 'First step:' line in {runbook})"
