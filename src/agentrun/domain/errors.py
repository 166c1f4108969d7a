"""Stable error codes and the one exception type the API turns into an error body.

Every error the server returns is ``{"error": {"code", "message", "details"}}``; ``code`` is one
of :class:`ErrorCode` and never changes meaning once shipped. The SDK maps codes back to typed
exceptions, so renaming a code is a breaking change.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Stable machine-readable error codes, grouped by the HTTP status they travel with."""

    # 400 / 422
    invalid_request = "invalid_request"
    not_supported = "not_supported"  # a protocol operation agentrun does not map (e.g. LangGraph checkpoints)
    validation_error = "validation_error"
    input_invalid = "input_invalid"
    tool_not_allowed = "tool_not_allowed"
    sandbox_too_large = "sandbox_too_large"
    action_invalid = "action_invalid"  # an answer to a pending call: unknown call id, wrong shape
    # 401 / 403
    unauthorized = "unauthorized"
    forbidden = "forbidden"
    # 404
    not_found = "not_found"
    agent_not_found = "agent_not_found"
    revision_not_found = "revision_not_found"
    run_not_found = "run_not_found"
    thread_not_found = "thread_not_found"
    sandbox_not_found = "sandbox_not_found"
    # 409
    conflict = "conflict"
    no_published_revision = "no_published_revision"
    run_finished = "run_finished"
    thread_busy = "thread_busy"
    idempotency_conflict = "idempotency_conflict"
    slug_taken = "slug_taken"
    agent_archived = "agent_archived"
    run_not_waiting = "run_not_waiting"  # an answer to a run that is not in requires_action
    action_conflict = "action_conflict"  # a call already answered differently
    # 413
    body_too_large = "body_too_large"
    # 429
    rate_limited = "rate_limited"
    # 5xx
    internal = "internal"
    unavailable = "unavailable"


STATUS_OF: dict[ErrorCode, int] = {
    ErrorCode.invalid_request: 400,
    ErrorCode.not_supported: 400,
    ErrorCode.validation_error: 422,
    ErrorCode.input_invalid: 422,
    ErrorCode.tool_not_allowed: 422,
    ErrorCode.sandbox_too_large: 413,
    ErrorCode.action_invalid: 422,
    ErrorCode.run_not_waiting: 409,
    ErrorCode.action_conflict: 409,
    ErrorCode.unauthorized: 401,
    ErrorCode.forbidden: 403,
    ErrorCode.not_found: 404,
    ErrorCode.agent_not_found: 404,
    ErrorCode.revision_not_found: 404,
    ErrorCode.run_not_found: 404,
    ErrorCode.thread_not_found: 404,
    ErrorCode.sandbox_not_found: 404,
    ErrorCode.conflict: 409,
    ErrorCode.no_published_revision: 409,
    ErrorCode.run_finished: 409,
    ErrorCode.thread_busy: 409,
    ErrorCode.idempotency_conflict: 409,
    ErrorCode.slug_taken: 409,
    ErrorCode.agent_archived: 409,
    ErrorCode.body_too_large: 413,
    ErrorCode.rate_limited: 429,
    ErrorCode.internal: 500,
    ErrorCode.unavailable: 503,
}


class AgentrunError(Exception):
    """A failure with a stable code, a message that says what to fix, and optional details."""

    def __init__(
        self, code: ErrorCode, message: str, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    @property
    def http_status(self) -> int:
        return STATUS_OF[self.code]

    def body(self) -> dict[str, Any]:
        return {"error": {"code": str(self.code), "message": self.message, "details": self.details}}


def not_found(kind: str, ident: str) -> AgentrunError:
    code = {
        "agent": ErrorCode.agent_not_found,
        "revision": ErrorCode.revision_not_found,
        "run": ErrorCode.run_not_found,
        "thread": ErrorCode.thread_not_found,
    }.get(kind, ErrorCode.not_found)
    return AgentrunError(code, f"No {kind} with id {ident!r} exists.", {"kind": kind, "id": ident})
