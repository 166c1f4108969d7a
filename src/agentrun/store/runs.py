"""Runs and their event log: the run table is also the work queue.

Every write that changes a run's status appends the matching event in the same transaction,
and every event append reserves its ``seq`` numbers by bumping ``runs.last_seq`` in that
transaction, so the log has no gaps and no duplicates whichever process writes it.

Writes from an executor are fenced: they apply only while the run is still active and owned by
that executor, so a worker that comes back after its run was taken over cannot change it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agentrun.domain.errors import AgentrunError, ErrorCode, not_found
from agentrun.domain.events import EventType, LogLevel
from agentrun.domain.models import (
    CachedWorkflow,
    ChatMessage,
    Durability,
    Event,
    Page,
    PendingAction,
    Run,
    RunConfig,
    RunError,
    RunMode,
    Usage,
)
from agentrun.domain.status import ACTIVE, BUSY, RunStatus, sources_for
from agentrun.store import webhooks
from agentrun.store.common import aware, decode_cursor, encode_cursor, new_id, now, whole
from agentrun.store.notify import QUEUE_CHANNEL, RUN_CHANNEL
from agentrun.store.tables import AgentRow, EventRow, RunRow, ThreadRow, table_of

runs_t = table_of(RunRow)
events_t = table_of(EventRow)
threads_t = table_of(ThreadRow)
agents_t = table_of(AgentRow)
_ACTIVE = [s.value for s in ACTIVE]
_BUSY = [s.value for s in BUSY]  # a thread with one of these is busy (waiting runs included)


@dataclass(slots=True)
class NewEvent:
    type: EventType
    role: str | None = None
    content: str | None = None
    data: dict[str, Any] | None = None
    level: LogLevel = LogLevel.info
    created_at: datetime = field(default_factory=now)


def to_run(row: Any) -> Run:
    return Run(
        id=row.id,
        project_id=row.project_id,
        agent_id=row.agent_id,
        agent_slug=row.agent_slug,
        revision=row.revision,
        thread_id=row.thread_id,
        status=RunStatus(row.status),
        mode=RunMode(row.mode),
        durability=Durability(row.durability),
        prompt=row.prompt,
        input=row.input,
        messages=[ChatMessage.model_validate(m) for m in row.messages] if row.messages is not None else None,
        config=RunConfig.model_validate(row.config),
        output_schema=row.output_schema,
        metadata=row.metadata,
        cached_workflow=CachedWorkflow.model_validate(row.cached_workflow) if row.cached_workflow else None,
        model=row.model,
        offline=row.offline,
        result=row.result,
        result_type=row.result_type,
        usage=Usage.model_validate(row.usage),
        iterations=row.iterations,
        error=RunError.model_validate(row.error) if row.error else None,
        last_seq=row.last_seq,
        executor_id=row.executor_id,
        attempt=row.attempt,
        sandbox_id=row.sandbox_id,
        pending_actions=[PendingAction.model_validate(p) for p in row.pending_actions or []],
        action_deadline=aware(row.action_deadline),
        resumes=row.resumes or 0,
        created_at=aware(row.created_at),
        started_at=aware(row.started_at),
        finished_at=aware(row.finished_at),
    )


def to_event(row: Any) -> Event:
    return Event(
        run_id=row.run_id,
        seq=row.seq,
        type=EventType(row.type),
        role=row.role,
        content=row.content,
        data=row.data,
        level=LogLevel(row.level),
        created_at=aware(row.created_at),
    )


_RUN_COLUMNS = [c for c in runs_t.c if c.name not in ("new_messages",)]


class RunRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Called after a run's end committed webhook deliveries (the container wakes the sender).
        self.on_deliveries: Callable[[], None] | None = None

    # --- creation -------------------------------------------------------------------------

    @whole
    async def insert(
        self, values: dict[str, Any], queued_event: NewEvent, *, reject_if_thread_busy: bool = False
    ) -> Run:
        """Insert a queued run with its ``run.queued`` event. Raises IntegrityError on an idempotency clash.

        Creating on a thread first touches the thread row: that takes PostgreSQL's row lock (or
        SQLite's write lock), so concurrent creators on one thread go one at a time and the
        busy check below cannot be raced.
        """
        async with self._engine.begin() as conn:
            thread_id = values.get("thread_id")
            if thread_id is not None:
                await conn.execute(
                    sa.update(threads_t)
                    .where(threads_t.c.project_id == values["project_id"], threads_t.c.id == thread_id)
                    .values(updated_at=now())
                )
                # Number the run only now that the thread is locked: a thread's queue runs in id
                # order, so ids (and created_at) must follow the order its runs are inserted in.
                # An id taken before the lock lets a later-numbered run commit, and start, first.
                values = {**values, "id": new_id("run"), "created_at": now()}
                queued_event.created_at = values["created_at"]
                if reject_if_thread_busy:
                    busy = await conn.scalar(
                        sa.select(runs_t.c.id)
                        .where(
                            runs_t.c.project_id == values["project_id"],
                            runs_t.c.thread_id == thread_id,
                            runs_t.c.status.in_([RunStatus.queued.value, *_BUSY]),
                        )
                        .limit(1)
                    )
                    if busy is not None:
                        raise AgentrunError(
                            ErrorCode.thread_busy,
                            f"Thread {thread_id} has an unfinished run ({busy}); multitask=reject refuses another. "
                            "Use multitask=enqueue to run after it, or interrupt to cancel it.",
                            {"thread_id": thread_id, "active_run_id": busy},
                        )
            # The run is born with its first event: seq 1, no separate last_seq bump.
            await conn.execute(sa.insert(runs_t).values(last_seq=1, **values))
            await conn.execute(sa.insert(events_t), [_event_row(values["id"], 1, queued_event)])
            if conn.dialect.name == "postgresql":
                await conn.execute(sa.select(sa.func.pg_notify(QUEUE_CHANNEL, "")))
            return await self._get(conn, values["id"])

    async def by_idempotency_key(self, project_id: str, key: str) -> tuple[Run, str | None] | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(*_RUN_COLUMNS).where(
                        runs_t.c.project_id == project_id, runs_t.c.idempotency_key == key
                    )
                )
            ).first()
        return (to_run(row), row.request_hash) if row is not None else None

    # --- reads ----------------------------------------------------------------------------

    async def _get(self, conn: AsyncConnection, run_id: str, project_id: str | None = None) -> Run:
        query = sa.select(*_RUN_COLUMNS).where(runs_t.c.id == run_id)
        if project_id is not None:
            query = query.where(runs_t.c.project_id == project_id)
        row = (await conn.execute(query)).first()
        if row is None:
            raise not_found("run", run_id)
        return to_run(row)

    async def get(self, run_id: str, project_id: str | None = None) -> Run:
        async with self._engine.connect() as conn:
            return await self._get(conn, run_id, project_id)

    async def status(self, run_id: str) -> tuple[RunStatus, int] | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(sa.select(runs_t.c.status, runs_t.c.last_seq).where(runs_t.c.id == run_id))
            ).first()
        return (RunStatus(row.status), row.last_seq) if row else None

    async def list(
        self,
        project_id: str,
        *,
        agent_id: str | None,
        status: RunStatus | None,
        thread_id: str | None,
        cursor: str | None,
        limit: int,
    ) -> Page[Run]:
        before = decode_cursor(cursor)
        query = sa.select(*_RUN_COLUMNS).where(runs_t.c.project_id == project_id)
        if agent_id:
            query = query.where(runs_t.c.agent_id == agent_id)
        if status:
            query = query.where(runs_t.c.status == status.value)
        if thread_id:
            query = query.where(runs_t.c.thread_id == thread_id)
        if before:
            query = query.where(runs_t.c.id < before)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(runs_t.c.id.desc()).limit(limit + 1))).all()
        page = rows[:limit]
        return Page[Run](
            data=[to_run(r) for r in page],
            next_cursor=encode_cursor(page[-1].id) if len(rows) > limit else None,
        )

    async def count_queued(self, project_id: str) -> int:
        async with self._engine.connect() as conn:
            return int(
                await conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(runs_t)
                    .where(runs_t.c.project_id == project_id, runs_t.c.status == RunStatus.queued.value)
                )
                or 0
            )

    async def counts_by_status(self) -> dict[str, int]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(sa.select(runs_t.c.status, sa.func.count()).group_by(runs_t.c.status))
            ).all()
        return {row[0]: int(row[1]) for row in rows}

    @whole
    async def delete_finished_before(self, cutoff: datetime, batch: int = 500) -> list[str]:
        """Delete up to ``batch`` finished runs (with their events) that ended before ``cutoff``."""
        terminal = [s.value for s in RunStatus if s.terminal]
        async with self._engine.begin() as conn:
            ids = list(
                (
                    await conn.scalars(
                        sa.select(runs_t.c.id)
                        .where(runs_t.c.status.in_(terminal), runs_t.c.finished_at < cutoff)
                        .limit(batch)
                    )
                ).all()
            )
            if ids:
                await conn.execute(sa.delete(events_t).where(events_t.c.run_id.in_(ids)))
                await conn.execute(sa.delete(runs_t).where(runs_t.c.id.in_(ids)))
        return ids

    async def thread_runs(self, project_id: str, thread_id: str) -> list[tuple[Run, Any]]:
        """All runs of a thread in order, with the model messages each one added."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(*_RUN_COLUMNS, runs_t.c.new_messages)
                    .where(runs_t.c.project_id == project_id, runs_t.c.thread_id == thread_id)
                    .order_by(runs_t.c.id)
                )
            ).all()
        return [(to_run(r), r.new_messages) for r in rows]

    async def thread_history(self, project_id: str, thread_id: str, before_run_id: str) -> list[Any]:
        """Model messages of the thread's completed runs that came before ``before_run_id``."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(runs_t.c.new_messages)
                    .where(
                        runs_t.c.project_id == project_id,
                        runs_t.c.thread_id == thread_id,
                        runs_t.c.id < before_run_id,
                        runs_t.c.status == RunStatus.completed.value,
                    )
                    .order_by(runs_t.c.id)
                )
            ).all()
        return [r.new_messages for r in rows if r.new_messages]

    async def active_on_thread(self, project_id: str, thread_id: str) -> list[Run]:
        """Runs of the thread not yet finished (queued or active), oldest first."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(*_RUN_COLUMNS)
                    .where(
                        runs_t.c.project_id == project_id,
                        runs_t.c.thread_id == thread_id,
                        runs_t.c.status.in_([RunStatus.queued.value, *_BUSY]),
                    )
                    .order_by(runs_t.c.id)
                )
            ).all()
        return [to_run(r) for r in rows]

    # --- the queue ------------------------------------------------------------------------

    async def claimable(self, limit: int) -> list[str]:
        """Queued runs that may start now: each thread's oldest queued run while none is active."""
        older = runs_t.alias("older")
        active = runs_t.alias("active")
        query = (
            sa.select(runs_t.c.id)
            .where(runs_t.c.status == RunStatus.queued.value)
            .where(_agent_has_room())
            .where(
                sa.or_(
                    runs_t.c.thread_id.is_(None),
                    sa.and_(
                        ~sa.exists().where(
                            active.c.project_id == runs_t.c.project_id,
                            active.c.thread_id == runs_t.c.thread_id,
                            active.c.status.in_(_BUSY),
                        ),
                        ~sa.exists().where(
                            older.c.project_id == runs_t.c.project_id,
                            older.c.thread_id == runs_t.c.thread_id,
                            older.c.status == RunStatus.queued.value,
                            older.c.id < runs_t.c.id,
                        ),
                    ),
                )
            )
            .order_by(runs_t.c.id)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return list((await conn.scalars(query)).all())

    @whole
    async def claim(
        self,
        run_id: str,
        executor_id: str,
        started: NewEvent,
        label: Callable[[str], tuple[str, bool, str | None]] | None = None,
    ) -> Run | None:
        """queued -> running for this executor, with ``run.started``; None if someone else got it.

        ``label(model asked for)`` is the claiming worker's ``(model that runs, offline, note)``:
        recorded on the run and in ``run.started``; a note (why the offline model stands in) is
        written as a warning ``log`` event after it.

        The partial unique index on (project_id, thread_id) WHERE active refuses a second active
        run on a thread, so two workers racing for the same thread cannot both win.
        """
        try:
            async with self._engine.begin() as conn:
                # One statement: the transition, the seq for run.started, and the row back.
                row = (
                    await conn.execute(
                        sa.update(runs_t)
                        .where(
                            runs_t.c.id == run_id,
                            runs_t.c.status == RunStatus.queued.value,
                            _agent_has_room(),
                        )
                        .values(
                            status=RunStatus.running.value,
                            executor_id=executor_id,
                            started_at=sa.func.coalesce(runs_t.c.started_at, now()),  # kept on resume
                            attempt=runs_t.c.attempt + 1,
                            last_seq=runs_t.c.last_seq + 1,
                        )
                        .returning(*_RUN_COLUMNS)
                    )
                ).first()
                if row is None:
                    return None
                run = to_run(row)
                events = [started]
                if label is not None:
                    name, offline, note = label(run.model)
                    if (name, offline) != (run.model, run.offline):
                        await conn.execute(
                            sa.update(runs_t).where(runs_t.c.id == run_id).values(model=name, offline=offline)
                        )
                        run = run.model_copy(update={"model": name, "offline": offline})
                    if note:
                        events.append(NewEvent(EventType.log, content=note, level=LogLevel.warning))
                        await conn.execute(
                            sa.update(runs_t)
                            .where(runs_t.c.id == run_id)
                            .values(last_seq=runs_t.c.last_seq + 1)
                        )
                        run = run.model_copy(update={"last_seq": run.last_seq + 1})
                started.data = {
                    **(started.data or {}),
                    "model": run.model,
                    "offline": run.offline,
                    "attempt": run.attempt,
                }
                await _insert_events(conn, run_id, run.last_seq - len(events) + 1, events)
                return run
        except IntegrityError:
            return None

    async def cancelling_owned(self, executor_id: str) -> list[str]:
        async with self._engine.connect() as conn:
            return list(
                (
                    await conn.scalars(
                        sa.select(runs_t.c.id).where(
                            runs_t.c.executor_id == executor_id, runs_t.c.status == RunStatus.cancelling.value
                        )
                    )
                ).all()
            )

    async def owned_active(self, executor_id: str) -> list[Run]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(*_RUN_COLUMNS).where(
                        runs_t.c.executor_id == executor_id, runs_t.c.status.in_(_ACTIVE)
                    )
                )
            ).all()
        return [to_run(r) for r in rows]

    # --- takeover -------------------------------------------------------------------------

    @whole
    async def orphan(self, dead_executor: str, note: NewEvent) -> list[tuple[str, str]]:
        """Release a dead executor's active runs for adoption; returns (run_id, durability).

        Conditional on the dead executor still owning each run, so when two live workers race,
        each run is released once, and the dead worker, should it come back, owns nothing.
        """
        released: list[tuple[str, str]] = []
        async with self._engine.begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(runs_t.c.id, runs_t.c.durability).where(
                        runs_t.c.executor_id == dead_executor, runs_t.c.status.in_(_ACTIVE)
                    )
                )
            ).all()
            for row in rows:
                result = await conn.execute(
                    sa.update(runs_t)
                    .where(
                        runs_t.c.id == row.id,
                        runs_t.c.executor_id == dead_executor,
                        runs_t.c.status.in_(_ACTIVE),
                    )
                    .values(executor_id=None, orphaned_at=now())
                )
                if result.rowcount == 1:
                    await _append(conn, row.id, [note])
                    released.append((row.id, row.durability))
        return released

    @whole
    async def adopt(self, run_id: str, executor_id: str, *, from_anyone: bool = False) -> bool:
        """Take an orphaned active run (or confirm it is ours). False: another executor owns it.

        ``from_anyone``: the caller executes the run's durable workflow, which DBOS hands to
        exactly one execution at a time; whoever held the run before has lost the workflow, so
        the run follows it (and the previous holder's writes are fenced from now on).
        """
        owner_ok = (
            sa.true()
            if from_anyone
            else sa.or_(runs_t.c.executor_id.is_(None), runs_t.c.executor_id == executor_id)
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(
                sa.update(runs_t)
                .where(runs_t.c.id == run_id, runs_t.c.status.in_(_ACTIVE), owner_ok)
                .values(executor_id=executor_id, orphaned_at=None)
            )
            return result.rowcount == 1

    async def unadopted(self, older_than_s: float) -> list[tuple[str, str]]:
        """Orphaned runs nobody adopted in time, as (run_id, durability)."""
        from datetime import timedelta

        threshold = now() - timedelta(seconds=older_than_s)
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(runs_t.c.id, runs_t.c.durability).where(
                        runs_t.c.executor_id.is_(None),
                        runs_t.c.status.in_(_ACTIVE),
                        runs_t.c.orphaned_at < threshold,
                    )
                )
            ).all()
        return [(r.id, r.durability) for r in rows]

    @whole
    async def touch_orphaned(self, run_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(runs_t)
                .where(runs_t.c.id == run_id, runs_t.c.executor_id.is_(None))
                .values(orphaned_at=now())
            )

    # --- writes from the executor (fenced) ------------------------------------------------

    @whole
    async def append_events(
        self, run_id: str, events: Sequence[NewEvent], executor_id: str | None
    ) -> int | None:
        """Append events; returns the last seq, or None when the run is no longer ours to write."""
        async with self._engine.begin() as conn:
            return await _append(
                conn, run_id, events, executor_id=executor_id, require_active=True, status_change=False
            )

    @whole
    async def request_sent(self, run_id: str, executor_id: str | None, index: int) -> int | None:
        """Model request number ``index`` goes to the provider now (fenced like every executor write).

        Returns how many of the run's requests so far were sent again (an earlier execution sent
        that request and died before its response was recorded), or None when the run is no
        longer this executor's. Kept in the run's ``usage`` until the run ends.
        """
        async with self._engine.begin() as conn:
            query = sa.select(runs_t.c.usage).where(runs_t.c.id == run_id, runs_t.c.status.in_(_ACTIVE))
            if executor_id is not None:
                query = query.where(runs_t.c.executor_id == executor_id)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            row = (await conn.execute(query)).first()
            if row is None:
                return None
            usage = dict(row.usage or {})
            sent, repeated = int(usage.get("_sent", 0)), int(usage.get("_repeated", 0))
            since = int(usage.get("_sent_seq", 0))  # the log's last seq when request ``sent`` went out
            if index <= sent:
                repeated += 1
                marker = await _supersede(conn, run_id, since, index)
                if marker is not None:
                    since = marker
            else:
                since = int(await conn.scalar(sa.select(runs_t.c.last_seq).where(runs_t.c.id == run_id)) or 0)
            usage.update({"_sent": max(sent, index), "_repeated": repeated, "_sent_seq": since})
            await conn.execute(sa.update(runs_t).where(runs_t.c.id == run_id).values(usage=usage))
            return repeated

    async def requests_repeated(self, run_id: str) -> int:
        """How many requests of an active run were sent again (see :meth:`request_sent`)."""
        async with self._engine.connect() as conn:
            usage = await conn.scalar(sa.select(runs_t.c.usage).where(runs_t.c.id == run_id))
        return int((usage or {}).get("_repeated", 0))

    @whole
    async def finish(
        self,
        run_id: str,
        status: RunStatus,
        event: NewEvent,
        *,
        executor_id: str | None,
        result: Any = None,
        result_type: str | None = None,
        usage: Usage | None = None,
        iterations: int | None = None,
        error: RunError | None = None,
        new_messages: Any = None,
        before: Sequence[NewEvent] = (),
    ) -> Run | None:
        """Move an active (or queued) run to a terminal status with its final event, once.

        Returns None when the run was already finished or is owned by another executor: the
        first writer wins and a late one changes nothing.
        """
        values: dict[str, Any] = {"status": status.value, "finished_at": now()}
        if result is not None:
            values["result"] = result
            values["result_type"] = result_type
        if usage is not None:
            values["usage"] = usage.model_dump()
        if iterations is not None:
            values["iterations"] = iterations
        if error is not None:
            values["error"] = error.model_dump(mode="json")
        if new_messages is not None:
            values["new_messages"] = new_messages
        allowed = [s.value for s in sources_for(status)]
        async with self._engine.begin() as conn:
            query = sa.update(runs_t).where(runs_t.c.id == run_id, runs_t.c.status.in_(allowed))
            if executor_id is not None:
                query = query.where(
                    sa.or_(runs_t.c.executor_id == executor_id, runs_t.c.status == RunStatus.queued.value)
                )
            events = [*before, event]
            values["last_seq"] = runs_t.c.last_seq + len(events)
            row = (await conn.execute(query.values(**values).returning(*_RUN_COLUMNS))).first()
            if row is None:
                return None
            run = to_run(row)
            await _insert_events(conn, run_id, run.last_seq - len(events) + 1, events)
            # webhooks commit with the run's end
            deliveries = await webhooks.enqueue_for_run(conn, run, event.type.value)
        if deliveries and self.on_deliveries is not None:
            self.on_deliveries()
        return run

    @whole
    async def mark_cancelling(self, run_id: str, project_id: str, event: NewEvent) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                sa.update(runs_t)
                .where(
                    runs_t.c.id == run_id,
                    runs_t.c.project_id == project_id,
                    runs_t.c.status == RunStatus.running.value,
                )
                .values(status=RunStatus.cancelling.value)
            )
            if result.rowcount != 1:
                return False
            await _append(conn, run_id, [event])
            return True

    # --- waiting for a person (requires_action) -------------------------------------------

    @whole
    async def pause(
        self,
        run_id: str,
        executor_id: str,
        pending: list[PendingAction],
        deadline: datetime,
        event: NewEvent,
        *,
        new_messages: Any,
        usage: Usage,
        iterations: int,
        before: Sequence[NewEvent] = (),
    ) -> Run | None:
        """running -> requires_action: the execution ends here and holds nothing while the run waits.

        Records the calls it waits for, the messages so far (the resumed execution continues
        from them) and the usage so far. Fenced like ``finish``; None when the run is no longer
        this executor's or no longer running (a cancel arrived: the caller finishes it).
        """
        async with self._engine.begin() as conn:
            current = await conn.scalar(sa.select(runs_t.c.usage).where(runs_t.c.id == run_id))
            merged = {**(current or {}), **usage.model_dump()}  # keeps the request bookkeeping
            events = [*before, event]
            row = (
                await conn.execute(
                    sa.update(runs_t)
                    .where(
                        runs_t.c.id == run_id,
                        runs_t.c.status == RunStatus.running.value,
                        runs_t.c.executor_id == executor_id,
                    )
                    .values(
                        status=RunStatus.requires_action.value,
                        executor_id=None,
                        pending_actions=[p.model_dump(mode="json") for p in pending],
                        action_deadline=deadline,
                        new_messages=new_messages,
                        usage=merged,
                        iterations=iterations,
                        last_seq=runs_t.c.last_seq + len(events),
                    )
                    .returning(*_RUN_COLUMNS)
                )
            ).first()
            if row is None:
                return None
            run = to_run(row)
            await _insert_events(conn, run_id, run.last_seq - len(events) + 1, events)
            deliveries = await webhooks.enqueue_for_run(conn, run, event.type.value)
        if deliveries and self.on_deliveries is not None:
            self.on_deliveries()
        return run

    @whole
    async def record_answers(
        self,
        run_id: str,
        project_id: str | None,
        seen_seq: int,
        pending: list[PendingAction],
        events: Sequence[NewEvent],
        *,
        resume: bool,
    ) -> Run | None:
        """Store answers to a waiting run's calls; ``resume``: all are answered, queue it again.

        Optimistic: applies only if nothing was written to the run since the caller read it
        (``last_seq == seen_seq``), so two nodes answering at once cannot lose an answer; None
        means re-read and try again.
        """
        values: dict[str, Any] = {
            "pending_actions": [p.model_dump(mode="json") for p in pending],
            "last_seq": runs_t.c.last_seq + len(events),
        }
        if resume:
            values.update(status=RunStatus.queued.value, action_deadline=None, resumes=runs_t.c.resumes + 1)
        query = sa.update(runs_t).where(
            runs_t.c.id == run_id,
            runs_t.c.status == RunStatus.requires_action.value,
            runs_t.c.last_seq == seen_seq,
        )
        if project_id is not None:
            query = query.where(runs_t.c.project_id == project_id)
        async with self._engine.begin() as conn:
            row = (await conn.execute(query.values(**values).returning(*_RUN_COLUMNS))).first()
            if row is None:
                return None
            run = to_run(row)
            if events:
                await _insert_events(conn, run_id, run.last_seq - len(events) + 1, events)
            if resume and conn.dialect.name == "postgresql":
                await conn.execute(sa.select(sa.func.pg_notify(QUEUE_CHANNEL, "")))
            return run

    async def messages_so_far(self, run_id: str) -> Any:
        """The model messages a paused run recorded (its resumed execution continues from them)."""
        async with self._engine.connect() as conn:
            return await conn.scalar(sa.select(runs_t.c.new_messages).where(runs_t.c.id == run_id))

    async def waiting_past_deadline(self, limit: int = 100) -> list[str]:
        async with self._engine.connect() as conn:
            return list(
                (
                    await conn.scalars(
                        sa.select(runs_t.c.id)
                        .where(
                            runs_t.c.status == RunStatus.requires_action.value,
                            runs_t.c.action_deadline < now(),
                        )
                        .limit(limit)
                    )
                ).all()
            )

    # --- events ---------------------------------------------------------------------------

    async def events(self, run_id: str, after: int, limit: int) -> list[Event]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(events_t)
                    .where(events_t.c.run_id == run_id, events_t.c.seq > after)
                    .order_by(events_t.c.seq)
                    .limit(limit)
                )
            ).all()
        return [to_event(r) for r in rows]


