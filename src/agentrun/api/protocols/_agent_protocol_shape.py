"""Agent Protocol (the API ``langgraph-sdk`` speaks) shapes of agentrun objects.

Assistants from agents, threads and their state from threads, runs from runs, LangChain message
dicts from a thread's turns, and the SSE parts of each ``stream_mode`` from run events. No SDK
import: the server writes the JSON ``langgraph-sdk`` 0.4 parses (see docs/compat/agent-protocol.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.events import EventType
from agentrun.domain.models import Agent, Event, Run, Thread, ThreadMessage
from agentrun.domain.status import RunStatus

META_KEY = "agent_protocol"  # what this surface records in a run's metadata

# Our run statuses -> LangGraph RunStatus.
STATUS = {
    RunStatus.queued: "pending",
    RunStatus.running: "running",
    RunStatus.cancelling: "running",
    RunStatus.requires_action: "running",  # not done; answered on the native API (issue 12)
    RunStatus.completed: "success",
    RunStatus.failed: "error",
    RunStatus.timed_out: "timeout",
    RunStatus.cancelled: "interrupted",
}
STATUS_OF = {
    "pending": [RunStatus.queued],
    "running": [RunStatus.running, RunStatus.cancelling, RunStatus.requires_action],
    "success": [RunStatus.completed],
    "error": [RunStatus.failed],
    "timeout": [RunStatus.timed_out],
    "interrupted": [RunStatus.cancelled],
}

# stream_mode values this surface produces (SSE event names in docs/compat/agent-protocol.md).
STREAM_MODES = ("values", "updates", "messages", "messages-tuple", "events", "custom")


class NotSupported(AgentrunError):
    """A part of the Agent Protocol agentrun does not map: 400 with the stable code ``not_supported``."""

    def __init__(self, operation: str, message: str) -> None:
        super().__init__(
            ErrorCode.not_supported,
            f"{message} (not supported by agentrun's Agent Protocol surface; see docs/compat/agent-protocol.md)",
            {"operation": operation},
        )


def ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def _schema_of_messages() -> dict[str, Any]:
    return {
        "type": "object",
        "title": "MessagesState",
        "properties": {
            "messages": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "role": {"type": "string", "enum": ["user", "human", "system"]},
                        "content": {"type": "string"},
                    },
                },
            }
        },
        "required": ["messages"],
    }


# --- assistants ----------------------------------------------------------------------------------


def assistant(agent: Agent) -> dict[str, Any]:
    return {
        "assistant_id": agent.id,
        "graph_id": agent.slug,
        "config": {},
        "context": {},
        "created_at": ts(agent.created_at),
        "updated_at": ts(agent.updated_at),
        "metadata": {"created_by": "agentrun", "model": agent.definition.model},
        "version": agent.published_revision or agent.latest_revision,
        "name": agent.name or agent.slug,
        "description": agent.description or None,
    }


def schemas(agent: Agent) -> dict[str, Any]:
    definition = agent.definition
    output = definition.output_schema
    state = _schema_of_messages()
    if output:
        state["properties"]["structured_response"] = output
    return {
        "graph_id": agent.slug,
        "input_schema": definition.input_schema or _schema_of_messages(),
        "output_schema": state,
        "state_schema": state,
        "config_schema": None,
        "context_schema": None,
    }


# --- messages and state ----------------------------------------------------------------------


def lc_message(role: str, content: str, message_id: str, **extra: Any) -> dict[str, Any]:
    """A LangChain message dict (what ``messages_to_dict`` / langgraph-api write)."""
    kind = {"user": "human", "assistant": "ai", "system": "system", "tool": "tool"}.get(role, role)
    message: dict[str, Any] = {
        "type": kind,
        "content": content,
        "additional_kwargs": {},
        "response_metadata": {},
        "name": None,
        "id": message_id,
    }
    if kind == "ai":
        message |= {"tool_calls": [], "invalid_tool_calls": [], "usage_metadata": None}
    message.update(extra)
    return message


def message_id(run_id: str, role: str) -> str:
    return f"{run_id}-{'human' if role == 'user' else 'ai' if role == 'assistant' else role}"


def values(messages: list[ThreadMessage], last: Run | None = None) -> dict[str, Any]:
    """The state of a thread (or a stateless run): ``{"messages": [...]}``; a JSON result of the
    last run is also ``structured_response``."""
    body: dict[str, Any] = {
        "messages": [lc_message(m.role, m.content, message_id(m.run_id, m.role)) for m in messages]
    }
    if last is not None and last.status is RunStatus.completed and last.result_type == "json":
        body["structured_response"] = last.result
    return body


def up_to(messages: list[ThreadMessage], run_id: str) -> list[ThreadMessage]:
    """A thread's messages of the runs up to ``run_id`` (run ids sort by creation)."""
    return [m for m in messages if m.run_id <= run_id]


def error_of(run: Run) -> dict[str, Any]:
    code = run.error.code if run.error else run.status.value
    message = run.error.message if run.error else f"The run ended as {run.status.value}."
    return {"error": code, "message": message}


def state(thread: Thread, messages: list[ThreadMessage], last: Run | None) -> dict[str, Any]:
    return {
        "values": values(messages, last),
        "next": [],
        "checkpoint": {
            "thread_id": thread.id,
            "checkpoint_ns": "",
            "checkpoint_id": None,
            "checkpoint_map": None,
        },
        "metadata": {"run_count": thread.run_count},
        "created_at": ts(thread.updated_at),
        "parent_checkpoint": None,
        "tasks": [],
        "interrupts": [],
    }


