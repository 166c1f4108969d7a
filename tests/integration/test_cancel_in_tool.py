"""Cancel stops a run in the middle of a long tool call, without waiting for the tool."""

from __future__ import annotations

import asyncio
import time

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from agentrun.runtime.providers import register_test_model, unregister_test_model


def _model() -> FunctionModel:
    def respond(messages: list[ModelMessage]) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("slow", {"seconds": 30})])
        return ModelResponse(parts=[TextPart("done")])

    def function(messages: list[ModelMessage], _info: AgentInfo) -> ModelResponse:
        return respond(messages)

    async def stream(messages: list[ModelMessage], _info: AgentInfo):  # type: ignore[no-untyped-def]
        part = respond(messages).parts[0]
        if isinstance(part, ToolCallPart):
            yield {0: DeltaToolCall(name="slow", json_args='{"seconds": 30}')}
        else:
            yield part.content

    return FunctionModel(function, stream_function=stream)


async def test_cancel_during_a_long_tool_call(api) -> None:  # type: ignore[no-untyped-def]
    register_test_model("test:slow-tool", _model())
    try:
        agent = {
            "slug": "slow-tool",
            "model": "test:slow-tool",
            "tools": [{"kind": "python", "ref": "tests.support.tools_for_tests:slow"}],
            "publish": True,
        }
        assert (await api.client.put("/v1/agents/slow-tool", json=agent)).status_code in (200, 201)
        run = (
            await api.client.post("/v1/runs", json={"agent": "slow-tool", "prompt": "go", "mode": "async"})
        ).json()
        for _ in range(200):  # until the tool call has started
            events = (await api.client.get(f"/v1/runs/{run['id']}/events")).json()["data"]
            if any(e["type"] == "tool_call" for e in events):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the tool call never started")
        started = time.monotonic()
        assert (await api.client.post(f"/v1/runs/{run['id']}/cancel")).status_code == 200
        final = (await api.client.get(f"/v1/runs/{run['id']}", params={"wait_s": 5})).json()
        print(f"cancel inside a 30 s tool call took {(time.monotonic() - started) * 1000:.0f} ms")
        assert final["status"] == "cancelled"
        events = (await api.client.get(f"/v1/runs/{run['id']}/events")).json()["data"]
        assert events[-1]["type"] == "run.cancelled"
        assert not any(e["type"] == "tool_result" for e in events)  # the tool never got to answer
    finally:
        unregister_test_model("test:slow-tool")
