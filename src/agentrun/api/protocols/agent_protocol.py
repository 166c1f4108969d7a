"""LangGraph's Agent Protocol (the HTTP API ``langgraph-sdk`` speaks), under ``/lg``.

``get_client(url="http://host:port/lg", api_key=KEY)`` works unchanged: the SDK builds every path
relative to its base URL. Assistants are agents, threads are threads, runs are runs; the run's
events become the parts of each ``stream_mode``. Thin over ``services.runs`` /
``services.threads``; shapes in ``_agent_protocol_shape.py``. What does not map (state editing,
checkpoints, history, copies, crons, the store) is a 400 ``not_supported``. See
docs/compat/agent-protocol.md.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agentrun import __version__
from agentrun.api.deps import ProjectDep, ServicesDep
from agentrun.api.protocols import _agent_protocol_shape as shape
from agentrun.api.protocols._agent_protocol_shape import NotSupported
from agentrun.api.sse import HEARTBEAT, sse_response
from agentrun.domain.errors import AgentrunError, ErrorCode, not_found
from agentrun.domain.events import TERMINAL_EVENTS
from agentrun.domain.models import (
    Agent,
    AgentDefinition,
    ChatMessage,
    Durability,
    Multitask,
    Run,
    RunCreate,
    RunMode,
    Thread,
)
from agentrun.domain.status import RunStatus
from agentrun.services import compat
from agentrun.services.container import Services
from agentrun.services.threads import conversation

PREFIX = "/lg"
router = APIRouter(prefix=PREFIX, tags=["protocol: Agent Protocol (LangGraph)"])

MULTITASK = {
    "reject": Multitask.reject,
    "enqueue": Multitask.enqueue,
    "interrupt": Multitask.interrupt,
    "rollback": Multitask.interrupt,  # the interrupted run is cancelled, not erased
}
ThreadId = Annotated[str, Field(min_length=1, max_length=64)]


# --- bodies (the fields langgraph-sdk sends; others are ignored, as langgraph-api does) ----------


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RunBody(_In):
    assistant_id: str = Field(min_length=1, max_length=200, description="Agent slug or id.")
    input: dict[str, Any] | None = None
    command: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    stream_mode: str | list[str] = "values"
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    interrupt_before: str | list[str] | None = None
    interrupt_after: str | list[str] | None = None
    webhook: str | None = Field(None, max_length=2000)
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] | None = None
    if_not_exists: Literal["create", "reject"] | None = None
    on_disconnect: Literal["cancel", "continue"] | None = None
    on_completion: Literal["delete", "keep"] | None = None
    after_seconds: float | None = None
    durability: Literal["sync", "async", "exit"] | None = None


class AssistantSearch(_In):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class ThreadCreateBody(_In):
    thread_id: ThreadId | None = None
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] | None = None
    supersteps: list[Any] | None = None
    ttl: Any = None


class ThreadSearch(_In):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    ids: list[str] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)


# --- helpers -------------------------------------------------------------------------------------


def _modes(value: str | list[str] | None) -> list[str]:
    modes = [value] if isinstance(value, str) else [m for m in (value or []) if m]
    modes = list(dict.fromkeys(modes)) or ["values"]
    unknown = [m for m in modes if m not in shape.STREAM_MODES]
    if unknown:
        raise NotSupported(
            "stream_mode", f"stream_mode {unknown} is not produced; use any of {list(shape.STREAM_MODES)}"
        )
    return modes


def _text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for block in content:
            if isinstance(block, str):
                texts.append(block)
            elif (
                isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)
            ):
                texts.append(block["text"])
            else:
                raise NotSupported("content_block", f"{where}: only text content blocks are supported")
        return "".join(texts)
    raise AgentrunError(ErrorCode.validation_error, f"{where}: content must be a string.", {"field": where})


_ROLES = {"user": "user", "human": "user", "system": "system", "ai": "assistant", "assistant": "assistant"}


def _messages(raw: Any) -> list[ChatMessage]:
    if isinstance(raw, str | dict):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise AgentrunError(
            ErrorCode.validation_error, "input.messages: a non-empty list.", {"field": "input.messages"}
        )
    out: list[ChatMessage] = []
    for i, item in enumerate(raw):
        where = f"input.messages.{i}"
        if isinstance(item, str):
            role, content = "user", item
        elif isinstance(item, list | tuple) and len(item) == 2:
            role, content = item
        elif isinstance(item, dict):
            role, content = item.get("role") or item.get("type"), item.get("content")
        else:
            raise AgentrunError(ErrorCode.validation_error, f"{where}: not a message.", {"field": where})
        if role not in _ROLES:
            raise AgentrunError(
                ErrorCode.validation_error,
                f"{where}: role {role!r}; use user/human, ai/assistant or system.",
                {"field": where},
            )
        out.append(ChatMessage(role=_ROLES[str(role)], content=_text(content, where)))  # type: ignore[arg-type]
    return out


def _content(definition: AgentDefinition, body: RunBody, thread_id: str | None) -> dict[str, Any]:
    """The run's ``prompt`` / ``messages`` / ``input`` from the Agent Protocol ``input``."""
    if body.command is not None:
        raise NotSupported("command", "command (resume, goto, update): runs never wait on an interrupt")
    if body.input is None:
        raise AgentrunError(ErrorCode.validation_error, "input: required.", {"field": "input"})
    if definition.input_schema:
        return {"input": body.input}  # the agent's schema decides (422 input_invalid otherwise)
    if set(body.input) != {"messages"}:
        raise AgentrunError(
            ErrorCode.validation_error,
            'input: send {"messages": [{"role": "user", "content": "..."}]} (this agent has no input_schema).',
            {"field": "input"},
        )
    messages = _messages(body.input["messages"])
    if all(m.role == "user" for m in messages):
        return {"prompt": "\n".join(m.content for m in messages)}
    if thread_id is not None:
        raise AgentrunError(
            ErrorCode.validation_error,
            "input.messages: on a thread send only the new user message(s); the thread has the history.",
            {"field": "input.messages"},
        )
    if messages[-1].role != "user":
        raise AgentrunError(
            ErrorCode.validation_error,
            "input.messages: the last message must be the user's.",
            {"field": "input.messages"},
        )
    return {"messages": messages}


