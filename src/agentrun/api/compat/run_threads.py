"""Seed 004, ``POST /v1/run`` with server-managed threads (see docs/compat/004-run-threads.md).

Also the thread helpers (``/v1/run/threads``) and the legacy ``POST /v1/agents/{slug}/run``.
With ``stream`` omitted or true the answer is Server-Sent Events: one message per run event
(``event: <type>``, ``id: <seq>``, camelCase JSON data), then ``event: done`` whose data is the
same ``{"data": {...}}`` envelope a ``stream: false`` request gets.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from agentrun.api.compat._body import JSONBodyRoute
from agentrun.api.compat._shape import iso as _iso
from agentrun.api.compat._shape import text as _text
from agentrun.api.deps import CursorDep, LimitDep, ProjectDep, ServicesDep
from agentrun.api.sse import HEARTBEAT, sse_response
from agentrun.domain.compat import DeletedEnvelope, RunEnvelope, RunThreadEnvelope, RunThreadPage
from agentrun.domain.errors import AgentrunError, ErrorCode, not_found
from agentrun.domain.models import ChatMessage, Event, Run, RunConfig, RunCreate, RunMode, Strict, Thread
from agentrun.domain.status import RunStatus
from agentrun.services.container import Services
from agentrun.store.agents import agent_id_of_uuid
from agentrun.store.common import new_id

router = APIRouter(tags=["compat: /v1/run (004)"], route_class=JSONBodyRoute)

STATUS = {
    RunStatus.queued: "registered",
    RunStatus.running: "dispatched",
    RunStatus.cancelling: "dispatched",
    RunStatus.requires_action: "waiting",  # for a person (docs/compat/004-run-threads.md)
    RunStatus.completed: "completed",
    RunStatus.failed: "failed",
    RunStatus.cancelled: "cancelled",
    RunStatus.timed_out: "timed_out",
}
# Runs with a sandbox execute their commands in it; the rest are "managed" (no workspace).
IN_SANDBOX, MANAGED = "in_sandbox", "managed"


class RunOverrides(Strict):
    maxTokens: int | None = Field(None, ge=1)
    maxTurns: int | None = Field(None, ge=1, le=1000)
    temperature: float | None = Field(None, ge=0, le=2)


class Message(Strict):
    role: Literal["system", "user", "assistant"]
    content: str


class RunBody(Strict):
    agent: str = Field(description="Agent slug or ID.")
    prompt: str | None = None
    messages: list[Message] | None = None
    threadId: str | None = Field(None, min_length=1, max_length=64)
    stream: bool = True
    config: RunOverrides | None = None
    metadata: dict[str, Any] | None = None
    # agentrun extension: run in this sandbox (e.g. one a caller uploaded files to first).
    sandboxId: str | None = Field(None, min_length=1, max_length=64)


class LegacyRunBody(RunBody):
    agent: str | None = Field(None, description="Optional here: the path names the agent.")  # type: ignore[assignment]


def run_data(run: Run) -> dict[str, Any]:
    return {
        "runId": run.id,
        "sandboxId": run.sandbox_id,
        "executionMode": IN_SANDBOX if run.sandbox_id else MANAGED,
        "status": STATUS[run.status],
        "result": _text(run.result) if run.status is RunStatus.completed else None,
        "usage": {"inputTokens": run.usage.input_tokens, "outputTokens": run.usage.output_tokens},
        "iterations": run.iterations,
        "threadId": run.thread_id,
        # agentrun additions
        "agent": run.agent_slug,
        "model": run.model,
        "offline": run.offline,
        "error": run.error.model_dump() if run.error else None,
    }


def _event_data(event: Event) -> dict[str, Any]:
    return {
        "runId": event.run_id,
        "seq": event.seq,
        "type": event.type.value,
        "role": event.role,
        "content": event.content,
        "data": event.data,
        "level": event.level.value,
        "createdAt": _iso(event.created_at),
    }


async def _stream(services: Services, project: str, run_id: str) -> AsyncIterator[bytes]:
    async for event in services.runs.follow(project, run_id, 0):
        if event is None:
            yield HEARTBEAT
            continue
        payload = json.dumps(_event_data(event))
        yield f"id: {event.seq}\nevent: {event.type.value}\ndata: {payload}\n\n".encode()
    run = await services.runs.get(project, run_id)
    yield f"event: done\ndata: {json.dumps({'data': run_data(run)})}\n\n".encode()


async def _run(services: Services, project: str, agent: str, body: RunBody) -> Response:
    if (body.prompt is None) == (body.messages is None):
        raise AgentrunError(
            ErrorCode.validation_error,
            "prompt: give either `prompt` or `messages` (exactly one).",
            {"field": "prompt"},
        )
    if body.messages is not None and not body.messages:
        raise AgentrunError(ErrorCode.validation_error, "messages: must not be empty.", {"field": "messages"})
    overrides = body.config or RunOverrides()
    create = RunCreate(
        agent=agent,
        prompt=body.prompt,
        messages=[ChatMessage(role=m.role, content=m.content) for m in body.messages]
        if body.messages
        else None,
        # No threadId: a new server-managed thread, so the answer's threadId can continue it (as
        # the document's example shows). `messages` is caller-managed history: no thread then.
        thread_id=body.threadId or (new_id("thr") if body.messages is None else None),
        mode=RunMode.stream if body.stream else RunMode.sync,
        config=RunConfig(
            max_tokens=overrides.maxTokens, max_turns=overrides.maxTurns, temperature=overrides.temperature
        ),
        metadata=body.metadata or {},
        sandbox_id=body.sandboxId,
    )
    run, _ = await services.runs.create(project, create, create_thread=True)
    if body.stream:
        return sse_response(_stream(services, project, run.id), headers={"X-Run-Id": run.id})
    run = await services.runs.wait(project, run.id, services.settings.limits.sync_wait_s, or_waiting=True)
    return JSONResponse({"data": run_data(run)}, status_code=200 if run.status.terminal else 202)


_RUN_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "JSON (stream: false) or SSE"},
    202: {"model": RunEnvelope, "description": "stream: false and still running at the server's wait limit"},
}


@router.post("/v1/run", operation_id="compat_004_run", response_model=RunEnvelope, responses=_RUN_RESPONSES)
async def run_agent(body: RunBody, services: ServicesDep, project: ProjectDep) -> Response:
    return await _run(services, project, body.agent, body)


@router.post(
    "/v1/agents/{slug}/run",
    operation_id="compat_004_legacy_agent_run",
    response_model=RunEnvelope,
    responses=_RUN_RESPONSES,
)
async def legacy_agent_run(
    slug: str, body: LegacyRunBody, services: ServicesDep, project: ProjectDep
) -> Response:
    if body.agent is not None and body.agent != slug:
        agent = await services.agents.get(project, slug)
        if body.agent not in (agent.id, agent.slug) and agent_id_of_uuid(body.agent) != agent.id:
            raise AgentrunError(
                ErrorCode.validation_error,
                f"agent: the body names {body.agent!r} but the path names {slug!r}; drop one.",
                {"field": "agent"},
            )
    return await _run(services, project, slug, body)


def thread_json(thread: Thread, agent_slug: str) -> dict[str, Any]:
    return {
        "id": thread.id,
        "agent": agent_slug,
        "agentId": thread.agent_id,
        "title": thread.title,
        "metadata": thread.metadata,
        "runCount": thread.run_count,
        "activeRunId": thread.active_run_id,
        "createdAt": _iso(thread.created_at),
        "updatedAt": _iso(thread.updated_at),
    }


async def _agent_thread(
    services: Services, project: str, thread_id: str, agent: str | None
) -> tuple[Any, str]:
    detail = await services.threads.get(project, thread_id)
    slug = ""
    if agent is not None:
        found = await services.agents.get(project, agent)
        if detail.agent_id != found.id:
            raise not_found("thread", thread_id)
        slug = found.slug
    elif detail.agent_id is not None:
        slug = (await services.agents.get(project, detail.agent_id)).slug
    return detail, slug


AgentQuery = Annotated[str, Query(description="Agent slug or ID the threads belong to.")]
OptionalAgentQuery = Annotated[str | None, Query(description="Agent slug or ID the thread belongs to.")]


@router.get("/v1/run/threads", operation_id="compat_004_list_threads", response_model=RunThreadPage)
async def list_run_threads(
    agent: AgentQuery,
    services: ServicesDep,
    project: ProjectDep,
    limit: LimitDep,
    cursor: CursorDep = None,
) -> JSONResponse:
    found = await services.agents.get(project, agent)
    page = await services.threads.list(project, found.id, cursor, limit)
    return JSONResponse(
        {"data": [thread_json(t, found.slug) for t in page.data], "nextCursor": page.next_cursor}
    )


@router.get(
    "/v1/run/threads/{thread_id}", operation_id="compat_004_get_thread", response_model=RunThreadEnvelope
)
async def get_run_thread(
    thread_id: str, services: ServicesDep, project: ProjectDep, agent: OptionalAgentQuery = None
) -> JSONResponse:
    detail, slug = await _agent_thread(services, project, thread_id, agent)
    body = thread_json(detail, slug)
    body["messages"] = [
        {"role": m.role, "content": m.content, "runId": m.run_id, "createdAt": _iso(m.created_at)}
        for m in detail.messages
    ]
    return JSONResponse({"data": body})


@router.delete(
    "/v1/run/threads/{thread_id}", operation_id="compat_004_delete_thread", response_model=DeletedEnvelope
)
async def delete_run_thread(
    thread_id: str, services: ServicesDep, project: ProjectDep, agent: OptionalAgentQuery = None
) -> JSONResponse:
    await _agent_thread(services, project, thread_id, agent)
    await services.threads.delete(project, thread_id)
    return JSONResponse({"data": {"id": thread_id, "deleted": True}})
