"""Map pydantic-ai's agent stream to agentrun run events.

The handler runs wherever pydantic-ai calls it: inside the durable model-request step for model
events, and in its own durable step for each tool event. So an event is written exactly when
the step that produced it runs, and a finished step replayed after a crash writes nothing again.
Each handler call flushes before it returns, so a step never completes with its events unsaved.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterable
from contextlib import asynccontextmanager
from copy import copy
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic_ai import RunContext
from pydantic_ai.messages import (
    AgentStreamEvent,
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ModelMessage,
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ToolCallPart,
)
from pydantic_ai.models import ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RunUsage

from agentrun.domain.events import EventType, LogLevel


class MeteredModel(WrapperModel):
    """Tells the run's sink about each model request as it starts, so usage counts a request
    that a cancel or timeout interrupts (pydantic-ai adds a response's usage only once it ends)."""

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        sink = getattr(getattr(run_context, "deps", None), "sink", None)
        if run_context is not None and hasattr(sink, "request_sending"):
            # Recorded before the provider sees it: a request whose execution dies still counts.
            await sink.request_sending(run_context.usage.requests + 1)
        async with self.wrapped.request_stream(
            messages, model_settings, model_request_parameters, run_context
        ) as stream:
            if run_context is not None and hasattr(sink, "request_started"):
                sink.request_started(copy(run_context.usage), stream)
            yield stream


class EventSink(Protocol):
    """Where a run's events go (the services layer persists and fans them out)."""

    async def emit(
        self,
        type: EventType,
        *,
        role: str | None = None,
        content: str | None = None,
        data: dict[str, Any] | None = None,
        level: LogLevel = LogLevel.info,
    ) -> None: ...

    async def flush(self) -> None: ...

    async def report_usage(
        self, input_tokens: int, output_tokens: int, requests: int, tool_calls: int
    ) -> None: ...

    def request_started(self, before: RunUsage, response: StreamedResponse) -> None:
        """A model request is in flight: ``before`` is the run's usage without it, ``response``
        its stream (whose ``usage`` grows as it streams), so a run stopped mid-request still
        counts it."""


@dataclass
class RunDeps:
    """What a running agent's tools and handlers can see of the run (pydantic-ai ``deps``)."""

    run_id: str
    sink: EventSink
    output_schema: dict[str, Any] | None = None
    sandbox: Any = None  # the run's sandbox (runtime.tools.sandbox.SandboxHandle), if it has one
    extra: dict[str, Any] = field(default_factory=dict)


def _tool_content(content: Any) -> str:
    if isinstance(content, str):
        return content
    try:
        return json.dumps(content, default=str)
    except (TypeError, ValueError):
        return str(content)


def _args(part: ToolCallPart) -> Any:
    try:
        return part.args_as_dict()
    except Exception:  # malformed JSON from the model is still worth showing as-is
        return part.args


async def handle_stream(ctx: RunContext[RunDeps], stream: AsyncIterable[AgentStreamEvent]) -> None:
    """The pydantic-ai ``event_stream_handler`` of every agentrun agent."""
    sink = ctx.deps.sink
    # By the time the next handler call starts, the previous model response is counted.
    await _report_usage(sink, ctx)
    texts: list[str] = []
    saw_tool_call = False
    async for event in stream:
        if isinstance(event, FunctionToolCallEvent | FunctionToolResultEvent):
            await _tool_event(sink, event)
        else:
            saw_tool_call = await _model_event(sink, event, texts) or saw_tool_call
    # Text the model wrote next to tool calls is its plan; text alone is its answer.
    text = "".join(texts)
    if text:
        await sink.emit(
            EventType.planning if saw_tool_call else EventType.message, role="assistant", content=text
        )
    await sink.flush()


async def _report_usage(sink: EventSink, ctx: RunContext[RunDeps]) -> None:
    usage = ctx.usage
    if usage.requests:
        await sink.report_usage(
            usage.input_tokens or 0, usage.output_tokens or 0, usage.requests, usage.tool_calls
        )


async def _model_event(sink: EventSink, event: AgentStreamEvent, texts: list[str]) -> bool:
    """Emit what a model-response event shows; True when it reveals a tool call."""
    if isinstance(event, PartStartEvent):
        if isinstance(event.part, TextPart) and event.part.content:
            await sink.emit(EventType.message_delta, role="assistant", content=event.part.content)
        return isinstance(event.part, ToolCallPart)
    if isinstance(event, PartDeltaEvent):
        if isinstance(event.delta, TextPartDelta) and event.delta.content_delta:
            await sink.emit(EventType.message_delta, role="assistant", content=event.delta.content_delta)
        return False
    if isinstance(event, PartEndEvent):
        if isinstance(event.part, TextPart):
            texts.append(event.part.content)
        elif isinstance(event.part, ThinkingPart) and event.part.content:
            await sink.emit(EventType.reasoning, role="assistant", content=event.part.content)
        return isinstance(event.part, ToolCallPart)
    return False


async def _tool_event(sink: EventSink, event: FunctionToolCallEvent | FunctionToolResultEvent) -> None:
    if isinstance(event, FunctionToolCallEvent):
        await sink.emit(
            EventType.tool_call,
            role="assistant",
            data={
                "tool_call_id": event.part.tool_call_id,
                "name": event.part.tool_name,
                "args": _args(event.part),
            },
        )
        return
    part = event.part
    ok = getattr(part, "outcome", "success") == "success"
    data: dict[str, Any] = {"tool_call_id": part.tool_call_id, "name": part.tool_name, "ok": ok}
    content = _tool_content(part.content)
    if not ok:
        data["error"] = content
    await sink.emit(
        EventType.tool_result,
        role="tool",
        content=content,
        data=data,
        level=LogLevel.info if ok else LogLevel.warning,
    )