def _refuse_unmapped(body: RunBody) -> None:
    for name in ("interrupt_before", "interrupt_after"):
        if getattr(body, name):
            raise NotSupported(name, f"{name}: agents have no graph nodes to interrupt at")
    if body.checkpoint is not None or body.checkpoint_id is not None:
        raise NotSupported(
            "checkpoint", "checkpoint / checkpoint_id: there are no checkpoints to resume from"
        )
    if body.after_seconds:
        raise NotSupported("after_seconds", "after_seconds: runs start when a worker is free")


async def _start(
    services: Services, project: str, body: RunBody, thread_id: str | None, mode: RunMode, modes: list[str]
) -> Run:
    # The published revision the run executes (404 agent_not_found; 409 if archived/unpublished):
    # its definition decides how `input` maps; two queries, not the full Agent's five.
    agent, revision, definition = await services.agents.for_run(project, body.assistant_id, None)
    _refuse_unmapped(body)
    strategy = body.multitask_strategy or "enqueue"
    recorded = {"multitask_strategy": strategy, "stream_mode": modes}
    if body.config:
        recorded["config"] = body.config
    if body.context:
        recorded["context"] = body.context
    create = RunCreate(
        agent=agent.id,
        revision=revision,
        thread_id=thread_id,
        mode=mode,
        multitask=MULTITASK[strategy],
        metadata={**(body.metadata or {}), shape.META_KEY: recorded},
        webhook_url=body.webhook,
        durability=Durability.exit if body.durability == "exit" else None,
        **_content(definition, body, thread_id),
    )
    run, _ = await services.runs.create(project, create, create_thread=body.if_not_exists == "create")
    return run


async def _thread(services: Services, project: str, thread_id: str) -> Thread:
    return await services.store.threads.get(project, thread_id)  # 404 thread_not_found


async def _run_of(services: Services, project: str, thread_id: str, run_id: str) -> Run:
    run = await services.runs.get(project, run_id)
    if run.thread_id != thread_id:
        raise not_found("run", run_id)
    return run


