"""Lab 01's exercise and the library: the library keeps only the probes (lab 03's API
pods need them without lab 01's exercise) and they must equal the reference solution's;
the HPA, PDB and NetworkPolicies exist once, in the exercise."""

from __future__ import annotations

import pytest

from milvus_lab.kube import apply
from milvus_lab.kube import manifests as m
from milvus_lab.labkit import load_impl


@pytest.fixture(scope="module")
def solution():
    return load_impl("lab01_kubernetes", "solutions")


def test_solution_probes_are_the_library_probes(solution) -> None:
    assert [apply.to_dict(p) for p in solution.search_api_probes()] == \
        [apply.to_dict(p) for p in m.search_api_probes()]


def test_the_stack_takes_the_exercise_builders(solution) -> None:
    objs = [apply.to_dict(o) for o in m.stack(m.StackOptions("01"), {"K": "v"}, solution.builders())]
    kinds = [o["kind"] for o in objs]
    assert {"HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"} <= set(kinds)


def test_untouched_exercise_raises_not_implemented() -> None:
    exercise = load_impl("lab01_kubernetes", "labs")
    with pytest.raises(NotImplementedError):
        m.stack(m.StackOptions("01"), {"K": "v"}, exercise.builders())
