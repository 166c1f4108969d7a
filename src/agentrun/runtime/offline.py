"""The offline test model: a deterministic stand-in for a real LLM.

It runs when no provider key is set (labelled as such in every answer), for the ``test`` model
and its ``test:`` variants, and in tests and benchmarks. It is a pydantic-ai ``FunctionModel``
with both a request and a streaming function, because the server always streams.

Behaviours (``OfflineBehaviour``):

- ``echo``: answers ``"[offline test model] "`` + a short echo of the last user prompt + how to
  configure a real provider.
- ``sleep``: waits ``sleep_ms`` (``asyncio.sleep``, so a cancel stops it) before every request,
  then answers like ``echo``.
- ``tools``: the first request calls every available function tool once with arguments valid
  against its schema; the next answer lists the tool results.

With structured output (output tools present) every behaviour answers with a call to the output
tool whose arguments are valid against the output schema; with native/prompted structured output
it answers with JSON text valid against the schema. Usage is estimated (non-zero tokens).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel
from pydantic_ai.models.test import TestModel
from pydantic_ai.tools import ToolDefinition

OFFLINE_PREFIX = "[offline test model] "
ECHO_MAX_CHARS = 200
RESULT_MAX_CHARS = 500
CONFIGURE_HINT = (
    "To use a real model, set a provider key (e.g. OPENAI_API_KEY or AGENTRUN_PROVIDERS__OPENAI_API_KEY) "
    "and give the agent a model such as 'openai:gpt-4o-mini'."
)

Behaviour = Literal["echo", "sleep", "tools"]


@dataclass(frozen=True)
class OfflineBehaviour:
    """What the offline model does; ``note`` (if any) is appended to every text answer."""

    kind: Behaviour = "echo"
    sleep_ms: int = 0
    note: str | None = None


def offline_model(behaviour: OfflineBehaviour | None = None, *, model_name: str = "test") -> FunctionModel:
    """Build the offline model for ``behaviour`` (default: echo)."""
    behaviour = behaviour or OfflineBehaviour()
    script = _OfflineScript(behaviour)
    return FunctionModel(script.respond, stream_function=script.stream, model_name=model_name)


@dataclass(frozen=True)
class _Call:
    name: str
    args: dict[str, Any]
    tool_call_id: str


class _OfflineScript:
    def __init__(self, behaviour: OfflineBehaviour) -> None:
        self.behaviour = behaviour

    async def respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        answer = await self._plan(messages, info)
        if isinstance(answer, str):
            return ModelResponse(parts=[TextPart(answer)])
        return ModelResponse(
            parts=[ToolCallPart(c.name, c.args, tool_call_id=c.tool_call_id) for c in answer]
        )

    async def stream(
        self, messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        answer = await self._plan(messages, info)
        if isinstance(answer, str):
            for chunk in _chunks(answer):
                yield chunk
            return
        for index, call in enumerate(answer):
            yield {
                index: DeltaToolCall(
                    name=call.name, json_args=json.dumps(call.args), tool_call_id=call.tool_call_id
                )
            }

    async def _plan(self, messages: list[ModelMessage], info: AgentInfo) -> str | list[_Call]:
        if self.behaviour.kind == "sleep" and self.behaviour.sleep_ms > 0:
            await asyncio.sleep(self.behaviour.sleep_ms / 1000)
        if self.behaviour.kind == "tools" and info.function_tools and not _has_called_tools(messages):
            return [
                _Call(tool.name, _valid_args(tool), f"offline-call-{i}")
                for i, tool in enumerate(info.function_tools)
            ]
        params = info.model_request_parameters
        if info.output_tools and not info.allow_text_output:
            tool = info.output_tools[0]
            return [_Call(tool.name, _valid_args(tool), "offline-output")]
        if params.output_mode in ("native", "prompted") and params.output_object is not None:
            schema = params.output_object.json_schema
            return json.dumps(_valid_args(ToolDefinition(name="output", parameters_json_schema=schema)))
        return self._text(messages)

    def _text(self, messages: list[ModelMessage]) -> str:
        results = _tool_results(messages)
        if self.behaviour.kind == "tools" and results:
            body = "tool results: " + "; ".join(f"{name} -> {value}" for name, value in results) + "."
        else:
            prompt = _last_user_prompt(messages)
            body = (
                f"you said: {_shorten(prompt, ECHO_MAX_CHARS)!r}." if prompt else "no user prompt was given."
            )
        tail = f" ({self.behaviour.note})" if self.behaviour.note else ""
        return f"{OFFLINE_PREFIX}{body} {CONFIGURE_HINT}{tail}"


def _valid_args(tool: ToolDefinition) -> dict[str, Any]:
    # TestModel's generator makes minimal data valid against a JSON schema; reuse it through its
    # public method rather than copying a private class.
    args = TestModel().gen_tool_args(tool)
    return args if isinstance(args, dict) else {}


def _has_called_tools(messages: Sequence[ModelMessage]) -> bool:
    # Only tool calls made in the current run count: earlier runs of a thread appear as history
    # before the run's latest user prompt.
    for message in reversed(messages):
        if isinstance(message, ModelResponse) and any(isinstance(p, ToolCallPart) for p in message.parts):
            return True
        if isinstance(message, ModelRequest) and any(isinstance(p, UserPromptPart) for p in message.parts):
            return False
    return False


def _tool_results(messages: Sequence[ModelMessage]) -> list[tuple[str, str]]:
    results: list[tuple[str, str]] = []
    for message in reversed(messages):
        if not isinstance(message, ModelRequest):
            continue
        for part in message.parts:
            if isinstance(part, ToolReturnPart):
                results.append((part.tool_name, _shorten(part.model_response_str(), RESULT_MAX_CHARS)))
        if any(isinstance(p, UserPromptPart) for p in message.parts):
            break
    return list(reversed(results))


def _last_user_prompt(messages: Sequence[ModelMessage]) -> str | None:
    for message in reversed(messages):
        if not isinstance(message, ModelRequest):
            continue
        for part in reversed(message.parts):
            if isinstance(part, UserPromptPart):
                if isinstance(part.content, str):
                    return part.content
                return (
                    " ".join(item for item in part.content if isinstance(item, str)) or "(non-text content)"
                )
    return None


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _chunks(text: str, size: int = 8) -> list[str]:
    # A few deltas of several words each, so a stream shows message.delta events like a real
    # model's, without paying pydantic-ai's per-chunk cost thirty times for an instant answer.
    words = text.split(" ")
    pieces = [w + " " for w in words[:-1]] + [words[-1]]
    return ["".join(pieces[i : i + size]) for i in range(0, len(pieces), size)]