async def _values(services: Services, project: str, run: Run) -> dict[str, Any]:
    """The state the run leaves: its thread's messages up to it, or its own for a stateless run."""
    if run.thread_id is None:
        return shape.values(conversation([run]), run)
    detail = await services.threads.get(project, run.thread_id)
    return shape.values(shape.up_to(detail.messages, run.id), run)


def _locations(run: Run, tail: str) -> dict[str, str]:
    """``Content-Location`` (the SDK's ``on_run_created``) and, for thread runs, the ``Location``
    it reconnects to; both relative to the base URL, as the SDK resolves them."""
    if run.thread_id is None:
        found = {"Content-Location": f"/runs/{run.id}"}
        if tail == "stream":
            found["Location"] = f"/runs/{run.id}/stream"
        return found
    base = f"/threads/{run.thread_id}/runs/{run.id}"
    return {"Content-Location": base, "Location": f"{base}/{tail}"}


def _after(last_event_id: str | None) -> int:
    if not last_event_id:
        return 0
    try:
        return max(0, int(last_event_id))
    except ValueError:
        raise AgentrunError(
            ErrorCode.validation_error,
            f"Last-Event-ID: {last_event_id!r} is not an id this stream sent (an event number).",
            {"field": "Last-Event-ID"},
        ) from None


async def _stream(
    services: Services, project: str, run: Run, modes: list[str], after: int, cancel_on_disconnect: bool
) -> AsyncIterator[bytes]:
    """``metadata`` first, then the parts of each event after ``after``; each event's last part
    carries its seq as the SSE id, so ``Last-Event-ID`` resumes after it."""
    parts = shape.Parts(run, modes)
    finished = False
    try:
        yield shape.sse("metadata", {"run_id": run.id, "attempt": max(run.attempt, 1)})
        if after == 0:
            for name, data in parts.start(await _values(services, project, run)):
                yield shape.sse(name, data)
        async for event in services.runs.follow(project, run.id, after):
            if event is None:
                yield HEARTBEAT
                continue
            out = parts.of(event)
            if event.type in TERMINAL_EVENTS:
                final = await services.runs.get(project, run.id)
                out += parts.end(final, await _values(services, project, final))
                finished = True
            for i, (name, data) in enumerate(out):
                yield shape.sse(name, data, str(event.seq) if i == len(out) - 1 else None)
    except Exception as exc:  # the stream has started: the error is one SSE `error` part
        finished = True
        if isinstance(exc, AgentrunError):
            yield shape.sse("error", {"error": str(exc.code), "message": exc.message})
        else:
            yield shape.sse("error", {"error": "internal", "message": "Internal error; it was logged."})
            raise
    finally:
        if not finished and cancel_on_disconnect:
            # The client went away: the request's task is being cancelled, so an await here would
            # not run; the cancel runs as its own task (held until done).
            task = asyncio.get_running_loop().create_task(_cancel_quietly(services, project, run.id))
            _BACKGROUND.add(task)
            task.add_done_callback(_BACKGROUND.discard)


_BACKGROUND: set[asyncio.Task[None]] = set()


async def _cancel_quietly(services: Services, project: str, run_id: str) -> None:
    try:
        await services.runs.cancel(project, run_id, reason="stream disconnected (on_disconnect: cancel)")
    except AgentrunError:
        pass


async def _waited(services: Services, project: str, run: Run) -> AsyncIterator[bytes]:
    """A JSON body sent once the run ends: blank lines keep the connection alive meanwhile (JSON
    allows leading whitespace), so there is no sync wait limit. A failed run is ``__error__``."""
    heartbeat = services.settings.limits.sse_heartbeat_s
    while True:
        run = await services.runs.wait(project, run.id, heartbeat)
        if run.status.terminal:
            break
        yield b"\n"
    if run.status in (RunStatus.failed, RunStatus.timed_out):
        body: dict[str, Any] = {"__error__": shape.error_of(run)}
    else:
        body = await _values(services, project, run)
    yield json.dumps(body, default=str).encode()


def _json_wait(services: Services, project: str, run: Run, headers: dict[str, str]) -> Response:
    return StreamingResponse(_waited(services, project, run), media_type="application/json", headers=headers)


