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

    async def wait(self, run_id: str, timeout: float, *, status_only: bool = False) -> bool:
        """Wait for the next notification on ``run_id``; False on timeout."""
        registry = self._status_waiters if status_only else self._followers
        event = asyncio.Event()
        waiters = registry[run_id]
        waiters.add(event)
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
            return True
        except TimeoutError:
            return False
        finally:
            waiters.discard(event)
            if not waiters:
                registry.pop(run_id, None)
