"""Assignment is GrowthBook's: the features file evaluated by the SDK, matching its hashing."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from growthbook import GrowthBook
from growthbook.core import gbhash

from milvus_lab.abtest.assignment import (
    NOT_IN_EXPERIMENT,
    Experiment,
    Faults,
    sdk_bucket_variant,
)
from milvus_lab.errors import PrerequisiteError

# pinned: a changed seed, hash version or weights in the file reshuffles every user
PINNED = {"user-0": "B", "user-1": "A", "user-2": "A", "user-3": "B", "alice": "B",
          "bob": "A", "u123-4": "A", "u999-0": "B", "42": "A", "ユーザー": "B"}


@pytest.fixture(scope="module")
def experiment() -> Experiment:
    return Experiment.from_file()


def test_the_repo_experiment(experiment):
    assert experiment.variants == ["A", "B"] and experiment.weights == [0.5, 0.5]
    assert experiment.rule["hashVersion"] == 2 and experiment.rule["hashAttribute"] == "id"
    assert experiment.search_params("A") != experiment.search_params("B")


def test_assignment_matches_the_sdk_hashing_for_fixed_ids(experiment):
    for user, expected in PINNED.items():
        got = experiment.assign(user)
        assert got.variant == expected == sdk_bucket_variant(experiment, user), user
        assert got.bucket == gbhash(experiment.seed, user, 2)
        assert got.search_params == experiment.search_params(expected)


def test_assignment_equals_a_plain_sdk_evaluation_and_splits_evenly(experiment):
    counts = Counter()
    for i in range(2000):
        user = f"user-{i}"
        gb = GrowthBook(attributes={"id": user}, features=experiment.payload["features"])
        sdk = gb.eval_feature(experiment.feature_key).value["variant"]
        gb.destroy()
        mine = experiment.assign(user)
        assert mine.variant == sdk == sdk_bucket_variant(experiment, user)
        assert experiment.assign(user) == mine  # sticky: same id, same answer
        counts[mine.variant] += 1
    assert 900 <= counts["A"] <= 1100, counts


def test_no_user_id_is_not_in_the_experiment(experiment):
    out = experiment.assign(None)
    assert out.variant == NOT_IN_EXPERIMENT and not out.in_experiment
    assert out.search_params == experiment.feature["defaultValue"]["search_params"]


def test_drill_variants_of_the_file(experiment):
    aa = experiment.with_changes("B", search_params=experiment.search_params("A"))
    assert aa.search_params("B") == experiment.search_params("A")
    assert experiment.search_params("B") != experiment.search_params("A")  # the original is untouched
    lossy = experiment.with_changes("B", faults=Faults(lose_exposure=0.5))
    counts = Counter(lossy.assign(f"user-{i}").variant for i in range(2000))
    assert 400 <= counts["B"] <= 600 and 900 <= counts["A"] <= 1100, counts
    assert counts[NOT_IN_EXPERIMENT] == 2000 - counts["A"] - counts["B"]
    slow = Experiment.from_json(experiment.with_changes("B", faults=Faults(delay_ms=5, error_rate=0.1)).to_json())
    b_user = next(u for u in PINNED if PINNED[u] == "B")
    assert slow.assign(b_user).faults == Faults(5.0, 0.1, 0.0)
    assert not slow.assign("user-1").faults.any


def test_bad_experiment_files_are_clear():
    with pytest.raises(PrerequisiteError, match="not valid JSON"):
        Experiment.from_json("{nope")
    with pytest.raises(PrerequisiteError, match="no feature"):
        Experiment.from_json(json.dumps({"features": {}}))
    with pytest.raises(PrerequisiteError, match="no experiment rule"):
        Experiment.from_json(json.dumps({"features": {"search-config": {"defaultValue": {}, "rules": []}}}))
