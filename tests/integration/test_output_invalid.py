"""A structured result that breaks the run's output schema fails the run as ``output_invalid``.

Providers (and pydantic-ai's StructuredDict) do not enforce every JSON Schema keyword: a model may
return ``{"n": 5}`` for ``maximum: 3``. The worker checks the result itself before recording it.
"""

from __future__ import annotations

from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from tests.support.native_api import create_agent, registered_model, run_sync

SCHEMA = {
    "type": "object",
    "properties": {"n": {"type": "integer", "maximum": 3}},
    "required": ["n"],
    "additionalProperties": False,
}


def _answering(n: int) -> FunctionModel:
    def function(_messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, {"n": n})])

    async def stream(_messages: list[ModelMessage], info: AgentInfo):  # type: ignore[no-untyped-def]
        yield {0: DeltaToolCall(name=info.output_tools[0].name, json_args=f'{{"n": {n}}}')}

    return FunctionModel(function, stream_function=stream)


async def test_a_result_outside_the_schema_fails_the_run(api) -> None:  # type: ignore[no-untyped-def]
    with registered_model(_answering(5), "too-big") as model:
        agent = await create_agent(api.client, model=model, output_schema=SCHEMA)
        run = await run_sync(api.client, agent["slug"], "pick a number")
    assert run["status"] == "failed"
    assert run["error"]["code"] == "output_invalid"
    assert "result.n" in run["error"]["message"] and "3" in run["error"]["message"]
    assert run["result"] is None


async def test_a_result_inside_the_schema_completes(api) -> None:  # type: ignore[no-untyped-def]
    with registered_model(_answering(2), "in-range") as model:
        agent = await create_agent(api.client, model=model, output_schema=SCHEMA)
        run = await run_sync(api.client, agent["slug"], "pick a number")
    assert run["status"] == "completed" and run["result"] == {"n": 2}, run["error"]
