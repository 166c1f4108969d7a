"""Per-step timing and tokens of a run, as `agentrun runs show` prints them, from its real events."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from agentrun.cli._steps import run_steps, steps_lines
from agentrun.client._models import Event
from agentrun.runtime.providers import register_test_model, unregister_test_model

MODEL = "test:steps-script"


@pytest.fixture
def scripted():  # type: ignore[no-untyped-def]
    def respond(messages: list[ModelMessage]) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(
                parts=[TextPart("let me compute"), ToolCallPart("calculator", {"expression": "6*7"})]
            )
        return ModelResponse(parts=[TextPart("the answer is 42")])

    async def stream(messages: list[ModelMessage], _info: AgentInfo):  # type: ignore[no-untyped-def]
        response = respond(messages)
        for part in response.parts:
            if isinstance(part, ToolCallPart):
                yield {1: DeltaToolCall(name=part.tool_name, json_args='{"expression": "6*7"}')}
            else:
                yield part.content

    register_test_model(MODEL, FunctionModel(lambda m, _i: respond(m), stream_function=stream))
    yield
    unregister_test_model(MODEL)


@pytest.mark.parametrize("durability", ["steps", "exit"])
async def test_steps_of_a_run_from_its_events(api, scripted, durability) -> None:  # type: ignore[no-untyped-def]
    body = {
        "slug": "stepper",
        "model": MODEL,
        "tools": [{"kind": "builtin", "name": "calculator"}],
        "publish": True,
    }
    assert (await api.client.put("/v1/agents/stepper", json=body)).status_code in (200, 201)
    run = (
        await api.client.post("/v1/runs", json={"agent": "stepper", "prompt": "go", "durability": durability})
    ).json()
    assert run["status"] == "completed", run
    raw = (await api.client.get(f"/v1/runs/{run['id']}/events")).json()["data"]
    steps = run_steps(Event.model_validate(e) for e in raw)
    assert [(s.kind, s.name) for s in steps] == [
        ("model", "model request"),
        ("tool", "calculator"),
        ("model", "model request"),
    ]
    assert all(s.seconds is not None and s.seconds >= 0 for s in steps)
    assert steps[0].started == datetime.fromisoformat(
        next(e for e in raw if e["type"] == "run.started")["created_at"]
    )
    models = [s for s in steps if s.kind == "model"]
    assert sum(s.input_tokens or 0 for s in models) == run["usage"]["input_tokens"]
    assert sum(s.output_tokens or 0 for s in models) == run["usage"]["output_tokens"]
    assert all(s.input_tokens for s in models)
    lines = steps_lines(steps)
    assert len(lines) == 3 and "tool  calculator" in lines[1] and " in / " in lines[2]
