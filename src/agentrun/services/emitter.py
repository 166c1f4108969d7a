"""Persist a running agent's events, batching token deltas, and wake readers."""

from __future__ import annotations

import time
from typing import Any

from agentrun.domain.events import EventType, LogLevel
from agentrun.domain.models import Usage
from agentrun.services.bus import RunBus
from agentrun.store.runs import NewEvent, RunRepo

# Deltas are written in small batches: one row per token would make the store the bottleneck,
# while 50 ms is below what a person watching a stream notices.
DELTA_FLUSH_S = 0.05
DELTA_FLUSH_COUNT = 32


class RunFenced(Exception):
    """The run is no longer this executor's to write (finished, or taken over)."""


class RunEmitter:
    def __init__(self, runs: RunRepo, bus: RunBus, run_id: str, executor_id: str | None) -> None:
        self._runs = runs
        self._bus = bus
        self._run_id = run_id
        self._executor_id = executor_id
        self._buffer: list[NewEvent] = []
        self._first_buffered = 0.0
        self.usage: Usage | None = None  # the run's usage as last reported by the agent
        self._in_flight: tuple[Any, Any] | None = None  # (usage before it, its stream): see request_started
        # Requests sent again because an earlier execution's response was lost (a crash or a
        # takeover mid-request): the provider saw them, pydantic-ai counts each request once.
        self.repeated = 0

    async def request_sending(self, index: int) -> None:
        """Model request number ``index`` of the run is about to go to the provider."""
        repeated = await self._runs.request_sent(self._run_id, self._executor_id, index)
        if repeated is None:
            raise RunFenced(self._run_id)
        self.repeated = repeated

    def request_started(self, before: Any, response: Any) -> None:
        self._in_flight = (before, response)

    def usage_so_far(self) -> Usage | None:
        """The run's usage including a model request still in flight (for a run stopped now)."""
        if self._in_flight is None:
            return self.usage
        before, response = self._in_flight
        current = response.usage  # a StreamedResponse's usage so far
        live = Usage(
            input_tokens=(before.input_tokens or 0) + (current.input_tokens or 0),
            output_tokens=(before.output_tokens or 0) + (current.output_tokens or 0),
            requests=before.requests + 1 + self.repeated,
            tool_calls=before.tool_calls,
        )
        if self.usage is None:
            return live
        return max(self.usage, live, key=lambda u: (u.requests, u.total_tokens, u.tool_calls))

    async def report_usage(
        self, input_tokens: int, output_tokens: int, requests: int, tool_calls: int
    ) -> None:
        """A ``usage`` event after each model request (cumulative totals, so a replay repeats
        numbers, never inflates them)."""
        requests += self.repeated
        if self.usage is not None and requests <= self.usage.requests:
            return
        self.usage = Usage(
            input_tokens=input_tokens, output_tokens=output_tokens, requests=requests, tool_calls=tool_calls
        )
        await self.emit(EventType.usage, data=self.usage.model_dump())

    async def emit(
        self,
        type: EventType,
        *,
        role: str | None = None,
        content: str | None = None,
        data: dict[str, Any] | None = None,
        level: LogLevel = LogLevel.info,
    ) -> None:
        if not self._buffer:
            self._first_buffered = time.monotonic()
        last = self._buffer[-1] if self._buffer else None
        if type is EventType.message_delta and last is not None and last.type is type and last.role == role:
            # Consecutive token deltas become one event: fewer rows and wake-ups, same text.
            last.content = (last.content or "") + (content or "")
        else:
            self._buffer.append(NewEvent(type, role=role, content=content, data=data, level=level))
        if (
            type is not EventType.message_delta
            or len(self._buffer) >= DELTA_FLUSH_COUNT
            or time.monotonic() - self._first_buffered >= DELTA_FLUSH_S
        ):
            await self.flush()

    async def flush(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        if await self._runs.append_events(self._run_id, batch, self._executor_id) is None:
            raise RunFenced(self._run_id)
        self._bus.notify(self._run_id, status=False)
