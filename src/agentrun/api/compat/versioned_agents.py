"""Seed 002, runs of versioned agents: ``/v0.1/agents/{agentId}/runs`` (see docs/compat/002-versioned-agents.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import Field

from agentrun.api.compat._body import JSONBodyRoute
from agentrun.api.compat._shape import iso as _iso
from agentrun.api.deps import CursorDep, LimitDep, ProjectDep, ServicesDep
from agentrun.domain.compat import VersionedEvents, VersionedRun, VersionedRunPage
from agentrun.domain.errors import not_found
from agentrun.domain.events import EventType
from agentrun.domain.models import Event, Run, RunCreate, RunMode, Strict
from agentrun.domain.status import RunStatus
from agentrun.services import compat
from agentrun.services.container import Services

router = APIRouter(tags=["compat: versioned agents (002)"], route_class=JSONBodyRoute)

STATUS = {
    RunStatus.queued: "pending",
    RunStatus.running: "running",
    RunStatus.cancelling: "running",
    RunStatus.requires_action: "running",  # no waiting word in 002: not done, it goes on once answered
    RunStatus.completed: "done",
    RunStatus.failed: "error",
    RunStatus.cancelled: "error",
    RunStatus.timed_out: "error",
}
RESEARCH_TOOLS = {"http_get"}
# Native event type -> this surface's event type; types not listed are not shown.
EVENT_TYPES = {
    EventType.planning: "planning",
    EventType.reasoning: "reasoning",
    EventType.tool_call: "tool_call",
    EventType.message: "message",
    EventType.log: "log",
    EventType.run_queued: "status",
    EventType.run_started: "status",
    EventType.run_completed: "status",
    EventType.run_failed: "status",
    EventType.run_cancelled: "status",
    EventType.run_timed_out: "status",
}
_EVENT_STATUS = {
    EventType.run_queued: "pending",
    EventType.run_started: "running",
    EventType.run_completed: "done",
    EventType.run_failed: "error",
    EventType.run_cancelled: "error",
    EventType.run_timed_out: "error",
}


class CreateRunBody(Strict):
    input: dict[str, Any] = Field(description="A JSON object valid against the agent's inputSchema.")
    revision_id: int | str | None = Field(
        None,
        alias="revisionId",
        description="The revision to run: its id, or its number; default: the published revision.",
    )


def sources_of(events: list[Event]) -> list[dict[str, Any]]:
    """URLs the run's research tools fetched successfully, first use first, without repeats."""
    ok = {
        (e.data or {}).get("tool_call_id")
        for e in events
        if e.type is EventType.tool_result and (e.data or {}).get("ok")
    }
    seen: list[str] = []
    for event in events:
        data = event.data or {}
        if (
            event.type is EventType.tool_call
            and data.get("name") in RESEARCH_TOOLS
            and data.get("tool_call_id") in ok
        ):
            url = (data.get("args") or {}).get("url") if isinstance(data.get("args"), dict) else None
            if isinstance(url, str) and url not in seen:
                seen.append(url)
    return [{"url": url} for url in seen]


def _result_data(run: Run, events: list[Event]) -> dict[str, Any] | None:
    if run.status is not RunStatus.completed:
        return None
    kind = run.result_type or ("text" if isinstance(run.result, str) else "json")
    body: dict[str, Any] = {"type": kind, "sources": sources_of(events)}
    body["text" if kind == "text" else "json"] = run.result
    return body


def event_json(event: Event) -> dict[str, Any] | None:
    kind = EVENT_TYPES.get(event.type)
    if kind is None:
        return None
    data = dict(event.data or {})
    if kind == "status":
        data = {"status": _EVENT_STATUS[event.type], **data}
    return {
        "id": f"{event.run_id}:{event.seq}",
        "runId": event.run_id,
        "seq": event.seq,
        "type": kind,
        "content": event.content,
        "data": data,
        "level": event.level.value,
        "createdAt": _iso(event.created_at),
    }


def _tool_results(events: list[Event]) -> dict[str, Event]:
    return {str((e.data or {}).get("tool_call_id")): e for e in events if e.type is EventType.tool_result}


def events_json(events: list[Event]) -> list[dict[str, Any]]:
    """The run's events as this surface shows them: a tool_call carries its result once it has one."""
    results = _tool_results(events)
    out = []
    for event in events:
        item = event_json(event)
        if item is None:
            continue
        if event.type is EventType.tool_call:
            result = results.get(str(item["data"].get("tool_call_id")))
            if result is not None:
                item["data"]["ok"] = (result.data or {}).get("ok")
                item["data"]["result"] = result.content
        out.append(item)
    return out


