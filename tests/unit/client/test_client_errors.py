"""Error bodies become typed exceptions: by code first, by HTTP status for codes this SDK does not know."""

from __future__ import annotations

import httpx
import pytest

from agentrun.client import (
    AgentrunError,
    APIConnectionError,
    AuthenticationError,
    Client,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from tests.unit.client.fakes import BASE


def client_answering(status: int, json_body: object = None, text: str | None = None, headers=None) -> Client:
    def handler(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        return httpx.Response(status, json=json_body, headers=headers)

    return Client(BASE, transport=httpx.MockTransport(handler))


def error_body(code: str, message: str = "it failed", details: object = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details}}


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (404, "agent_not_found", NotFoundError),
        (404, "run_not_found", NotFoundError),
        (404, "thread_not_found", NotFoundError),
        (404, "revision_not_found", NotFoundError),
        (409, "run_finished", ConflictError),
        (409, "thread_busy", ConflictError),
        (409, "idempotency_conflict", ConflictError),
        (409, "no_published_revision", ConflictError),
        (409, "slug_taken", ConflictError),
        (409, "agent_archived", ConflictError),
        (422, "validation_error", ValidationError),
        (422, "input_invalid", ValidationError),
        (400, "invalid_request", ValidationError),
        (401, "unauthorized", AuthenticationError),
        (413, "body_too_large", PayloadTooLargeError),
        (429, "rate_limited", RateLimitError),
        (500, "internal", ServerError),
        (503, "unavailable", ServerError),
    ],
)
def test_known_codes_map_to_their_class(status: int, code: str, cls: type[AgentrunError]) -> None:
    details = {"loc": ["body", "prompt"]}
    with client_answering(status, error_body(code, "say what to fix", details)) as client:
        with pytest.raises(cls) as caught:
            client.runs.get("run_x")
    err = caught.value
    assert (err.code, err.message, err.details, err.status) == (code, "say what to fix", details, status)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (404, NotFoundError),
        (409, ConflictError),
        (422, ValidationError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (413, PayloadTooLargeError),
        (429, RateLimitError),
        (502, ServerError),
        (418, AgentrunError),
    ],
)
def test_unknown_codes_map_by_status(status: int, cls: type[AgentrunError]) -> None:
    with client_answering(status, error_body("brand_new_code")) as client:
        with pytest.raises(AgentrunError) as caught:
            client.agents.get("demo")
    assert type(caught.value) is cls
    assert caught.value.code == "brand_new_code"


def test_a_body_that_is_not_ours_still_gives_a_typed_error() -> None:
    with client_answering(502, text="<html>Bad Gateway</html>") as client:
        with pytest.raises(ServerError) as caught:
            client.agents.get("demo")
    assert caught.value.code == "http_502"
    assert "Bad Gateway" in caught.value.message


def test_fastapi_detail_bodies_keep_their_detail() -> None:
    with client_answering(404, {"detail": "Not Found"}) as client:
        with pytest.raises(NotFoundError) as caught:
            client.agents.get("demo")
    assert caught.value.message == "Not Found"


def test_rate_limit_carries_retry_after() -> None:
    with client_answering(429, error_body("rate_limited"), headers={"Retry-After": "7"}) as client:
        with pytest.raises(RateLimitError) as caught:
            client.agents.get("demo")
    assert caught.value.retry_after == 7.0


def test_unreachable_server_is_a_connection_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with Client(BASE, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(APIConnectionError) as caught:
            client.agents.get("demo")
    assert caught.value.code == "connection_error"
    assert caught.value.status is None
    assert BASE in caught.value.message


def test_timeouts_are_connection_errors_with_their_own_code() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with Client(BASE, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(APIConnectionError) as caught:
            client.runs.get("r")
    assert caught.value.code == "timeout"


def test_str_shows_status_code_and_message() -> None:
    err = NotFoundError("agent_not_found", "No agent with id 'x' exists.", None, 404)
    assert str(err) == "[404] agent_not_found: No agent with id 'x' exists."
