"""Cached workflows: a successful run's tool calls replay without model calls while they succeed;
from the first failing step the model takes over."""

from __future__ import annotations

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from agentrun.runtime.providers import register_test_model, unregister_test_model

CALCULATOR = [{"kind": "builtin", "name": "calculator"}]


@pytest.fixture
def scripted():  # type: ignore[no-untyped-def]
    """A model that calls calculator(2*21) once, then answers; it counts its calls."""
    calls: list[int] = []

    def respond(messages: list[ModelMessage]) -> ModelResponse:
        calls.append(len(messages))
        if not any(isinstance(m, ModelResponse) for m in messages[-1:]) and len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("calculator", {"expression": "2*21"})])
        return ModelResponse(parts=[TextPart("model answer")])

    def function(messages: list[ModelMessage], _info: AgentInfo) -> ModelResponse:
        return respond(messages)

    async def stream(messages: list[ModelMessage], _info: AgentInfo):  # type: ignore[no-untyped-def]
        response = respond(messages)
        part = response.parts[0]
        if isinstance(part, ToolCallPart):
            yield {0: DeltaToolCall(name=part.tool_name, json_args='{"expression": "2*21"}')}
        else:
            yield part.content

    register_test_model("test:cache-script", FunctionModel(function, stream_function=stream))
    yield calls
    unregister_test_model("test:cache-script")


async def _agent(api) -> None:  # type: ignore[no-untyped-def]
    body = {"slug": "cachey", "model": "test:cache-script", "tools": CALCULATOR, "publish": True}
    assert (await api.client.put("/v1/agents/cachey", json=body)).status_code in (200, 201)


def _workflow(events: list[dict]) -> dict:  # type: ignore[type-arg]
    return {
        "steps": [
            {"name": e["data"]["name"], "params": e["data"]["args"]}
            for e in events
            if e["type"] == "tool_call"
        ]
    }


async def _events(api, run_id: str) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return (await api.client.get(f"/v1/runs/{run_id}/events")).json()["data"]


async def test_replay_makes_no_model_call_when_every_step_succeeds(api, scripted) -> None:  # type: ignore[no-untyped-def]
    await _agent(api)
    first = (await api.client.post("/v1/runs", json={"agent": "cachey", "prompt": "compute"})).json()
    assert first["status"] == "completed" and first["result"] == "model answer"
    workflow = _workflow(await _events(api, first["id"]))
    assert workflow == {"steps": [{"name": "calculator", "params": {"expression": "2*21"}}]}
    calls_before = len(scripted)

    replay = (
        await api.client.post(
            "/v1/runs", json={"agent": "cachey", "prompt": "compute", "cached_workflow": workflow}
        )
    ).json()
    assert replay["status"] == "completed", replay
    assert len(scripted) == calls_before  # the model was not asked at all
    assert replay["result"] == "42"  # the last tool result is the answer
    log = [
        e
        for e in await _events(api, replay["id"])
        if e["type"] == "log" and "cached_workflow" in (e["data"] or {})
    ]
    assert log[-1]["data"]["cached_workflow"] == {
        "steps": 1,
        "replayed": 1,
        "final_from_cache": True,
        "model_from_step": None,
    }


async def test_model_takes_over_from_the_first_failing_step(api, scripted) -> None:  # type: ignore[no-untyped-def]
    await _agent(api)
    broken = {"steps": [{"name": "calculator", "params": {"expression": "1/0"}}]}
    run = (
        await api.client.post(
            "/v1/runs", json={"agent": "cachey", "prompt": "compute", "cached_workflow": broken}
        )
    ).json()
    assert run["status"] == "completed", run
    assert run["result"] == "model answer"
    assert len(scripted) == 1  # asked once, after the replayed step failed
    events = await _events(api, run["id"])
    assert [e["data"]["ok"] for e in events if e["type"] == "tool_result"] == [False]
    summary = [e for e in events if e["type"] == "log" and "cached_workflow" in (e["data"] or {})][-1]
    assert summary["data"]["cached_workflow"]["replayed"] == 1
    assert summary["data"]["cached_workflow"]["model_from_step"] == 2


async def test_malformed_cached_workflow_is_422(api) -> None:  # type: ignore[no-untyped-def]
    resp = await api.client.post(
        "/v1/runs", json={"agent": "demo", "prompt": "x", "cached_workflow": {"steps": [{"params": {}}]}}
    )
    assert resp.status_code == 422
    assert "cached_workflow.steps.0.name" in resp.json()["error"]["message"]
