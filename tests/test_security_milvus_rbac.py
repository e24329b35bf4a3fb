"""Milvus's own words from pymilvus's exceptions (pure logic: the real refusals are in lab 05)."""

from __future__ import annotations

from milvus_lab.security import milvus_rbac


class FakeRpcError(Exception):
    """Stands in for grpc's _InactiveRpcError: only `details()` matters here."""

    def details(self) -> str:
        return "auth check failure, please check username and password are correct"


def test_a_login_refusal_is_found_behind_pymilvus_generic_message() -> None:
    try:
        try:
            raise FakeRpcError("UNAUTHENTICATED")
        except FakeRpcError as rpc:
            raise RuntimeError("Fail connecting to server on 127.0.0.1:19540") from rpc
    except RuntimeError as exc:
        error = milvus_rbac.milvus_error(exc)
    assert error.startswith("auth check failure")
    assert milvus_rbac.is_auth_failure(error) and not milvus_rbac.is_permission_denied(error)


def test_an_exception_raised_from_itself_ends_the_walk() -> None:
    exc = RuntimeError("PrivilegeInsert: permission deny to bob\nsecond line")
    exc.__cause__ = exc  # what pymilvus's `raise e from e` leaves behind
    assert milvus_rbac.milvus_error(exc) == "PrivilegeInsert: permission deny to bob"
    assert milvus_rbac.is_permission_denied(milvus_rbac.milvus_error(exc))
