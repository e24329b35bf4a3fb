"""Lab 01's exercise and the library agree: the reference solution builds exactly the
objects `milvus_lab.kube.manifests` builds, so lab 03 (which uses the library) and the
learner's lab 01 (which uses the exercise) deploy the same thing."""

from __future__ import annotations

import pytest

from milvus_lab.kube import apply
from milvus_lab.kube import manifests as m
from milvus_lab.labkit import load_impl


@pytest.fixture(scope="module")
def solution():
    return load_impl("lab01_kubernetes", "solutions")


@pytest.mark.parametrize("name, args", [
    ("search_api_probes", ()),
    ("horizontal_pod_autoscaler", ("search-api-blue", "ns1", "03", 3, 6, 60)),
    ("pod_disruption_budget", ("green", "ns1", "03", 2)),
    ("network_policies", ("ns1", "03", ("10.0.0.0/8",))),
])
def test_solution_builds_what_the_library_builds(solution, name: str, args: tuple) -> None:
    mine, lib = getattr(solution, name)(*args), getattr(m, name)(*args)
    assert [apply.to_dict(o) for o in _as_list(mine)] == [apply.to_dict(o) for o in _as_list(lib)]


def _as_list(x: object) -> list:
    return list(x) if isinstance(x, list | tuple) else [x]


def test_stack_with_the_solution_builders_equals_the_default_stack(solution) -> None:
    secret = {"MILVUS_LAB_API_KEY": "x"}
    assert [apply.to_dict(o) for o in m.stack(None, secret, solution.builders())] == \
        [apply.to_dict(o) for o in m.stack(None, secret)]


def test_untouched_exercise_raises_not_implemented() -> None:
    exercise = load_impl("lab01_kubernetes", "labs")
    with pytest.raises(NotImplementedError):
        m.stack(None, {"K": "v"}, exercise.builders())
