"""Worker heartbeats: how live workers tell that another one died."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from agentrun.domain.status import ACTIVE
from agentrun.store.common import now, whole
from agentrun.store.tables import RunRow, WorkerRow, table_of

workers_t = table_of(WorkerRow)
runs_t = table_of(RunRow)


class HeartbeatWriter:
    """Heartbeats from a plain thread with its own synchronous connection.

    A worker's event loop can stall for seconds (a cold import of a provider SDK, a CPU-starved
    machine); liveness must not depend on it, or live workers get declared dead and their runs
    taken over while they still execute them.
    """

    def __init__(self, url: str) -> None:
        from agentrun.store.db import sync_url

        self._engine = sa.create_engine(sync_url(url), pool_size=1, max_overflow=0, pool_pre_ping=True)

    def beat(self, executor_id: str, host: str, pid: int, version: str, active_runs: int) -> None:
        ts = now()
        with self._engine.begin() as conn:
            updated = conn.execute(
                sa.update(workers_t)
                .where(workers_t.c.executor_id == executor_id)
                .values(heartbeat_at=ts, active_runs=active_runs, pid=pid, host=host, version=version)
            )
            if updated.rowcount == 0:
                conn.execute(
                    sa.insert(workers_t).values(
                        executor_id=executor_id,
                        host=host,
                        pid=pid,
                        version=version,
                        started_at=ts,
                        heartbeat_at=ts,
                        active_runs=active_runs,
                    )
                )

    def close(self) -> None:
        self._engine.dispose()


class WorkerRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def stale_owners(self, dead_after_s: float) -> list[str]:
        """Executors that own active runs but have not heartbeated within ``dead_after_s``."""
        threshold = now() - timedelta(seconds=dead_after_s)
        alive = sa.select(workers_t.c.executor_id).where(workers_t.c.heartbeat_at >= threshold)
        query = (
            sa.select(runs_t.c.executor_id)
            .where(
                runs_t.c.status.in_([s.value for s in ACTIVE]),
                runs_t.c.executor_id.is_not(None),
                runs_t.c.executor_id.not_in(alive),
            )
            .distinct()
        )
        async with self._engine.connect() as conn:
            return list((await conn.scalars(query)).all())

    async def silent(self, dead_after_s: float) -> list[str]:
        """Registered workers whose heartbeat stopped (with or without runs)."""
        threshold = now() - timedelta(seconds=dead_after_s)
        async with self._engine.connect() as conn:
            return list(
                (
                    await conn.scalars(
                        sa.select(workers_t.c.executor_id).where(workers_t.c.heartbeat_at < threshold)
                    )
                ).all()
            )

    async def alive(self, dead_after_s: float) -> list[tuple[str, datetime, int]]:
        threshold = now() - timedelta(seconds=dead_after_s)
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        workers_t.c.executor_id, workers_t.c.heartbeat_at, workers_t.c.active_runs
                    ).where(workers_t.c.heartbeat_at >= threshold)
                )
            ).all()
        return [(r.executor_id, r.heartbeat_at, r.active_runs) for r in rows]

    @whole
    async def forget(self, executor_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(sa.delete(workers_t).where(workers_t.c.executor_id == executor_id))