def _page_all(items: list[Any], offset: int, limit: int) -> list[Any]:
    return items[offset : offset + limit]


# --- info ----------------------------------------------------------------------------------------


@router.get("/info", operation_id="lg_info", summary="Server info (Agent Protocol)")
async def info() -> JSONResponse:
    return JSONResponse(
        {
            "version": __version__,
            "server": "agentrun",
            "flags": {"assistants": True, "crons": False, "langsmith": False, "store": False},
        }
    )


@router.get("/ok", operation_id="lg_ok", summary="Liveness (Agent Protocol)")
async def ok() -> JSONResponse:
    return JSONResponse({"ok": True})


# --- assistants ----------------------------------------------------------------------------------


async def _assistants(services: Services, project: str, body: AssistantSearch) -> list[Agent]:
    found: list[Agent] = []
    cursor: str | None = None
    page_size = services.settings.limits.max_page_size
    while True:
        page = await services.agents.list(project, cursor, page_size, False)
        for agent in page.data:
            if body.graph_id and agent.slug != body.graph_id:
                continue
            if body.name and body.name.lower() not in (agent.name or agent.slug).lower():
                continue
            if body.metadata and any(
                shape.assistant(agent)["metadata"].get(k) != v for k, v in body.metadata.items()
            ):
                continue
            found.append(agent)
        cursor = page.next_cursor
        if cursor is None or len(found) >= body.offset + body.limit:
            return found


@router.post("/assistants/search", operation_id="lg_assistants_search", summary="Search assistants (agents)")
async def assistants_search(
    body: AssistantSearch, services: ServicesDep, project: ProjectDep
) -> JSONResponse:
    found = await _assistants(services, project, body)
    page = _page_all(found, body.offset, body.limit)
    headers = {}
    if len(found) > body.offset + body.limit:
        headers["X-Pagination-Next"] = str(body.offset + body.limit)
    return JSONResponse([shape.assistant(a) for a in page], headers=headers)


@router.post("/assistants/count", operation_id="lg_assistants_count", summary="Count assistants")
async def assistants_count(body: AssistantSearch, services: ServicesDep, project: ProjectDep) -> JSONResponse:
    everything = body.model_copy(update={"offset": 0, "limit": 10**9})
    return JSONResponse(len(await _assistants(services, project, everything)))


@router.get("/assistants/{assistant_id}", operation_id="lg_assistant_get", summary="An assistant (agent)")
async def assistant_get(assistant_id: str, services: ServicesDep, project: ProjectDep) -> JSONResponse:
    return JSONResponse(shape.assistant(await services.agents.get(project, assistant_id)))


@router.get("/assistants/{assistant_id}/schemas", operation_id="lg_assistant_schemas", summary="Its schemas")
async def assistant_schemas(assistant_id: str, services: ServicesDep, project: ProjectDep) -> JSONResponse:
    return JSONResponse(shape.schemas(await services.agents.get(project, assistant_id)))


# --- threads -------------------------------------------------------------------------------------


@router.post("/threads", operation_id="lg_threads_create", summary="Create a thread")
async def threads_create(body: ThreadCreateBody, services: ServicesDep, project: ProjectDep) -> JSONResponse:
    if body.supersteps:
        raise NotSupported("supersteps", "supersteps: threads have no graph state to apply updates to")
    if body.ttl is not None:
        raise NotSupported("ttl", "ttl: threads are kept until deleted (or the server's retention)")
    if body.thread_id is not None and body.if_exists == "do_nothing":
        existing = await services.store.threads.find(project, body.thread_id)
        if existing is not None:
            return JSONResponse(shape.thread(existing, None))
    made = await compat.create_thread(services, project, body.thread_id, body.metadata or {})
    return JSONResponse(shape.thread(made, {"messages": []}))


