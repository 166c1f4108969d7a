"""PostgreSQL LISTEN/NOTIFY: wake readers and workers in every process when a run changes.

Writers call ``pg_notify`` inside the transaction that appends events or queues a run, so the
notification is delivered exactly when the change is visible (at commit), to every API node and
worker. Readers still re-read the store on wake-up; a lost notification only delays them until
their fallback poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

log = logging.getLogger(__name__)

RUN_CHANNEL = "agentrun_run"
QUEUE_CHANNEL = "agentrun_queue"


class PgListener:
    def __init__(self, dsn: str, on_run: Callable[[str], None], on_queue: Callable[[], None]) -> None:
        self._dsn = dsn
        self._on_run = on_run
        self._on_queue = on_queue
        self._conn: asyncpg.Connection | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()

    async def start(self) -> None:
        await self._connect()
        self._supervisor = asyncio.create_task(self._reconnect_forever(), name="agentrun-pg-listener")

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._dsn)
        # Payload: the run id, plus "|e" when only events were appended (no status change).
        await conn.add_listener(RUN_CHANNEL, lambda *args: self._on_run(args[3]))
        await conn.add_listener(QUEUE_CHANNEL, lambda *args: self._on_queue())
        conn.add_termination_listener(lambda _conn: self._lost.set())
        self._conn = conn

    async def _reconnect_forever(self) -> None:
        delay = 0.5
        while True:
            await self._lost.wait()
            self._lost.clear()
            while True:
                try:
                    await self._connect()
                    log.info("LISTEN connection re-established")
                    self._on_queue()  # we may have missed work: look now
                    delay = 0.5
                    break
                except (OSError, asyncpg.PostgresError) as exc:
                    log.warning("LISTEN reconnect failed (%s); retrying in %.1fs", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10)

    async def close(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)


def plain_dsn(url: str) -> str:
    """asyncpg wants ``postgresql://``, not SQLAlchemy's ``postgresql+asyncpg://``."""
    return "postgresql://" + url.split("://", 1)[1]
