"""Runs: create (validated, idempotent, thread-aware), read, wait, follow events, cancel."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError

from agentrun.domain import json_schema
from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.events import TERMINAL_EVENTS, EventType
from agentrun.domain.models import (
    Durability,
    Event,
    EventsPage,
    Multitask,
    Page,
    Run,
    RunActions,
    RunCreate,
    RunError,
)
from agentrun.domain.status import RunStatus
from agentrun.runtime.providers import check_model_shape, is_test_model
from agentrun.services.actions import answer_run
from agentrun.services.agents import AgentService
from agentrun.services.bus import RunBus
from agentrun.services.sandboxes import SandboxService
from agentrun.services.telemetry import Tracing
from agentrun.services.webhooks import check_webhook_url
from agentrun.settings import Settings
from agentrun.store.common import new_id, now
from agentrun.store.runs import NewEvent
from agentrun.store.store import Store


class Dispatcher(Protocol):
    """What the run service needs of whoever executes runs (the worker, or nothing on API nodes)."""

    def poke(self) -> None: ...

    async def stop_run(self, run_id: str, reason: str = "cancelled by request") -> None: ...


class NoDispatcher:
    """API-only node: workers elsewhere find queued runs by polling the store."""

    def poke(self) -> None:
        return None

    async def stop_run(self, run_id: str, reason: str = "cancelled by request") -> None:
        return None


def request_hash(body: RunCreate) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_input(schema: dict[str, Any] | None, value: dict[str, Any]) -> None:
    """422 naming the failing field when ``value`` does not match the agent's input schema."""
    if schema is None:
        return
    errors = json_schema.validate(schema, value, "input_schema")  # 422 if the schema itself is unusable
    if errors:
        first = errors[0]
        raise AgentrunError(
            ErrorCode.input_invalid,
            f"input.{first.field}: {first.message}" if first.field else f"input: {first.message}",
            {"errors": [{"field": e.field, "message": e.message} for e in errors[:20]]},
        )


