"""Seed 003, the "ACP" runtime-run endpoint: ``/v1/servers/{serverId}/runs`` (see docs/compat/003-acp.md).

``serverId`` is an agent id or slug. Every run gets its own thread (titled with the run's
title), so the documented ``thread`` object and ``thread*`` fields always describe a real one.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field

from agentrun.api.compat._body import JSONBodyRoute
from agentrun.api.compat._shape import iso as _iso
from agentrun.api.compat._shape import text as _text
from agentrun.api.deps import ProjectDep, ServicesDep
from agentrun.domain.compat import AcpRunResponse
from agentrun.domain.errors import AgentrunError, ErrorCode, not_found
from agentrun.domain.events import EventType
from agentrun.domain.models import Event, Run, RunCreate, RunMode, Strict, Thread, ThreadCreate
from agentrun.domain.status import RunStatus
from agentrun.services import compat
from agentrun.services.container import Services

router = APIRouter(tags=["compat: ACP runtime runs (003)"], route_class=JSONBodyRoute)

STATUS = {
    RunStatus.queued: "queued",
    RunStatus.running: "running",
    RunStatus.cancelling: "running",
    RunStatus.requires_action: "awaiting",  # ACP's own word for a run that waits for input
    RunStatus.completed: "completed",
    RunStatus.failed: "failed",
    RunStatus.cancelled: "cancelled",
    RunStatus.timed_out: "failed",
}
SESSION_PROTOCOL = "agentrun"
_META = "_acp"  # where the run's title and mode are kept in the native run's metadata


class AcpRunBody(Strict):
    content: str | None = Field(None, description="Raw text content.")
    prompt: str | None = None
    title: str | None = Field(None, description="Display title.")
    mode: Literal["sync", "async"] = "sync"
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form metadata object.")


def _input_of(body: AcpRunBody) -> str:
    given = [v for v in (body.content, body.prompt) if v is not None]
    if not given or not any(v.strip() for v in given):
        raise AgentrunError(
            ErrorCode.validation_error,
            "content: give the run's input as `content` (or `prompt`).",
            {"field": "content"},
        )
    if len(given) == 2 and body.content != body.prompt:
        raise AgentrunError(
            ErrorCode.validation_error,
            "prompt: `content` and `prompt` are the same input; give one of them (or the same text in both).",
            {"field": "prompt"},
        )
    return given[0]


def thread_json(thread: Thread, server_id: str) -> dict[str, Any]:
    return {
        "id": thread.id,
        "serverId": server_id,
        "title": thread.title,
        "status": "active" if thread.active_run_id else "idle",
        "metadata": thread.metadata,
        "runCount": thread.run_count,
        "activeRunId": thread.active_run_id,
        "createdAt": _iso(thread.created_at),
        "updatedAt": _iso(thread.updated_at),
    }


def run_json(run: Run, thread: Thread | None, server_id: str) -> dict[str, Any]:
    extra = run.metadata.get(_META) or {}
    thread_info = thread_json(thread, server_id) if thread else None
    return {
        "id": run.id,
        "serverId": server_id,
        "threadId": run.thread_id,
        "title": extra.get("title"),
        "input": run.prompt,
        "output": _text(run.result) if run.status is RunStatus.completed else None,
        "mode": extra.get("mode", "async"),
        "status": STATUS[run.status],
        "error": run.error.message if run.error else None,
        "metadata": {k: v for k, v in run.metadata.items() if k != _META},
        "createdAt": _iso(run.created_at),
        "completedAt": _iso(run.finished_at),
        "sessionProtocol": SESSION_PROTOCOL,
        "threadBacked": run.thread_id is not None,
        "threadStatus": thread_info["status"] if thread_info else None,
        "threadTitle": thread.title if thread else None,
        # agentrun additions
        "agentId": run.agent_id,
        "model": run.model,
        "offline": run.offline,
        "usage": run.usage.model_dump(),
    }


def event_json(event: Event) -> dict[str, Any]:
    content = event.content
    if content is None and event.data:
        content = json.dumps(event.data, sort_keys=True, default=str)
    return {
        "id": f"{event.run_id}:{event.seq}",
        "role": event.role or "system",
        "content": content or "",
        "logType": event.type.value,
        "logLevel": event.level.value,
        "createdAt": _iso(event.created_at),
        "seq": event.seq,
        "data": event.data,
    }


async def _answer(services: Services, project: str, server_id: str, run: Run, status: int) -> JSONResponse:
    thread = None
    if run.thread_id is not None:
        thread = await services.threads.get(project, run.thread_id)
    events = await compat.all_events(services, project, run.id)
    body = {
        "serverId": server_id,
        "run": run_json(run, thread, server_id),
        "thread": thread_json(thread, server_id) if thread else None,
        # Token deltas are left out: the `message` event carries the whole answer.
        "events": [event_json(e) for e in events if e.type is not EventType.message_delta],
    }
    return JSONResponse(body, status_code=status, headers={"X-Run-Id": run.id})


@router.post(
    "/v1/servers/{serverId}/runs",
    status_code=201,
    operation_id="compat_003_start_run",
    response_model=AcpRunResponse,
    responses={
        202: {"model": AcpRunResponse, "description": "Agent runtime run accepted for background execution"}
    },
)
async def start_runtime_run(
    serverId: str,  # noqa: N803 - the documented path parameter name
    body: AcpRunBody,
    services: ServicesDep,
    project: ProjectDep,
) -> JSONResponse:
    text = _input_of(body)
    agent = await services.agents.get(project, serverId)
    title = body.title or " ".join(text.split())[:80]
    thread = await services.threads.create(
        project, ThreadCreate(agent=agent.id, title=title, metadata=body.metadata)
    )
    mode = RunMode.sync if body.mode == "sync" else RunMode.async_
    run, _ = await services.runs.create(
        project,
        RunCreate(
            agent=agent.id,
            prompt=text,
            thread_id=thread.id,
            mode=mode,
            metadata={**body.metadata, _META: {"title": body.title or title, "mode": body.mode}},
        ),
    )
    if mode is RunMode.async_:
        return await _answer(services, project, serverId, run, 202)
    run = await services.runs.wait(project, run.id, services.settings.limits.sync_wait_s, or_waiting=True)
    # A sync run still unfinished at the server's wait limit answers like an async one.
    return await _answer(services, project, serverId, run, 201 if run.status.terminal else 202)


@router.get(
    "/v1/servers/{serverId}/runs/{runId}", operation_id="compat_003_get_run", response_model=AcpRunResponse
)
async def get_runtime_run(
    serverId: str,  # noqa: N803
    runId: str,  # noqa: N803
    services: ServicesDep,
    project: ProjectDep,
) -> JSONResponse:
    agent = await services.agents.get(project, serverId)
    run = await services.runs.get(project, runId)
    if run.agent_id != agent.id:
        raise not_found("run", runId)
    return await _answer(services, project, serverId, run, 200)
