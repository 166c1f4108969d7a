"""Error codes: every code has a status, and the error body has one shape."""

from __future__ import annotations

import pytest

from agentrun.domain.errors import STATUS_OF, AgentrunError, ErrorCode, not_found


def test_every_code_has_an_http_status() -> None:
    assert set(STATUS_OF) == set(ErrorCode)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("validation_error", 422),
        ("input_invalid", 422),
        ("invalid_request", 400),
        ("unauthorized", 401),
        ("agent_not_found", 404),
        ("run_not_found", 404),
        ("thread_not_found", 404),
        ("revision_not_found", 404),
        ("run_finished", 409),
        ("thread_busy", 409),
        ("idempotency_conflict", 409),
        ("no_published_revision", 409),
        ("slug_taken", 409),
        ("agent_archived", 409),
        ("body_too_large", 413),
    ],
)
def test_documented_statuses(code: str, status: int) -> None:
    """docs/api.md promises these code -> status pairs; the SDK maps them back."""
    assert AgentrunError(ErrorCode(code), "m").http_status == status


def test_body_has_exactly_code_message_details() -> None:
    error = AgentrunError(ErrorCode.thread_busy, "busy", {"thread_id": "t"})
    assert error.body() == {
        "error": {"code": "thread_busy", "message": "busy", "details": {"thread_id": "t"}}
    }
    assert str(error) == "busy"
    assert AgentrunError(ErrorCode.internal, "x").body()["error"]["details"] is None


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("agent", ErrorCode.agent_not_found),
        ("revision", ErrorCode.revision_not_found),
        ("run", ErrorCode.run_not_found),
        ("thread", ErrorCode.thread_not_found),
        ("widget", ErrorCode.not_found),
    ],
)
def test_not_found_names_the_kind_and_id(kind: str, code: ErrorCode) -> None:
    error = not_found(kind, "abc_1")
    assert error.code is code and error.http_status == 404
    assert kind in error.message and "'abc_1'" in error.message
    assert error.details == {"kind": kind, "id": "abc_1"}
