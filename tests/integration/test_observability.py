"""Observability: request ids (honoured or generated, echoed, on every log line of the request),
run ids on every log line of a run, the access log."""

from __future__ import annotations

import logging

import httpx
import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from agentrun.api.observability import RequestId, RequestIdFilter
from agentrun.logs import ACCESS_LOGGER, ContextFilter
from agentrun.runtime.providers import register_test_model, unregister_test_model


async def test_request_id_is_honoured_and_echoed(api) -> None:  # type: ignore[no-untyped-def]
    answer = await api.client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert answer.headers["x-request-id"] == "abc-123"


async def test_request_id_is_generated_when_missing_or_unsafe(api) -> None:  # type: ignore[no-untyped-def]
    first = (await api.client.get("/healthz")).headers["x-request-id"]
    second = (await api.client.get("/healthz", headers={"X-Request-Id": "bad id\twith space"})).headers[
        "x-request-id"
    ]
    assert len(first) == 32 and len(second) == 32 and first != second


async def test_log_lines_of_one_request_share_its_id(caplog) -> None:  # type: ignore[no-untyped-def]
    log = logging.getLogger("agentrun.test.rid")

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        log.warning("first line")
        log.warning("second line")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    caplog.handler.addFilter(RequestIdFilter())
    transport = httpx.ASGITransport(app=RequestId(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        one = await client.get("/", headers={"X-Request-Id": "req-1"})
        two = await client.get("/")
    log.warning("outside")
    ids = [r.request_id for r in caplog.records if r.name == "agentrun.test.rid"]
    assert one.headers["x-request-id"] == "req-1"
    assert ids == ["req-1", "req-1", two.headers["x-request-id"], two.headers["x-request-id"], "-"]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"observability": {"access_log": True}}


@pytest.fixture
def logging_model():  # type: ignore[no-untyped-def]
    """A model that logs a line each time it is asked (as a provider client would)."""
    model_log = logging.getLogger("agentrun.test.model")

    def respond(messages: list[ModelMessage], _info: AgentInfo) -> ModelResponse:
        model_log.warning("asked")
        return ModelResponse(parts=[TextPart("ok")])

    async def stream(messages: list[ModelMessage], info: AgentInfo):  # type: ignore[no-untyped-def]
        respond(messages, info)
        yield "ok"

    register_test_model("test:logging", FunctionModel(respond, stream_function=stream))
    yield
    unregister_test_model("test:logging")


@pytest.mark.parametrize("durability", ["steps", "exit"])
async def test_run_log_lines_carry_the_run_id_and_request_lines_the_request_id(  # type: ignore[no-untyped-def]
    api, caplog, logging_model, durability
) -> None:
    caplog.handler.addFilter(ContextFilter())
    caplog.set_level(logging.INFO)
    await api.client.put(
        "/v1/agents/logger", json={"slug": "logger", "model": "test:logging", "publish": True}
    )
    runs = []
    for i in range(2):
        answer = await api.client.post(
            "/v1/runs",
            json={"agent": "logger", "prompt": f"hi {i}", "durability": durability},
            headers={"X-Request-Id": f"create-{i}"},
        )
        assert answer.json()["status"] == "completed", answer.json()
        runs.append(answer.json()["id"])
    asked = [r.run_id for r in caplog.records if r.name == "agentrun.test.model"]
    assert asked == runs
    access = [r for r in caplog.records if r.name == ACCESS_LOGGER and r.path == "/v1/runs"]
    assert [(r.request_id, r.method, r.status, r.route) for r in access] == [
        ("create-0", "POST", 200, "/v1/runs"),
        ("create-1", "POST", 200, "/v1/runs"),
    ]
