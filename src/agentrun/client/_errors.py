"""Typed exceptions built from the server's error body ``{"error": {"code", "message", "details"}}``.

The code decides the class; a code this SDK does not know yet falls back to the HTTP status, so
a newer server never turns a clear 404 into a bare base error.
"""

from __future__ import annotations

from typing import Any

import httpx


class AgentrunError(Exception):
    """Base of every error the SDK raises.

    Attributes:
        code: the server's stable error code (``run_not_found``, ``thread_busy``...), or a
            client-side code (``connection_error``, ``timeout``, ``stream_error``).
        message: what went wrong, and usually what to do about it.
        details: structured details from the server, if any.
        status: the HTTP status, or ``None`` when no response arrived.
    """

    def __init__(self, code: str, message: str, details: Any = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.status = status

    def __str__(self) -> str:
        return (
            f"{self.code}: {self.message}"
            if self.status is None
            else f"[{self.status}] {self.code}: {self.message}"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, status={self.status!r})"


class APIConnectionError(AgentrunError):
    """No answer from the server: refused, dropped, or timed out (after any retries)."""


class NotFoundError(AgentrunError):
    """404: the agent, revision, run or thread does not exist (in this project)."""


class ConflictError(AgentrunError):
    """409: run_finished, thread_busy, idempotency_conflict, no_published_revision, slug_taken..."""


class ValidationError(AgentrunError):
    """400/422: the request or the run input did not validate; ``details`` says where."""


class AuthenticationError(AgentrunError):
    """401/403: missing or wrong API key."""


class PayloadTooLargeError(AgentrunError):
    """413: the request body exceeds the server's limit."""


class RateLimitError(AgentrunError):
    """429: too many requests; ``retry_after`` holds the server's hint in seconds, if given."""

    def __init__(
        self,
        code: str,
        message: str,
        details: Any = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code, message, details, status)
        self.retry_after = retry_after


class ServerError(AgentrunError):
    """5xx: the server failed; the request may be retried."""


_BY_CODE: dict[str, type[AgentrunError]] = {
    "invalid_request": ValidationError,
    "validation_error": ValidationError,
    "input_invalid": ValidationError,
    "tool_not_allowed": ValidationError,
    "unauthorized": AuthenticationError,
    "not_found": NotFoundError,
    "agent_not_found": NotFoundError,
    "revision_not_found": NotFoundError,
    "run_not_found": NotFoundError,
    "thread_not_found": NotFoundError,
    "sandbox_not_found": NotFoundError,
    "conflict": ConflictError,
    "no_published_revision": ConflictError,
    "run_finished": ConflictError,
    "thread_busy": ConflictError,
    "idempotency_conflict": ConflictError,
    "slug_taken": ConflictError,
    "agent_archived": ConflictError,
    "body_too_large": PayloadTooLargeError,
    "sandbox_too_large": PayloadTooLargeError,
    "rate_limited": RateLimitError,
    "internal": ServerError,
    "unavailable": ServerError,
}

_BY_STATUS: dict[int, type[AgentrunError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: ValidationError,
    429: RateLimitError,
}


def error_class(code: str, status: int | None) -> type[AgentrunError]:
    """The exception class for an error code, falling back to the HTTP status for unknown codes."""
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status is None:
        return AgentrunError
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return AgentrunError


def make_error(code: str, message: str, details: Any = None, status: int | None = None) -> AgentrunError:
    return error_class(code, status)(code, message, details, status)


def error_from_body(body: Any, status: int | None) -> AgentrunError | None:
    """The typed error of an ``{"error": {...}}`` body, or None when the body is not one."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    err = body["error"]
    code = str(err.get("code") or (f"http_{status}" if status else "error"))
    message = str(err.get("message") or code)
    return make_error(code, message, err.get("details"), status)


def error_from_response(response: httpx.Response) -> AgentrunError:
    """The typed error of a non-2xx response; the body must already be read."""
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    error = error_from_body(body, status)
    if error is None:
        # Not our error shape: a proxy page, FastAPI's bare {"detail": ...}, an empty body.
        text = response.text.strip()
        if isinstance(body, dict) and "detail" in body:
            message, details = str(body["detail"]), body["detail"]
        else:
            message, details = (text[:500] or response.reason_phrase or f"HTTP {status}"), None
        error = make_error(f"http_{status}", message, details, status)
    if isinstance(error, RateLimitError):
        error.retry_after = _retry_after(response.headers.get("retry-after"))
    return error


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