class RunService:
    def __init__(
        self, store: Store, agents: AgentService, bus: RunBus, settings: Settings, sandboxes: SandboxService
    ) -> None:
        self._store = store
        self._sandboxes = sandboxes
        self._agents = agents
        self._bus = bus
        self._settings = settings
        self.dispatcher: Dispatcher = NoDispatcher()
        self._queued: dict[str, tuple[int, float]] = {}  # project -> (queued count, when counted)
        self.tracing = Tracing()  # the container's when tracing is on: runs carry their traceparent

    # --- create ---------------------------------------------------------------------------

    async def create(
        self,
        project_id: str,
        body: RunCreate,
        idempotency_key: str | None = None,
        *,
        create_thread: bool = False,
    ) -> tuple[Run, bool]:
        """Create a queued run; returns (run, created). An idempotent replay returns the first run."""
        digest = request_hash(body)
        if idempotency_key:
            found = await self._store.runs.by_idempotency_key(project_id, idempotency_key)
            if found is not None:
                return self._replay(found, digest, idempotency_key), False

        await self._check_queue_depth(project_id)
        agent, revision_number, definition = await self._agents.for_run(project_id, body.agent, body.revision)
        if body.input is not None:
            validate_input(definition.input_schema, body.input)
        # The run's schema, or the revision's (one stored before schemas were checked gets a 422 here).
        json_schema.check_schema(
            body.output_schema if body.output_schema is not None else definition.output_schema,
            "output_schema",
        )
        if body.webhook_url is not None:  # the webhooks SSRF guard: 422 for loopback/private/metadata
            allow = self._settings.webhooks.allow_hosts
            await check_webhook_url(body.webhook_url, allow, field="webhook_url")
        if body.thread_id is not None:
            await self._prepare_thread(project_id, body, agent.id, create_thread)

        sandbox_id = await self._sandboxes.for_new_run(
            project_id, body, definition, required=self._agents.tools.needs_sandbox(definition)
        )
        model = check_model_shape(definition.model)  # the worker that executes it resolves it
        config = body.config.over(definition.config)
        run_id = new_id("run")
        values = {
            "id": run_id,
            "project_id": project_id,
            "agent_id": agent.id,
            "agent_slug": agent.slug,
            "revision": revision_number,
            "thread_id": body.thread_id,
            "status": RunStatus.queued.value,
            "mode": body.mode.value,
            "durability": (body.durability or Durability(self._settings.default_durability)).value,
            "prompt": body.prompt,
            "input": body.input,
            "messages": [m.model_dump() for m in body.messages] if body.messages is not None else None,
            "config": config.model_dump(),
            "output_schema": body.output_schema
            if body.output_schema is not None
            else definition.output_schema,
            "metadata": body.metadata,
            "model": model,  # until a worker starts the run: the model asked for
            "offline": is_test_model(model),
            "usage": {},
            "iterations": 0,
            "webhook_url": body.webhook_url,
            "sandbox_id": sandbox_id,
            "cached_workflow": body.cached_workflow.model_dump() if body.cached_workflow else None,
            "multitask": body.multitask.value,
            "idempotency_key": idempotency_key,
            "request_hash": digest,
            "created_at": now(),
        }
        queued = NewEvent(
            EventType.run_queued,
            data={
                "agent": agent.slug,
                "revision": revision_number,
                "thread_id": body.thread_id,
                **self.tracing.carried(),  # the create request's span: the run's trace parent
            },
        )
        try:
            run = await self._store.runs.insert(
                values, queued, reject_if_thread_busy=body.multitask is Multitask.reject
            )
        except IntegrityError:
            if idempotency_key:
                found = await self._store.runs.by_idempotency_key(project_id, idempotency_key)
                if found is not None:
                    return self._replay(found, digest, idempotency_key), False
            raise
        self.dispatcher.poke()
        return run, True

    async def _check_queue_depth(self, project_id: str) -> None:
        limit = self._settings.limits.max_queued_per_project
        # Counting on every create is a query per request; a count at most a second old is
        # enough for a limit meant to stop runaway producers.
        cached = self._queued.get(project_id)
        if cached is not None and time.monotonic() - cached[1] < 1.0 and cached[0] < limit - 1:
            self._queued[project_id] = (cached[0] + 1, cached[1])
            return
        queued = await self._store.runs.count_queued(project_id)
        self._queued[project_id] = (queued, time.monotonic())
        if queued >= limit:
            raise AgentrunError(
                ErrorCode.rate_limited,
                f"The project has {queued} queued runs, the limit is {limit}; retry after some finish.",
                {"queued": queued, "limit": limit},
                headers={"Retry-After": "5"},
            )

    def _replay(self, found: tuple[Run, str | None], digest: str, key: str) -> Run:
        run, stored_digest = found
        if stored_digest != digest:
            raise AgentrunError(
                ErrorCode.idempotency_conflict,
                "This Idempotency-Key was used with a different request body; use a new key for a new run.",
                {"idempotency_key": key, "run_id": run.id},
            )
        return run

    async def _prepare_thread(self, project_id: str, body: RunCreate, agent_id: str, create: bool) -> None:
        assert body.thread_id is not None
        thread = await self._store.threads.find(project_id, body.thread_id)
        if thread is None:
            if not create:
                raise AgentrunError(
                    ErrorCode.thread_not_found,
                    f"No thread with id {body.thread_id!r}; create it with POST /v1/threads or omit thread_id.",
                    {"thread_id": body.thread_id},
                )
            try:
                await self._store.threads.create(project_id, agent_id, None, {}, thread_id=body.thread_id)
            except IntegrityError:
                # Thread ids are scoped per project, so the only clash is a concurrent request
                # of this project that created it first: use that thread.
                if await self._store.threads.find(project_id, body.thread_id) is None:
                    raise
            return
        if body.multitask is Multitask.interrupt:
            for other in await self._store.runs.active_on_thread(project_id, body.thread_id):
                await self.cancel(project_id, other.id, reason="interrupted by a newer run on the thread")
                await self.wait(project_id, other.id, timeout=10)

    # --- read -----------------------------------------------------------------------------

    async def get(self, project_id: str, run_id: str) -> Run:
        return await self._store.runs.get(run_id, project_id)

    async def list(
        self,
        project_id: str,
        *,
        agent: str | None,
        status: RunStatus | None,
        thread_id: str | None,
        cursor: str | None,
        limit: int,
    ) -> Page[Run]:
        agent_id = (await self._agents.get(project_id, agent)).id if agent else None
        return await self._store.runs.list(
            project_id, agent_id=agent_id, status=status, thread_id=thread_id, cursor=cursor, limit=limit
        )

    async def wait(self, project_id: str, run_id: str, timeout: float, *, or_waiting: bool = False) -> Run:
        """The run once terminal (or, ``or_waiting``, waiting for a person), or as it is when
        ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        poll = self._poll_interval()
        with self._bus.subscribe(run_id, status_only=True) as wakeups:
            while True:
                run = await self._store.runs.get(run_id, project_id)
                remaining = deadline - time.monotonic()
                waiting = or_waiting and run.status is RunStatus.requires_action
                if run.status.terminal or waiting or remaining <= 0:
                    return run
                await wakeups.wait(min(remaining, poll))

    def _poll_interval(self) -> float:
        # The bus wakes readers at once for runs of this process and, on PostgreSQL, of every
        # process (LISTEN/NOTIFY); the poll is the fallback. SQLite API-only nodes have no
        # notifications from the worker process, so they poll briskly.
        if self._settings.is_postgres or self._settings.run_worker:
            return 5.0  # a safety net only: a thousand waiters polling each second is real load
        return 0.25

    async def events(self, project_id: str, run_id: str, after: int, limit: int) -> EventsPage:
        run = await self._store.runs.get(run_id, project_id)
        data = await self._store.runs.events(run_id, after, limit)
        return EventsPage(data=data, next_after=data[-1].seq if data else after, run_status=run.status)

    async def follow(self, project_id: str, run_id: str, after: int) -> AsyncIterator[Event | None]:
        """Events after ``after`` as they are written, ending with the terminal one.

        Yields None when nothing arrived for a heartbeat interval, so the caller can keep an
        idle connection alive.
        """
        await self._store.runs.get(run_id, project_id)  # 404 before the stream starts
        heartbeat = self._settings.limits.sse_heartbeat_s
        poll = self._poll_interval()
        idle_since = time.monotonic()
        with self._bus.subscribe(run_id) as wakeups:
            while True:
                batch = await self._store.runs.events(run_id, after, 500)
                for event in batch:
                    yield event
                    after = event.seq
                    if event.type in TERMINAL_EVENTS:
                        return
                if batch:
                    idle_since = time.monotonic()
                    continue
                state = await self._store.runs.status(run_id)
                if state is None:
                    return  # deleted underneath us
                status, last_seq = state
                if status.terminal and last_seq <= after:
                    # Finished, and the reader already has every event (resumed at or past the
                    # last seq): nothing more will ever come. The terminal event and the final
                    # status/last_seq are written in one transaction, so nothing is missed.
                    return
                if time.monotonic() - idle_since >= heartbeat:
                    idle_since = time.monotonic()
                    yield None
                await wakeups.wait(min(poll, heartbeat))

    # --- cancel ---------------------------------------------------------------------------

    async def cancel(self, project_id: str, run_id: str, reason: str = "cancelled by request") -> Run:
        run = await self._store.runs.get(run_id, project_id)
        if run.status.terminal:
            raise AgentrunError(
                ErrorCode.run_finished,
                f"Run {run_id} already finished as {run.status.value}; there is nothing to cancel.",
                {"status": run.status.value},
            )
        if run.status in (RunStatus.queued, RunStatus.requires_action):  # nothing executes it
            done = await self._store.runs.finish(
                run_id,
                RunStatus.cancelled,
                NewEvent(EventType.run_cancelled, content=reason, data={"error": _cancel_error(reason)}),
                executor_id=None,
                error=RunError(**_cancel_error(reason)),
            )
            if done is not None:
                self._bus.notify(run_id)
                return done
            run = await self._store.runs.get(run_id, project_id)  # it started (or was answered) meanwhile
        if run.status is RunStatus.running:
            await self._store.runs.mark_cancelling(
                run_id, project_id, NewEvent(EventType.log, content=f"cancel requested: {reason}")
            )
            self._bus.notify(run_id)
        await self.dispatcher.stop_run(run_id, reason)
        return await self._store.runs.get(run_id, project_id)

    # --- answering a waiting run ----------------------------------------------------------

    async def act(self, project_id: str, run_id: str, body: RunActions) -> Run:
        """Approve, deny, edit or answer pending calls; the run resumes once all are answered."""
        run, resumed = await answer_run(self._store, project_id, run_id, body)
        self._bus.notify(run_id)
        if resumed:
            self.dispatcher.poke()
        return run


def _cancel_error(reason: str) -> dict[str, Any]:
    return {"code": "cancelled", "message": reason}
