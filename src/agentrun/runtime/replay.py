"""Cached workflows: replay a recorded tool-call sequence without model calls while it succeeds.

A cached workflow is the ordered tool calls of an earlier successful run
(``{"version": 1, "steps": [{"name", "params"}, ...]}``). Every agent's model is wrapped in
:class:`ReplayModel`; while a run has a plan (set with :func:`replaying` around ``agent.run``):

- model turn *i* (counted from the run's user prompt) answers with recorded step *i* as a tool
  call, as long as every tool result so far succeeded and every earlier turn was a replay;
- after the last step, it answers with the last tool result as the final text (text output only);
- from the first failed tool result (or a step the agent no longer has, or structured output),
  the real model takes over with the whole history, failures included.

Replayed responses carry ``model_name == REPLAY_MODEL_NAME`` (no provider is called for them;
pydantic-ai still counts each as a request, with estimated tokens), so a run's history tells
exactly how many steps were replayed. The decision depends only on the messages,
so a durable run recovered after a crash replays identically.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters, StreamedResponse
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

REPLAY_MODEL_NAME = "agentrun-replay"

_plan: ContextVar[tuple[tuple[str, dict[str, Any]], ...] | None] = ContextVar(
    "agentrun_replay_plan", default=None
)


@contextmanager
def replaying(steps: Sequence[dict[str, Any]] | None) -> Iterator[None]:
    """Replay ``steps`` (``[{"name", "params"}]``) for the model requests made inside this block."""
    plan = tuple((s["name"], dict(s.get("params") or {})) for s in steps) if steps is not None else None
    token = _plan.set(plan)
    try:
        yield
    finally:
        _plan.reset(token)


@dataclass(frozen=True)
class ReplaySummary:
    steps: int
    replayed: int  # tool-call steps answered from the cache
    final_from_cache: bool  # the final answer too: no model call at all
    model_from_step: int | None  # 1-based step where the real model took over (None: never)


def summarize(steps: int, new_messages: Sequence[ModelMessage]) -> ReplaySummary:
    """How a finished run used its cached workflow, read from the messages it added."""
    responses = [m for m in new_messages if isinstance(m, ModelResponse)]
    replayed = 0
    for response in responses:
        if response.model_name != REPLAY_MODEL_NAME:
            break
        replayed += 1
    final_from_cache = bool(responses) and replayed == len(responses) and replayed == steps + 1
    tool_steps = min(replayed, steps)
    fallback = None if final_from_cache else tool_steps + 1
    return ReplaySummary(steps, tool_steps, final_from_cache, fallback)


def _segment(messages: Sequence[ModelMessage]) -> list[ModelMessage]:
    """The messages of the current run: after the last request carrying a user prompt."""
    start = 0
    for i, message in enumerate(messages):
        if isinstance(message, ModelRequest) and any(isinstance(p, UserPromptPart) for p in message.parts):
            start = i
    return list(messages[start:])


def next_replay(
    messages: Sequence[ModelMessage],
    plan: Sequence[tuple[str, dict[str, Any]]],
    params: ModelRequestParameters,
) -> ModelResponse | None:
    """The cached answer to this model request, or None when the real model must answer."""
    segment = _segment(messages)
    responses = [m for m in segment if isinstance(m, ModelResponse)]
    if any(r.model_name != REPLAY_MODEL_NAME for r in responses):
        return None  # the model already took over
    last_result: str | None = None
    for message in segment:
        if not isinstance(message, ModelRequest):
            continue
        for part in message.parts:
            if isinstance(part, RetryPromptPart):
                return None
            if isinstance(part, ToolReturnPart):
                if getattr(part, "outcome", "success") != "success":
                    return None
                last_result = part.model_response_str()
    step = len(responses)
    if step < len(plan):
        name, args = plan[step]
        if name not in {tool.name for tool in params.function_tools}:
            return None  # the agent no longer has that tool
        return ModelResponse(parts=[ToolCallPart(name, args)], model_name=REPLAY_MODEL_NAME)
    if step == len(plan) and plan and last_result is not None and params.allow_text_output:
        return ModelResponse(parts=[TextPart(last_result)], model_name=REPLAY_MODEL_NAME)
    return None


class ReplayModel(WrapperModel):
    """Passes every request to the wrapped model unless the run's cached workflow answers it."""

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        plan = _plan.get()
        cached = next_replay(messages, plan, model_request_parameters) if plan else None
        if cached is not None:
            return cached
        return await self.wrapped.request(messages, model_settings, model_request_parameters)

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        plan = _plan.get()
        cached = next_replay(messages, plan, model_request_parameters) if plan else None
        if cached is None:
            async with self.wrapped.request_stream(
                messages, model_settings, model_request_parameters, run_context
            ) as stream:
                yield stream
            return
        async with _streamed(cached).request_stream(
            messages, model_settings, model_request_parameters, run_context
        ) as stream:
            yield stream


def _streamed(response: ModelResponse) -> FunctionModel:
    """A one-shot model that streams ``response`` (so handlers see the usual events)."""

    def function(_messages: list[ModelMessage], _info: AgentInfo) -> ModelResponse:
        return response

    async def stream_function(_messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[Any]:
        for index, part in enumerate(response.parts):
            if isinstance(part, ToolCallPart):
                yield {index: DeltaToolCall(name=part.tool_name, json_args=json.dumps(part.args_as_dict()))}
            elif isinstance(part, TextPart):
                yield part.content

    return FunctionModel(function, stream_function=stream_function, model_name=REPLAY_MODEL_NAME)