_MODEL_OUTPUT = [
    EventType.message_delta.value,
    EventType.message.value,
    EventType.planning.value,
    EventType.reasoning.value,
]


async def _supersede(conn: AsyncConnection, run_id: str, since: int, request: int) -> int | None:
    """A model request is sent again: mark what its earlier attempt streamed after ``since``.

    Appends a ``log`` event ``{"superseded_from_seq": N, "attempt": K, "request": i}`` when the
    earlier attempt left model output (deltas, message, planning, reasoning) at seq >= N; returns
    the marker's seq, or None when there was nothing to supersede.
    """
    first = await conn.scalar(
        sa.select(sa.func.min(events_t.c.seq)).where(
            events_t.c.run_id == run_id, events_t.c.seq > since, events_t.c.type.in_(_MODEL_OUTPUT)
        )
    )
    if first is None:
        return None
    attempt = await conn.scalar(sa.select(runs_t.c.attempt).where(runs_t.c.id == run_id))
    note = NewEvent(
        EventType.log,
        content=f"model request {request} is sent again: the output streamed from seq {first} on is superseded",
        data={"superseded_from_seq": int(first), "attempt": int(attempt or 0), "request": request},
    )
    return await _append(conn, run_id, [note], status_change=False)


def _event_row(run_id: str, seq: int, event: NewEvent) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "seq": seq,
        "type": event.type.value,
        "role": event.role,
        "content": event.content,
        "data": event.data,
        "level": event.level.value,
        "created_at": event.created_at,
    }