async def _threads(services: Services, project: str, body: ThreadSearch) -> list[Thread]:
    if body.values:
        raise NotSupported("values", "threads.search by values: thread state is not indexed")
    wanted = set(body.ids or [])
    found: list[Thread] = []
    cursor: str | None = None
    while True:
        page = await services.threads.list(project, None, cursor, services.settings.limits.max_page_size)
        for t in page.data:
            if wanted and t.id not in wanted:
                continue
            if body.metadata and any(t.metadata.get(k) != v for k, v in body.metadata.items()):
                continue
            if body.status and shape.thread(t, None)["status"] != body.status:
                continue
            found.append(t)
        cursor = page.next_cursor
        if cursor is None or len(found) >= body.offset + body.limit:
            return found


@router.post("/threads/search", operation_id="lg_threads_search", summary="Search threads")
async def threads_search(body: ThreadSearch, services: ServicesDep, project: ProjectDep) -> JSONResponse:
    found = _page_all(await _threads(services, project, body), body.offset, body.limit)
    out = []
    for t in found:
        detail = await services.threads.get(project, t.id)
        out.append(shape.thread(t, shape.values(detail.messages)))
    return JSONResponse(out)


@router.post("/threads/count", operation_id="lg_threads_count", summary="Count threads")
async def threads_count(body: ThreadSearch, services: ServicesDep, project: ProjectDep) -> JSONResponse:
    everything = body.model_copy(update={"offset": 0, "limit": 10**9})
    return JSONResponse(len(await _threads(services, project, everything)))


@router.get("/threads/{thread_id}", operation_id="lg_thread_get", summary="A thread")
async def thread_get(thread_id: str, services: ServicesDep, project: ProjectDep) -> JSONResponse:
    detail = await services.threads.get(project, thread_id)
    return JSONResponse(shape.thread(detail, shape.values(detail.messages)))


@router.delete("/threads/{thread_id}", operation_id="lg_thread_delete", status_code=204, summary="Delete it")
async def thread_delete(thread_id: str, services: ServicesDep, project: ProjectDep) -> Response:
    await services.threads.delete(project, thread_id)  # 409 thread_busy while a run is unfinished
    return Response(status_code=204)


@router.get("/threads/{thread_id}/state", operation_id="lg_thread_state", summary="Its state: the messages")
async def thread_state(thread_id: str, services: ServicesDep, project: ProjectDep) -> JSONResponse:
    detail = await services.threads.get(project, thread_id)
    last: Run | None = None
    if detail.messages:
        last = await services.runs.get(project, detail.messages[-1].run_id)
    return JSONResponse(shape.state(detail, detail.messages, last))


# --- runs ----------------------------------------------------------------------------------------


def _stream_response(
    services: Services, project: str, run: Run, modes: list[str], after: int, cancel: bool
) -> Response:
    return sse_response(
        _stream(services, project, run, modes, after, cancel), headers={**_locations(run, "stream")}
    )


@router.post("/runs", operation_id="lg_runs_create_stateless", summary="A background stateless run")
async def runs_create(body: RunBody, services: ServicesDep, project: ProjectDep) -> JSONResponse:
    run = await _start(services, project, body, None, RunMode.async_, _modes(body.stream_mode))
    return JSONResponse(shape.run(run), headers=_locations(run, "join"))


@router.post("/runs/wait", operation_id="lg_runs_wait_stateless", summary="A stateless run, its final state")
async def runs_wait(body: RunBody, services: ServicesDep, project: ProjectDep) -> Response:
    run = await _start(services, project, body, None, RunMode.sync, ["values"])
    return _json_wait(services, project, run, _locations(run, "join"))


