"""Threads: conversations whose runs continue one another."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from agentrun.domain.errors import not_found
from agentrun.domain.models import Page, Thread
from agentrun.domain.status import BUSY, RunStatus
from agentrun.store.common import aware, decode_cursor, encode_cursor, new_id, now, whole
from agentrun.store.tables import EventRow, RunRow, ThreadRow, table_of

threads_t = table_of(ThreadRow)
runs_t = table_of(RunRow)
events_t = table_of(EventRow)


# A run is the thread's active run from the moment it is queued until it finishes: runs of a
# thread execute one at a time in id order, so the oldest unfinished one is running or next.
_UNFINISHED = [RunStatus.queued.value, *[s.value for s in BUSY]]


def _run_stats(project_id: Any) -> Any:
    """Per thread of the project: how many runs it has and its active (oldest unfinished) run."""
    return (
        sa.select(
            runs_t.c.thread_id.label("thread_id"),
            sa.func.count(runs_t.c.id).label("run_count"),
            sa.func.min(sa.case((runs_t.c.status.in_(_UNFINISHED), runs_t.c.id))).label("active_run_id"),
        )
        .where(runs_t.c.project_id == project_id, runs_t.c.thread_id.is_not(None))
        .group_by(runs_t.c.thread_id)
    )


def _thread(row: Any, active_run_id: str | None = None, run_count: int = 0) -> Thread:
    return Thread(
        id=row.id,
        project_id=row.project_id,
        agent_id=row.agent_id,
        title=row.title,
        metadata=row.metadata,
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
        active_run_id=active_run_id,
        run_count=run_count,
    )


class ThreadRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @whole
    async def create(
        self,
        project_id: str,
        agent_id: str | None,
        title: str | None,
        metadata: dict[str, Any],
        thread_id: str | None = None,
    ) -> Thread:
        ts = now()
        tid = thread_id or new_id("thr")
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.insert(threads_t).values(
                    id=tid,
                    project_id=project_id,
                    agent_id=agent_id,
                    title=title,
                    metadata=metadata,
                    created_at=ts,
                    updated_at=ts,
                )
            )
        return await self.get(project_id, tid)

    async def find(self, project_id: str, thread_id: str) -> Thread | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(threads_t).where(
                        threads_t.c.id == thread_id, threads_t.c.project_id == project_id
                    )
                )
            ).first()
            if row is None:
                return None
            stats = (
                await conn.execute(
                    sa.select(
                        sa.func.count(runs_t.c.id),
                        sa.func.min(sa.case((runs_t.c.status.in_(_UNFINISHED), runs_t.c.id))),
                    ).where(runs_t.c.project_id == project_id, runs_t.c.thread_id == thread_id)
                )
            ).first()
        return _thread(row, active_run_id=stats[1], run_count=stats[0])

    async def get(self, project_id: str, thread_id: str) -> Thread:
        thread = await self.find(project_id, thread_id)
        if thread is None:
            raise not_found("thread", thread_id)
        return thread

    async def list(
        self, project_id: str, agent_id: str | None, cursor: str | None, limit: int
    ) -> Page[Thread]:
        before = decode_cursor(cursor)
        stats = _run_stats(project_id).subquery()
        query = (
            sa.select(threads_t, stats.c.run_count, stats.c.active_run_id)
            .select_from(threads_t.outerjoin(stats, stats.c.thread_id == threads_t.c.id))
            .where(threads_t.c.project_id == project_id)
        )
        if agent_id:
            query = query.where(threads_t.c.agent_id == agent_id)
        if before:
            query = query.where(threads_t.c.id < before)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(threads_t.c.id.desc()).limit(limit + 1))).all()
        page = rows[:limit]
        return Page[Thread](
            data=[_thread(r, active_run_id=r.active_run_id, run_count=r.run_count or 0) for r in page],
            next_cursor=encode_cursor(page[-1].id) if len(rows) > limit else None,
        )

    @whole
    async def delete(self, project_id: str, thread_id: str) -> None:
        """Delete the thread with its finished runs and their events (callers check it is idle)."""
        of_thread = (runs_t.c.project_id == project_id, runs_t.c.thread_id == thread_id)
        async with self._engine.begin() as conn:
            thread_run_ids = sa.select(runs_t.c.id).where(*of_thread)
            await conn.execute(sa.delete(events_t).where(events_t.c.run_id.in_(thread_run_ids)))
            await conn.execute(sa.delete(runs_t).where(*of_thread, runs_t.c.status.notin_(_UNFINISHED)))
            await conn.execute(
                sa.delete(threads_t).where(threads_t.c.project_id == project_id, threads_t.c.id == thread_id)
            )
