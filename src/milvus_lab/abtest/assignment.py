"""Variant assignment with the GrowthBook SDK, evaluated locally from a features file.

The experiment lives in the repo (`deploy/experiments/search-ab.json`, GrowthBook's SDK
payload format), so every replica on every target evaluates the same rules without a
GrowthBook server: a user id is hashed (FNV-1a, hashVersion 2) with the experiment's seed
into a bucket in [0, 1), and the weights split that range into variants. The same id
always lands in the same bucket, so assignment is sticky across requests, replicas and
restarts without any shared state.

A variation's value says what the variant changes (its Milvus search params) and, only in
the lab's drills, which fault it carries (`faults`): extra latency, an error rate, or an
integration bug that loses the exposure of part of the arm (the classic cause of SRM).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from growthbook import GrowthBook
from growthbook.core import chooseVariation, gbhash, getBucketRanges

from milvus_lab.errors import PrerequisiteError
from milvus_lab.settings import find_repo_root

FEATURE_KEY = "search-config"
EXPERIMENT_FILE = Path("deploy") / "experiments" / "search-ab.json"
NOT_IN_EXPERIMENT = ""  # the variant of a request that is not part of the experiment


@dataclass(frozen=True)
class Faults:
    """What a drill breaks in one variant (all zero in the repo's experiment)."""

    delay_ms: float = 0.0  # added to every search of the variant
    error_rate: float = 0.0  # share of its searches answered with HTTP 500
    lose_exposure: float = 0.0  # share of its USERS whose assignment is lost (SRM drill)

    @classmethod
    def from_value(cls, value: dict[str, Any] | None) -> Faults:
        raw = value or {}
        return cls(float(raw.get("delay_ms", 0)), float(raw.get("error_rate", 0)),
                   float(raw.get("lose_exposure", 0)))

    @property
    def any(self) -> bool:
        return bool(self.delay_ms or self.error_rate or self.lose_exposure)


@dataclass(frozen=True)
class Assignment:
    """Which variant serves one request, and with what search params."""

    user_id: str | None
    variant: str  # "A", "B", ... or NOT_IN_EXPERIMENT
    search_params: dict[str, Any]
    bucket: float | None = None  # the user's hash bucket in [0, 1) (None without a user id)
    faults: Faults = field(default_factory=Faults)

    @property
    def in_experiment(self) -> bool:
        return self.variant != NOT_IN_EXPERIMENT


@dataclass(frozen=True)
class Experiment:
    """One GrowthBook feature whose first experiment rule is the A/B test."""

    payload: dict[str, Any]
    feature_key: str = FEATURE_KEY

    @classmethod
    def from_payload(cls, payload: dict[str, Any], feature_key: str = FEATURE_KEY) -> Experiment:
        exp = cls(payload, feature_key)
        exp.rule  # noqa: B018 - validates: the feature and an experiment rule exist
        return exp

    @classmethod
    def from_json(cls, text: str) -> Experiment:
        try:
            payload = json.loads(text)
        except ValueError as exc:
            raise PrerequisiteError(f"experiment is not valid JSON: {exc}",
                                    fix=f"fix the features file ({EXPERIMENT_FILE})") from None
        return cls.from_payload(payload)

    @classmethod
    def from_file(cls, path: Path | None = None) -> Experiment:
        path = path or find_repo_root() / EXPERIMENT_FILE
        if not path.is_file():
            raise PrerequisiteError(f"no experiment file at {path}",
                                    fix=f"run from the repository checkout ({EXPERIMENT_FILE})")
        return cls.from_json(path.read_text())

    def to_json(self) -> str:
        return json.dumps(self.payload, separators=(",", ":"), sort_keys=True)

    # -- what the file says -------------------------------------------------------------
    @property
    def feature(self) -> dict[str, Any]:
        features = self.payload.get("features")
        if not isinstance(features, dict) or self.feature_key not in features:
            raise PrerequisiteError(f"the experiment payload has no feature {self.feature_key!r}",
                                    fix=f"define features.{self.feature_key} in {EXPERIMENT_FILE}")
        return features[self.feature_key]

    @property
    def rule(self) -> dict[str, Any]:
        for rule in self.feature.get("rules", []):
            if "variations" in rule:
                return rule
        raise PrerequisiteError(f"feature {self.feature_key!r} has no experiment rule",
                                fix="add a rule with variations, weights and a seed")

    @property
    def key(self) -> str:
        return str(self.rule["key"])

    @property
    def seed(self) -> str:
        return str(self.rule.get("seed") or self.key)

    @property
    def variants(self) -> list[str]:
        return [str(v["variant"]) for v in self.rule["variations"]]

    @property
    def weights(self) -> list[float]:
        n = len(self.rule["variations"])
        return [float(w) for w in self.rule.get("weights") or [1 / n] * n]

    def variation(self, variant: str) -> dict[str, Any]:
        for value in self.rule["variations"]:
            if value["variant"] == variant:
                return value
        raise KeyError(variant)

    def search_params(self, variant: str) -> dict[str, Any]:
        return dict(self.variation(variant).get("search_params", {}))

    # -- evaluation ---------------------------------------------------------------------
    def assign(self, user_id: str | None) -> Assignment:
        """Evaluate the feature for one user with the SDK (no network, no shared state)."""
        default = self.feature.get("defaultValue") or {}
        if not user_id:  # no id, no experiment: today's configuration, untagged
            return Assignment(None, NOT_IN_EXPERIMENT, dict(default.get("search_params", {})))
        gb = GrowthBook(attributes={"id": user_id}, features=self.payload["features"])
        try:
            result = gb.eval_feature(self.feature_key)
        finally:
            gb.destroy()
        exp = result.experimentResult
        if exp is None or not exp.inExperiment:
            return Assignment(user_id, NOT_IN_EXPERIMENT, dict(default.get("search_params", {})))
        value = result.value or {}
        faults = Faults.from_value(value.get("faults"))
        if faults.lose_exposure and lost(self.seed, user_id, faults.lose_exposure):
            # the drill's integration bug: this user's assignment is dropped on the floor
            return Assignment(user_id, NOT_IN_EXPERIMENT, dict(default.get("search_params", {})),
                              exp.bucket)
        return Assignment(user_id, str(value["variant"]), dict(value.get("search_params", {})),
                          exp.bucket, faults)

    # -- variants of the file for the drills --------------------------------------------
    def with_changes(self, variant: str, search_params: dict[str, Any] | None = None,
                     faults: Faults | None = None) -> Experiment:
        """A copy whose `variant` has other search params and/or faults."""
        payload = copy.deepcopy(self.payload)
        target = Experiment(payload, self.feature_key)
        value = target.variation(variant)
        if search_params is not None:
            value["search_params"] = dict(search_params)
        if faults is not None and faults.any:
            value["faults"] = {"delay_ms": faults.delay_ms, "error_rate": faults.error_rate,
                               "lose_exposure": faults.lose_exposure}
        return target


def lost(seed: str, user_id: str, share: float) -> bool:
    """The SRM drill's bug hits a fixed share of users (an independent hash of the id)."""
    n = gbhash(f"lost-exposure-{seed}", user_id, 2)
    return n is not None and n < share


def sdk_bucket_variant(experiment: Experiment, user_id: str) -> str:
    """The variant from GrowthBook's hashing primitives directly (the reference the API must match)."""
    rule = experiment.rule
    n = gbhash(experiment.seed, user_id, int(rule.get("hashVersion", 1)))
    if n is None:
        return NOT_IN_EXPERIMENT
    ranges = getBucketRanges(len(rule["variations"]), float(rule.get("coverage", 1.0)),
                             experiment.weights)
    index = chooseVariation(n, ranges)
    return NOT_IN_EXPERIMENT if index < 0 else experiment.variants[index]
