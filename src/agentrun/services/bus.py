"""In-process notification that a run has new events or changed status.

Readers never trust a notification's content: they re-read the store after waking. So a lost
or extra wake-up costs at most one query, and a reader in another process (which this bus cannot
reach) still progresses by polling at the wait timeout.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict


class RunBus:
    """Two kinds of waiters: followers of a run's events, and waiters for its status.

    A streamed answer flushes events many times a second; only followers care. Waiters for the
    end of a run (sync requests, long polls: possibly a thousand at once) wake only when its
    status may have changed, so they do not re-read the run on every token batch.
    """

    def __init__(self) -> None:
        self._followers: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._status_waiters: dict[str, set[asyncio.Event]] = defaultdict(set)

    def notify(self, run_id: str, status: bool = True) -> None:
        """New events on ``run_id``; ``status``: its status may have changed too."""
        for event in self._followers.get(run_id, ()):
            event.set()
        if status:
            for event in self._status_waiters.get(run_id, ()):
                event.set()

    def subscribe(self, run_id: str, *, status_only: bool = False) -> Subscription:
        """Register for wake-ups *before* reading the store, so none falls between the read and
        the wait (the lost wake-up that otherwise costs a whole poll interval)."""
        return Subscription(self._status_waiters if status_only else self._followers, run_id)


class Subscription:
    def __init__(self, registry: dict[str, set[asyncio.Event]], run_id: str) -> None:
        self._registry = registry
        self._run_id = run_id
        self._event = asyncio.Event()
        registry[run_id].add(self._event)

    async def wait(self, timeout: float) -> bool:
        """Until a notification since the last wait (or now), or ``timeout``; False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                await self._event.wait()
            return True
        except TimeoutError:
            return False
        finally:
            self._event.clear()

    def close(self) -> None:
        waiters = self._registry.get(self._run_id)
        if waiters is not None:
            waiters.discard(self._event)
            if not waiters:
                self._registry.pop(self._run_id, None)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
