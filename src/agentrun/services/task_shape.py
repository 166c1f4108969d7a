"""Seed 001's task shape: the response of ``POST /api/runs`` built from a run and its events.

Pure functions over domain objects, in the services layer because two processes need them: the
API (``api/compat/task_api.py`` answers with it) and whichever process delivers the run's
webhook (a 001 caller's ``webhook_url`` gets this shape, not the native run; services/webhooks.py).
"""

from __future__ import annotations

import json
from typing import Any

from agentrun.domain.events import EventType
from agentrun.domain.models import Event, Run
from agentrun.domain.status import RunStatus

# The webhook shape of runs created by POST /api/runs (recorded at create in their metadata).
SHAPE_KEY = "compat"
SHAPE = "001"

# --- integer task ids -------------------------------------------------------------------------

TASK_EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
_RAND_BITS = 12
MAX_TASK_ID = (1 << 53) - 1  # exact in every JSON client (JavaScript numbers included)


def _uuid_int(run_id: str) -> int:
    return int(run_id.partition("_")[2], 16)


def task_id_of(run_id: str) -> int:
    """A stable 53-bit integer for a run: 41 bits of its UUIDv7 millisecond time, 12 random bits.

    Derived, not stored, so every API node computes the same number and nothing needs a migration.
    """
    value = _uuid_int(run_id)
    millis = (value >> 80) - TASK_EPOCH_MS
    rand = (value >> 64) & ((1 << _RAND_BITS) - 1)
    return (millis << _RAND_BITS) | rand


# --- cached workflows -------------------------------------------------------------------------

WORKFLOW_VERSION = 1


def workflow_of(events: list[Event]) -> dict[str, Any]:
    """The tool-call sequence of a run: what ``use_cached_workflow`` would replay."""
    results = {
        (e.data or {}).get("tool_call_id"): e for e in events if e.type is EventType.tool_result and e.data
    }
    steps = []
    for event in events:
        if event.type is not EventType.tool_call or not event.data:
            continue
        result = results.get(event.data.get("tool_call_id"))
        steps.append(
            {
                "name": event.data.get("name"),
                "params": event.data.get("args") if isinstance(event.data.get("args"), dict) else {},
                "success": bool(result and (result.data or {}).get("ok")),
            }
        )
    return {"version": WORKFLOW_VERSION, "steps": steps}


# --- the response -------------------------------------------------------------------------------


def task_status(status: RunStatus) -> str:
    if status is RunStatus.completed:
        return "success"
    return "failure" if status.terminal else "in_progress"


def _action(
    name: str,
    params: dict[str, Any],
    *,
    is_done: bool = False,
    success: bool | None = None,
    content: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "params": params,
        "is_done": is_done,
        "success": success,
        "extracted_content": content,
        "error": error,
        "include_in_memory": True,
    }


def history_of(run: Run, events: list[Event]) -> list[dict[str, Any]]:
    """Steps from the event log: each model turn is a step; its tool calls (and the answer) are actions."""
    steps: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    pending: dict[str, dict[str, Any]] = {}

    def new_step() -> dict[str, Any]:
        step = {"description": "", "actions": []}
        steps.append(step)
        return step

    for event in events:
        data = event.data or {}
        if event.type in (EventType.planning, EventType.reasoning):
            if current is None or current["actions"]:
                current = new_step()
            current["description"] = " ".join(filter(None, [current["description"], event.content]))
        elif event.type is EventType.tool_call:
            # A call after the previous turn's calls all returned starts the next model turn.
            if current is None or (current["actions"] and not pending):
                current = new_step()
            action = _action(
                str(data.get("name")), data.get("args") if isinstance(data.get("args"), dict) else {}
            )
            current["actions"].append(action)
            pending[str(data.get("tool_call_id"))] = action
        elif event.type is EventType.tool_result:
            action = pending.pop(str(data.get("tool_call_id")), None)
            if action is not None:
                ok = bool(data.get("ok"))
                action.update(success=ok, extracted_content=event.content if ok else None)
                action["error"] = None if ok else str(data.get("error") or event.content)
        elif event.type is EventType.message:
            if current is None or current["actions"]:
                current = new_step()
            current["actions"].append(
                _action("done", {"text": event.content}, is_done=True, success=True, content=event.content)
            )
    _finish_history(run, steps)
    return steps


def _finish_history(run: Run, steps: list[dict[str, Any]]) -> None:
    """Describe unnamed steps; end with the outcome when no `message` event said it."""
    for step in steps:
        if not step["description"]:
            names = [a["name"] for a in step["actions"]]
            step["description"] = "final answer" if names == ["done"] else "called " + ", ".join(names)
    done = any(a["name"] == "done" for s in steps for a in s["actions"])
    if run.status is RunStatus.completed and not done:  # structured output has no message event
        content = run.result if isinstance(run.result, str) else json.dumps(run.result)
        steps.append(
            {
                "description": "final answer",
                "actions": [_action("done", {}, is_done=True, success=True, content=content)],
            }
        )
    elif run.status.terminal and run.status is not RunStatus.completed:
        message = run.error.message if run.error else run.status.value
        steps.append(
            {
                "description": f"run {run.status.value}",
                "actions": [_action("done", {}, is_done=True, success=False, error=message)],
            }
        )


def _replay_report(run: Run, events: list[Any]) -> dict[str, Any]:
    """Whether the cached workflow was replayed, from the summary the worker logs at the end."""
    assert run.cached_workflow is not None
    summaries = [
        e.data["cached_workflow"]
        for e in events
        if e.type.value == "log" and "cached_workflow" in (e.data or {})
    ]
    if not summaries:
        return {
            "requested": True,
            "steps": len(run.cached_workflow.steps),
            "state": "pending" if not run.status.terminal else "not replayed",
        }
    summary = summaries[-1]
    return {
        "requested": True,
        "steps": summary["steps"],
        "replayed_steps": summary["replayed"],
        "used_model": not summary["final_from_cache"],
        "fell_back_to_model_at_step": summary["model_from_step"],
    }


def task_response(run: Run, events: list[Event]) -> dict[str, Any]:
    """The 001 response for ``run``: what POST /api/runs, GET /api/runs/{task_id} and the run's
    webhook all carry (docs/compat/001-task-api.md)."""
    task_id = task_id_of(run.id)
    body: dict[str, Any] = {
        "task_id": task_id,
        "task_run_id": task_id,
        "history": history_of(run, events),
        "result": run.result if run.status is RunStatus.completed else None,
        "is_done": run.status.terminal,
        "is_successful": (run.status is RunStatus.completed) if run.status.terminal else None,
        "status": task_status(run.status),
        # agentrun additions (documented in docs/compat/001-task-api.md):
        "run_id": run.id,
        "model": run.model,
        "offline": run.offline,
        "error": run.error.message if run.error else None,
        "cached_workflow": workflow_of(events) if run.status is RunStatus.completed else None,
    }
    if run.cached_workflow is not None:
        body["cached_workflow_replay"] = _replay_report(run, events)
    return body


def has_task_shape(run: Run) -> bool:
    return run.metadata.get(SHAPE_KEY) == SHAPE
