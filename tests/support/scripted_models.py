"""Scripted models (pydantic-ai FunctionModel) more than one test file drives."""

from __future__ import annotations

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel


def calculator_then_answer() -> FunctionModel:
    """Calls the calculator once (6*7), then answers: two model requests and one tool call."""

    def respond(messages: list[ModelMessage]) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("calculator", {"expression": "6*7"})])
        return ModelResponse(parts=[TextPart("the answer is 42")])

    async def stream(messages: list[ModelMessage], _info: AgentInfo):  # type: ignore[no-untyped-def]
        part = respond(messages).parts[0]
        if isinstance(part, ToolCallPart):
            yield {0: DeltaToolCall(name=part.tool_name, json_args='{"expression": "6*7"}')}
        else:
            yield part.content

    return FunctionModel(lambda m, _i: respond(m), stream_function=stream)
