"""Checkers for the learners' exercises: `pytest checks` (your code in labs/) or
`pytest checks --impl solutions` (the reference).

They run your functions against a real Milvus Lite server and a real Kubernetes API
(started by fixtures; nothing of yours is touched), and say which condition failed with a
hint when one does.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from milvus_lab.labkit import IMPLS, load_impl

pytest_plugins = ["milvus_lab.testing.milvus_fixtures", "milvus_lab.testing.kube_fixtures"]


def pytest_addoption(parser: pytest.Parser) -> None:
    try:
        import pytest_timeout  # noqa: F401  (the project's test extra; learners may not have it)
    except ImportError:  # the project's `timeout` ini option, known so pytest does not warn
        parser.addini("timeout", "per-test timeout (needs pytest-timeout; ignored without it)")
    parser.addoption("--impl", choices=IMPLS, default="labs",
                     help="check your exercises (labs, default) or the reference (solutions)")


@pytest.fixture(scope="session")
def impl_name(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--impl"))


@pytest.fixture(scope="session")
def impl_loader(impl_name: str) -> Callable[[str], ModuleType]:
    """Load `labs/<name>.py` or `solutions/<name>.py`, as chosen with --impl."""
    return lambda name: load_impl(name, impl_name)


def attempt(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call an exercise function; an unfinished TODO fails the check with its hint."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as exc:
        todo = str(exc)
    # outside the except block: one message, no "During handling of the above exception"
    pytest.fail(f"{fn.__name__} is not implemented yet (TODO: {todo})", pytrace=False)
