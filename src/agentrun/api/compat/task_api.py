"""Seed 001, a "Run Agent" task API: ``POST /api/runs`` (see docs/compat/001-task-api.md).

A run names a provider and a model instead of an agent; each (provider, model) maps to an ad-hoc
agent of the project. Integer ids are derived from the run id (``services.compat.task_id_of``).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field

from agentrun.api.compat._body import JSONBodyRoute
from agentrun.api.deps import ProjectDep, ServicesDep
from agentrun.domain import json_schema
from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.events import EventType
from agentrun.domain.models import CachedWorkflow, Event, Run, RunCreate, RunMode, Strict
from agentrun.domain.status import RunStatus
from agentrun.services import compat
from agentrun.services.container import Services

router = APIRouter(tags=["compat: task API (001)"], route_class=JSONBodyRoute)

Provider = Literal["openai", "deepseek", "anthropic", "google", "groq", "mistral", "together"]


class RunAgentRequest(Strict):
    prompt: str = Field(min_length=3, description="The task to be performed by the agent.")
    model: str = Field("o3", min_length=1)
    provider: Provider = "openai"
    wait_for_completion: bool | None = True
    webhook_url: str | None = None
    response_format: Literal["text", "json"] | None = "text"
    json_schema: str | dict[str, Any] | None = None
    use_cached_workflow: bool | None = None
    cached_workflow: dict[str, Any] | None = None


def _status(status: RunStatus) -> str:
    if status is RunStatus.completed:
        return "success"
    return "failure" if status.terminal else "in_progress"


def _output_schema(body: RunAgentRequest) -> dict[str, Any] | None:
    schema = body.json_schema
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError as exc:
            raise AgentrunError(
                ErrorCode.validation_error,
                "json_schema: not valid JSON; give a JSON Schema as a JSON string or an object.",
                {"field": "json_schema"},
            ) from exc
        if not isinstance(schema, dict):
            raise AgentrunError(
                ErrorCode.validation_error, "json_schema: must be a JSON object.", {"field": "json_schema"}
            )
    if (body.response_format or "text") == "text":
        if schema is not None:
            raise AgentrunError(
                ErrorCode.validation_error,
                "json_schema: only used with response_format 'json'; set response_format to 'json'.",
                {"field": "json_schema"},
            )
        return None
    json_schema.check_schema(schema, "json_schema")
    return schema if schema is not None else {"type": "object"}


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


async def _response(services: Services, project: str, run: Run) -> dict[str, Any]:
    events = await compat.all_events(services, project, run.id)
    task_id = compat.task_id_of(run.id)
    body: dict[str, Any] = {
        "task_id": task_id,
        "task_run_id": task_id,
        "history": history_of(run, events),
        "result": run.result if run.status is RunStatus.completed else None,
        "is_done": run.status.terminal,
        "is_successful": (run.status is RunStatus.completed) if run.status.terminal else None,
        "status": _status(run.status),
        # agentrun additions (documented in docs/compat/001-task-api.md):
        "run_id": run.id,
        "model": run.model,
        "offline": run.offline,
        "error": run.error.message if run.error else None,
        "cached_workflow": compat.workflow_of(events) if run.status is RunStatus.completed else None,
    }
    if run.cached_workflow is not None:
        body["cached_workflow_replay"] = _replay_report(run, events)
    return body


@router.post("/api/runs", operation_id="compat_001_run_agent")
async def run_agent(body: RunAgentRequest, services: ServicesDep, project: ProjectDep) -> JSONResponse:
    output_schema = _output_schema(body)
    metadata: dict[str, Any] = {
        "compat": "001",
        "compat_001_provider": body.provider,
        "compat_001_model": body.model,
        "compat_001_response_format": body.response_format or "text",
    }
    cached: CachedWorkflow | None = None
    if body.use_cached_workflow:
        if body.cached_workflow is None:
            raise AgentrunError(
                ErrorCode.validation_error,
                "cached_workflow: required when use_cached_workflow is true.",
                {"field": "cached_workflow"},
            )
        cached = CachedWorkflow.model_validate(compat.check_workflow(body.cached_workflow))
    elif body.cached_workflow is not None:
        compat.check_workflow(body.cached_workflow)  # still refuse a malformed one
    agent = await compat.adhoc_agent(services, project, body.provider, body.model)
    wait = body.wait_for_completion is not False
    run, _ = await services.runs.create(
        project,
        RunCreate(
            agent=agent.id,
            prompt=body.prompt,
            mode=RunMode.sync if wait else RunMode.async_,
            output_schema=output_schema,
            metadata=metadata,
            webhook_url=body.webhook_url,
            cached_workflow=cached,
        ),
    )
    if wait:
        run = await services.runs.wait(project, run.id, services.settings.limits.sync_wait_s)
    return JSONResponse(await _response(services, project, run), headers={"X-Run-Id": run.id})


@router.get("/api/runs/{task_id}", operation_id="compat_001_get_run")
async def get_task_run(task_id: int, services: ServicesDep, project: ProjectDep) -> JSONResponse:
    run = await compat.run_by_task_id(services, project, task_id)
    return JSONResponse(await _response(services, project, run), headers={"X-Run-Id": run.id})


@router.get("/api/tasks/{task_id}", operation_id="compat_001_get_task")
async def get_task(task_id: int, services: ServicesDep, project: ProjectDep) -> JSONResponse:
    return await get_task_run(task_id, services, project)