async def run_json(
    services: Services, project: str, run: Run, events: list[Event] | None = None
) -> dict[str, Any]:
    if events is None:
        events = await compat.all_events(services, project, run.id)
    revision = await services.agents.revision(project, run.agent_id, run.revision)
    return {
        "id": run.id,
        "agentId": run.agent_id,
        "agentSlug": run.agent_slug,
        "revisionId": revision.id,
        "revisionNumber": run.revision,
        "status": STATUS[run.status],
        "input": run.input,
        "resultData": _result_data(run, events),
        "error": run.error.model_dump() if run.error else None,
        "usage": {
            "inputTokens": run.usage.input_tokens,
            "outputTokens": run.usage.output_tokens,
            "requests": run.usage.requests,
            "toolCalls": run.usage.tool_calls,
        },
        "model": run.model,
        "offline": run.offline,
        "createdAt": _iso(run.created_at),
        "startedAt": _iso(run.started_at),
        "completedAt": _iso(run.finished_at),
    }


async def _agent_run(services: Services, project: str, agent_id: str, run_id: str) -> Run:
    agent = await services.agents.get(project, agent_id)
    run = await services.runs.get(project, run_id)
    if run.agent_id != agent.id:
        raise not_found("run", run_id)
    return run


@router.post(
    "/v0.1/agents/{agentId}/runs",
    status_code=201,
    operation_id="compat_002_create_run",
    response_model=VersionedRun,
)
async def create_versioned_run(
    agentId: str,  # noqa: N803 - the documented path parameter name
    body: CreateRunBody,
    services: ServicesDep,
    project: ProjectDep,
) -> JSONResponse:
    revision = None
    if body.revision_id is not None:
        revision = await compat.revision_number(services, project, agentId, body.revision_id)
    run, _ = await services.runs.create(
        project,
        RunCreate(
            agent=agentId,
            revision=revision,
            input=body.input,
            mode=RunMode.async_,
            metadata={"compat": "002"},
        ),
    )
    return JSONResponse(await run_json(services, project, run), status_code=201)


@router.get(
    "/v0.1/agents/{agentId}/runs", operation_id="compat_002_list_runs", response_model=VersionedRunPage
)
async def list_versioned_runs(
    agentId: str,  # noqa: N803
    services: ServicesDep,
    project: ProjectDep,
    limit: LimitDep,
    cursor: CursorDep = None,
) -> JSONResponse:
    page = await services.runs.list(
        project, agent=agentId, status=None, thread_id=None, cursor=cursor, limit=limit
    )
    data = [await run_json(services, project, run) for run in page.data]
    return JSONResponse({"data": data, "nextCursor": page.next_cursor})


@router.get(
    "/v0.1/agents/{agentId}/runs/{runId}",
    operation_id="compat_002_get_agent_run",
    response_model=VersionedRun,
)
async def get_versioned_run(
    agentId: str,  # noqa: N803
    runId: str,  # noqa: N803
    services: ServicesDep,
    project: ProjectDep,
) -> JSONResponse:
    run = await _agent_run(services, project, agentId, runId)
    return JSONResponse(await run_json(services, project, run))


@router.get("/v0.1/runs/{runId}", operation_id="compat_002_get_run", response_model=VersionedRun)
async def get_versioned_run_by_id(runId: str, services: ServicesDep, project: ProjectDep) -> JSONResponse:  # noqa: N803
    run = await services.runs.get(project, runId)
    return JSONResponse(await run_json(services, project, run))


async def _events(services: Services, project: str, run: Run, after: int) -> JSONResponse:
    events = await compat.all_events(services, project, run.id)
    shown = [e for e in events_json(events) if e["seq"] > after]
    return JSONResponse({"data": shown, "runStatus": STATUS[run.status]})


@router.get(
    "/v0.1/agents/{agentId}/runs/{runId}/events",
    operation_id="compat_002_agent_run_events",
    response_model=VersionedEvents,
)
async def versioned_run_events(
    agentId: str,  # noqa: N803
    runId: str,  # noqa: N803
    services: ServicesDep,
    project: ProjectDep,
    after: Annotated[int, Query(ge=0, description="Only events with seq greater than this.")] = 0,
) -> JSONResponse:
    run = await _agent_run(services, project, agentId, runId)
    return await _events(services, project, run, after)


@router.get("/v0.1/runs/{runId}/events", operation_id="compat_002_run_events", response_model=VersionedEvents)
async def versioned_run_events_by_id(
    runId: str,  # noqa: N803
    services: ServicesDep,
    project: ProjectDep,
    after: Annotated[int, Query(ge=0)] = 0,
) -> JSONResponse:
    run = await services.runs.get(project, runId)
    return await _events(services, project, run, after)