# --- threads and runs ----------------------------------------------------------------------------


def thread(found: Thread, state_values: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "thread_id": found.id,
        "created_at": ts(found.created_at),
        "updated_at": ts(found.updated_at),
        "metadata": found.metadata,
        "status": "busy" if found.active_run_id else "idle",
        "values": state_values,
        "interrupts": {},
    }


def recorded(run: Run) -> dict[str, Any]:
    found = run.metadata.get(META_KEY)
    return found if isinstance(found, dict) else {}


def run(found: Run) -> dict[str, Any]:
    ours = recorded(found)
    return {
        "run_id": found.id,
        "thread_id": found.thread_id,
        "assistant_id": found.agent_id,
        "created_at": ts(found.created_at),
        "updated_at": ts(found.finished_at or found.started_at or found.created_at),
        "status": STATUS[found.status],
        "metadata": {k: v for k, v in found.metadata.items() if k != META_KEY},
        "multitask_strategy": ours.get("multitask_strategy", "enqueue"),
        "kwargs": {"stream_mode": ours.get("stream_mode", ["values"])},
    }


# --- streaming -----------------------------------------------------------------------------------


def sse(event: str, data: Any, event_id: str | None = None) -> bytes:
    head = f"event: {event}\n"
    if event_id is not None:
        head += f"id: {event_id}\n"
    return f"{head}data: {json.dumps(data, default=str)}\n\n".encode()


@dataclass
class Parts:
    """Maps one run's events to the SSE parts of the requested stream modes."""

    run: Run
    modes: list[str]
    streamed: str = ""  # the answer's text so far (``messages`` partials)
    announced: bool = False  # ``messages/metadata`` sent
    out: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def ai_id(self) -> str:
        return message_id(self.run.id, "assistant")

    def _meta(self) -> dict[str, Any]:
        return {
            "run_id": self.run.id,
            "thread_id": self.run.thread_id,
            "assistant_id": self.run.agent_id,
            "graph_id": self.run.agent_slug,
            "langgraph_node": "agent",
            "ls_model_name": self.run.model,
        }

    def _lc_event(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "event": name,
            "name": self.run.agent_slug,
            "run_id": self.run.id,
            "tags": [],
            "metadata": self._meta(),
            "data": data,
            "parent_ids": [],
        }

    def start(self, state_values: dict[str, Any]) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        if "values" in self.modes:
            out.append(("values", state_values))
        if "events" in self.modes:
            out.append(("events", self._lc_event("on_chain_start", {"input": state_values})))
        return out

    def of(self, event: Event) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        if event.type is EventType.message_delta and event.content:
            self.streamed += event.content
            chunk = lc_message("assistant", event.content, self.ai_id, type="AIMessageChunk")
            if "messages-tuple" in self.modes:
                out.append(("messages", [chunk, self._meta()]))
            if "messages" in self.modes:
                if not self.announced:
                    out.append(("messages/metadata", {self.ai_id: {"metadata": self._meta()}}))
                    self.announced = True
                out.append(("messages/partial", [lc_message("assistant", self.streamed, self.ai_id)]))
            if "events" in self.modes:
                out.append(("events", self._lc_event("on_chat_model_stream", {"chunk": chunk})))
        elif event.type is EventType.tool_call and event.data:
            call = {
                "name": event.data.get("name"),
                "args": event.data.get("args") or {},
                "id": event.data.get("tool_call_id"),
                "type": "tool_call",
            }
            asked = lc_message("assistant", "", f"{self.run.id}-call-{call['id']}", tool_calls=[call])
            if "updates" in self.modes:
                out.append(("updates", {"agent": {"messages": [asked]}}))
            if "events" in self.modes:
                start = {"input": call["args"]}
                out.append(("events", self._lc_event("on_tool_start", start) | {"name": call["name"]}))
        elif event.type is EventType.tool_result and event.data:
            call_id = event.data.get("tool_call_id")
            answer = lc_message(
                "tool",
                event.content or "",
                f"{self.run.id}-tool-{call_id}",
                tool_call_id=call_id,
                status="success" if event.data.get("ok", True) else "error",
            )
            answer["name"] = event.data.get("name")
            if "updates" in self.modes:
                out.append(("updates", {"tools": {"messages": [answer]}}))
            if "events" in self.modes:
                end = self._lc_event("on_tool_end", {"output": answer}) | {"name": event.data.get("name")}
                out.append(("events", end))
        if "custom" in self.modes:
            out.append(("custom", json.loads(event.model_dump_json())))
        return out

    def end(self, final: Run, state_values: dict[str, Any]) -> list[tuple[str, Any]]:
        """The parts of the terminal event: the answer, the final state, or the error."""
        out: list[tuple[str, Any]] = []
        if final.status is RunStatus.completed:
            messages = state_values.get("messages") or []
            answer = messages[-1] if messages else lc_message("assistant", "", self.ai_id)
            if "messages" in self.modes:
                if not self.announced:
                    out.append(("messages/metadata", {self.ai_id: {"metadata": self._meta()}}))
                out.append(("messages/complete", [answer]))
            if "updates" in self.modes:
                update: dict[str, Any] = {"messages": [answer]}
                if "structured_response" in state_values:
                    update["structured_response"] = state_values["structured_response"]
                out.append(("updates", {"agent": update}))
            if "values" in self.modes:
                out.append(("values", state_values))
            if "events" in self.modes:
                out.append(("events", self._lc_event("on_chain_end", {"output": state_values})))
        elif final.status in (RunStatus.failed, RunStatus.timed_out):
            out.append(("error", error_of(final)))
        return out
