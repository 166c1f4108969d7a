"""Event types of a run's ordered log."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    run_queued = "run.queued"
    run_started = "run.started"
    planning = "planning"
    reasoning = "reasoning"
    message_delta = "message.delta"
    message = "message"
    tool_call = "tool_call"
    tool_result = "tool_result"
    log = "log"
    usage = "usage"
    run_requires_action = "run.requires_action"  # data: {"pending_actions": [...], "deadline"}
    run_action = "run.action"  # one pending call answered (data: call_id, decision)
    run_resumed = "run.resumed"  # every pending call answered: queued again
    run_completed = "run.completed"
    run_failed = "run.failed"
    run_cancelled = "run.cancelled"
    run_timed_out = "run.timed_out"


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


TERMINAL_EVENTS = frozenset(
    {EventType.run_completed, EventType.run_failed, EventType.run_cancelled, EventType.run_timed_out}
)