@router.post(
    "/runs/stream",
    operation_id="lg_runs_stream_stateless",
    summary="A stateless run, streamed (SSE)",
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def runs_stream(body: RunBody, services: ServicesDep, project: ProjectDep) -> Response:
    modes = _modes(body.stream_mode)
    run = await _start(services, project, body, None, RunMode.stream, modes)
    return _stream_response(services, project, run, modes, 0, body.on_disconnect == "cancel")


@router.post(
    "/threads/{thread_id}/runs", operation_id="lg_runs_create", summary="A background run on a thread"
)
async def thread_runs_create(
    thread_id: str, body: RunBody, services: ServicesDep, project: ProjectDep
) -> JSONResponse:
    run = await _start(services, project, body, thread_id, RunMode.async_, _modes(body.stream_mode))
    return JSONResponse(shape.run(run), headers=_locations(run, "join"))


@router.post(
    "/threads/{thread_id}/runs/wait", operation_id="lg_runs_wait", summary="A run, the thread's state"
)
async def thread_runs_wait(
    thread_id: str, body: RunBody, services: ServicesDep, project: ProjectDep
) -> Response:
    run = await _start(services, project, body, thread_id, RunMode.sync, ["values"])
    return _json_wait(services, project, run, _locations(run, "join"))


@router.post(
    "/threads/{thread_id}/runs/stream",
    operation_id="lg_runs_stream",
    summary="A run on a thread, streamed (SSE)",
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def thread_runs_stream(
    thread_id: str, body: RunBody, services: ServicesDep, project: ProjectDep
) -> Response:
    modes = _modes(body.stream_mode)
    run = await _start(services, project, body, thread_id, RunMode.stream, modes)
    return _stream_response(services, project, run, modes, 0, body.on_disconnect == "cancel")


@router.get("/threads/{thread_id}/runs", operation_id="lg_runs_list", summary="The thread's runs")
async def thread_runs_list(
    thread_id: str,
    services: ServicesDep,
    project: ProjectDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
    status: Literal["pending", "running", "error", "success", "timeout", "interrupted"] | None = None,
) -> JSONResponse:
    await _thread(services, project, thread_id)
    wanted = set(shape.STATUS_OF[status]) if status else None
    found: list[Run] = []
    cursor: str | None = None
    while len(found) < offset + limit:
        page = await services.runs.list(
            project,
            agent=None,
            status=None,
            thread_id=thread_id,
            cursor=cursor,
            limit=services.settings.limits.max_page_size,
        )
        found += [r for r in page.data if wanted is None or r.status in wanted]
        cursor = page.next_cursor
        if cursor is None:
            break
    return JSONResponse([shape.run(r) for r in _page_all(found, offset, limit)])


@router.get("/threads/{thread_id}/runs/{run_id}", operation_id="lg_run_get", summary="A run")
async def thread_run_get(
    thread_id: str, run_id: str, services: ServicesDep, project: ProjectDep
) -> JSONResponse:
    return JSONResponse(shape.run(await _run_of(services, project, thread_id, run_id)))


@router.get("/threads/{thread_id}/runs/{run_id}/join", operation_id="lg_run_join", summary="Wait for a run")
async def thread_run_join(
    thread_id: str, run_id: str, services: ServicesDep, project: ProjectDep
) -> Response:
    run = await _run_of(services, project, thread_id, run_id)
    return _json_wait(services, project, run, {})


@router.get(
    "/threads/{thread_id}/runs/{run_id}/stream",
    operation_id="lg_run_join_stream",
    summary="Stream a run (from the start, or after Last-Event-ID)",
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def thread_run_join_stream(
    thread_id: str,
    run_id: str,
    services: ServicesDep,
    project: ProjectDep,
    stream_mode: Annotated[list[str] | None, Query()] = None,
    cancel_on_disconnect: bool = False,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    run = await _run_of(services, project, thread_id, run_id)
    modes = _modes(stream_mode or shape.recorded(run).get("stream_mode") or ["values"])
    return _stream_response(services, project, run, modes, _after(last_event_id), cancel_on_disconnect)


@router.get(
    "/runs/{run_id}/stream",
    operation_id="lg_run_join_stream_stateless",
    summary="Stream a stateless run (from the start, or after Last-Event-ID)",
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def run_join_stream(
    run_id: str,
    services: ServicesDep,
    project: ProjectDep,
    stream_mode: Annotated[list[str] | None, Query()] = None,
    cancel_on_disconnect: bool = False,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    run = await services.runs.get(project, run_id)
    if run.thread_id is not None:  # a thread's run streams under its thread
        raise not_found("run", run_id)
    modes = _modes(stream_mode or shape.recorded(run).get("stream_mode") or ["values"])
    return _stream_response(services, project, run, modes, _after(last_event_id), cancel_on_disconnect)


@router.post(
    "/threads/{thread_id}/runs/{run_id}/cancel",
    operation_id="lg_run_cancel",
    status_code=204,
    summary="Cancel",
)
async def thread_run_cancel(
    thread_id: str,
    run_id: str,
    services: ServicesDep,
    project: ProjectDep,
    wait: Annotated[int, Query(ge=0, le=1)] = 0,
    action: Literal["interrupt", "rollback"] = "interrupt",
) -> Response:
    run = await _run_of(services, project, thread_id, run_id)
    await services.runs.cancel(project, run.id, reason=f"cancelled via the Agent Protocol ({action})")
    if wait:
        await services.runs.wait(project, run.id, services.settings.limits.sync_wait_s)
    return Response(status_code=204)


# --- what does not map: 400 not_supported --------------------------------------------------------

_UNSUPPORTED: list[tuple[str, list[str], str, str]] = [
    ("/threads/{thread_id}", ["PATCH"], "threads.update", "thread metadata is set when it is created"),
    ("/threads/{thread_id}/state", ["POST"], "threads.update_state", "graph state cannot be edited"),
    ("/threads/{thread_id}/state/checkpoint", ["POST"], "threads.get_state", "there are no checkpoints"),
    ("/threads/{thread_id}/state/{checkpoint_id}", ["GET"], "threads.get_state", "there are no checkpoints"),
    (
        "/threads/{thread_id}/history",
        ["GET", "POST"],
        "threads.get_history",
        "there is no checkpoint history",
    ),
    ("/threads/{thread_id}/copy", ["POST"], "threads.copy", "threads cannot be copied"),
    ("/threads/{thread_id}/stream", ["GET"], "threads.join_stream", "stream a run: .../runs/{run_id}/stream"),
    ("/threads/prune", ["POST"], "threads.prune", "delete threads one by one"),
    ("/threads/{thread_id}/runs/{run_id}", ["DELETE"], "runs.delete", "runs are kept with their thread"),
    ("/threads/{thread_id}/runs/crons", ["POST"], "crons", "there are no cron jobs"),
    ("/runs/crons", ["POST"], "crons", "there are no cron jobs"),
    ("/runs/crons/search", ["POST"], "crons", "there are no cron jobs"),
    ("/runs/batch", ["POST"], "runs.create_batch", "create runs one by one"),
    ("/runs/cancel", ["POST"], "runs.cancel_many", "cancel runs one by one"),
    ("/assistants", ["POST"], "assistants.create", "create agents with POST /v1/agents"),
    ("/assistants/{assistant_id}", ["PATCH", "DELETE"], "assistants.update", "change agents with /v1/agents"),
    (
        "/assistants/{assistant_id}/versions",
        ["POST"],
        "assistants.get_versions",
        "see /v1/agents/{id}/revisions",
    ),
    ("/assistants/{assistant_id}/latest", ["POST"], "assistants.set_latest", "publish with /v1/agents"),
    ("/assistants/{assistant_id}/graph", ["GET"], "assistants.get_graph", "agents are not graphs"),
    ("/assistants/{assistant_id}/subgraphs", ["GET"], "assistants.get_subgraphs", "agents are not graphs"),
    ("/store/items", ["GET", "PUT", "DELETE"], "store", "there is no key-value store"),
    ("/store/items/search", ["POST"], "store", "there is no key-value store"),
    ("/store/namespaces", ["POST"], "store", "there is no key-value store"),
]


def _unsupported(operation: str, why: str):  # type: ignore[no-untyped-def]
    async def handler(request: Request, project: ProjectDep) -> Response:
        raise NotSupported(operation, f"{operation}: {why}")

    return handler


def _path_params(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", path)
    ]


for _path, _methods, _operation, _why in _UNSUPPORTED:
    for _method in _methods:  # one operation per method: operation ids are unique
        _slug = _path.strip("/").replace("/", "_").replace("{", "").replace("}", "")
        router.add_api_route(
            _path,
            _unsupported(_operation, _why),
            methods=[_method],
            operation_id=f"lg_unsupported_{_slug}_{_method.lower()}",
            summary=f"{_operation}: not supported (400 not_supported)",
            # The handler reads no path parameter; the document still names each one.
            openapi_extra={"parameters": _params} if (_params := _path_params(_path)) else None,
        )