def _agent_has_room() -> sa.ColumnElement[bool]:
    """The run's agent is below its ``max_concurrency`` (or has none).

    Checked again inside each claim's UPDATE: exact on SQLite (one writer); on PostgreSQL two
    workers claiming in the same instant can each see room, so the limit may be exceeded by at
    most one run per claiming worker, briefly.
    """
    busy = runs_t.alias("busy")
    active_count = (
        sa.select(sa.func.count())
        .select_from(busy)
        .where(busy.c.agent_id == runs_t.c.agent_id, busy.c.status.in_(_ACTIVE))
        .scalar_subquery()
    )
    limit = sa.select(agents_t.c.max_concurrency).where(agents_t.c.id == runs_t.c.agent_id).scalar_subquery()
    return sa.or_(limit.is_(None), active_count < limit)


async def _append(
    conn: AsyncConnection,
    run_id: str,
    events: Sequence[NewEvent],
    *,
    executor_id: str | None = None,
    require_active: bool = False,
    status_change: bool = True,
) -> int | None:
    if not events:
        return None
    query = sa.update(runs_t).where(runs_t.c.id == run_id)
    if require_active:
        query = query.where(runs_t.c.status.in_(_ACTIVE))
        if executor_id is not None:
            query = query.where(runs_t.c.executor_id == executor_id)
    row = (
        await conn.execute(
            query.values(last_seq=runs_t.c.last_seq + len(events)).returning(runs_t.c.last_seq)
        )
    ).first()
    if row is None:
        return None
    last = row[0]
    await _insert_events(conn, run_id, last - len(events) + 1, events, status_change=status_change)
    return last


async def _insert_events(
    conn: AsyncConnection, run_id: str, first: int, events: Sequence[NewEvent], *, status_change: bool = True
) -> None:
    """Insert events numbered from ``first`` (the caller reserved the seqs on the run row)."""
    if conn.dialect.name == "postgresql":
        # Delivered at commit, to every process: how another node's reader learns of these events.
        payload = run_id if status_change else f"{run_id}|e"  # "|e": events only, status unchanged
        await conn.execute(sa.select(sa.func.pg_notify(RUN_CHANNEL, payload)))
    await conn.execute(sa.insert(events_t), [_event_row(run_id, first + i, e) for i, e in enumerate(events)])
