"""/v1/runs: create (sync, async, stream), read, list, cancel, events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from agentrun.api.deps import CursorDep, LimitDep, ProjectDep, ServicesDep
from agentrun.api.sse import frame_event, frame_run, frames, sse_response
from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.models import DB_INT_MAX, EventsPage, Page, Run, RunActions, RunCreate, RunMode
from agentrun.domain.status import RunStatus
from agentrun.services.container import Services

router = APIRouter(prefix="/v1/runs", tags=["runs"])


def _run_json(run: Run, status: int) -> JSONResponse:
    return JSONResponse(run.model_dump(mode="json"), status_code=status, headers={"X-Run-Id": run.id})


@router.post(
    "",
    operation_id="create_run",
    response_model=Run,
    responses={
        202: {"model": Run, "description": "Accepted (async, or sync past the wait limit)"},
        200: {
            "description": "The finished run (sync), or an SSE stream (stream)",
            "content": {"text/event-stream": {}},
        },
    },
)
async def create_run(
    body: RunCreate,
    services: ServicesDep,
    project: ProjectDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> Response:
    run, _ = await services.runs.create(project, body, idempotency_key)
    if body.mode is RunMode.async_:
        return _run_json(run, 202)
    if body.mode is RunMode.stream:
        return sse_response(_stream_run(services, project, run.id), headers={"X-Run-Id": run.id})
    run = await services.runs.wait(project, run.id, services.settings.limits.sync_wait_s, or_waiting=True)
    return _run_json(run, 200 if run.status.terminal else 202)


async def _stream_run(services: Services, project: str, run_id: str) -> AsyncIterator[bytes]:
    async for event in services.runs.follow(project, run_id, 0):
        yield b": ping\n\n" if event is None else frame_event(event)
    yield frame_run(await services.runs.get(project, run_id))


@router.get("", operation_id="list_runs")
async def list_runs(
    services: ServicesDep,
    project: ProjectDep,
    limit: LimitDep,
    cursor: CursorDep = None,
    agent: str | None = None,
    status: RunStatus | None = None,
    thread_id: str | None = None,
) -> Page[Run]:
    return await services.runs.list(
        project, agent=agent, status=status, thread_id=thread_id, cursor=cursor, limit=limit
    )


@router.get("/{run_id}", operation_id="get_run")
async def get_run(
    run_id: str,
    services: ServicesDep,
    project: ProjectDep,
    wait_s: Annotated[
        float | None,
        Query(ge=0, description="Long-poll until the run is terminal or requires_action, or this passes."),
    ] = None,
) -> Run:
    if wait_s:
        return await services.runs.wait(
            project, run_id, min(wait_s, services.settings.limits.max_long_poll_s), or_waiting=True
        )
    return await services.runs.get(project, run_id)


@router.post("/{run_id}/cancel", operation_id="cancel_run")
async def cancel_run(run_id: str, services: ServicesDep, project: ProjectDep) -> Run:
    return await services.runs.cancel(project, run_id)


@router.post("/{run_id}/actions", operation_id="answer_run")
async def answer_run(run_id: str, body: RunActions, services: ServicesDep, project: ProjectDep) -> Run:
    """Answer a run in ``requires_action``: approve, deny (the model sees ``reason``), approve with
    edited ``args``, or ``answer`` a question. Answer all pending calls at once or one by one; the
    run resumes when every one is answered. The same answer again changes nothing; 409
    ``run_not_waiting`` when the run waits for nothing, 422 ``action_invalid`` for an unknown call
    or an answer of the wrong shape."""
    return await services.runs.act(project, run_id, body)


@router.get(
    "/{run_id}/events",
    operation_id="list_run_events",
    response_model=EventsPage,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "JSON page, or SSE with Accept: text/event-stream",
        }
    },
)
async def run_events(
    run_id: str,
    request: Request,
    services: ServicesDep,
    project: ProjectDep,
    after: Annotated[
        int, Query(ge=0, le=DB_INT_MAX, description="Return events with seq greater than this.")
    ] = 0,
    limit: Annotated[int | None, Query(ge=1)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventsPage | Response:
    if "text/event-stream" in request.headers.get("accept", ""):
        start = after
        if last_event_id:
            try:
                start = int(last_event_id)
            except ValueError as exc:
                raise AgentrunError(
                    ErrorCode.invalid_request, "Last-Event-ID must be the integer seq of an event."
                ) from exc
            if not 0 <= start <= DB_INT_MAX:
                # Refused now: past the database's range the first read would fail mid-stream.
                raise AgentrunError(
                    ErrorCode.validation_error,
                    f"Last-Event-ID must be an event seq between 0 and {DB_INT_MAX}.",
                    {"field": "Last-Event-ID", "max": DB_INT_MAX},
                )
        await services.runs.get(project, run_id)  # 404 now, before the stream's 200 is sent
        return sse_response(frames(services.runs.follow(project, run_id, start)))
    max_page = services.settings.limits.max_page_size
    if limit is not None and limit > max_page:
        raise AgentrunError(
            ErrorCode.validation_error, f"limit: at most {max_page} events per page.", {"max": max_page}
        )
    return await services.runs.events(project, run_id, after, limit or max_page)
