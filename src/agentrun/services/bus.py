"""In-process notification that a run has new events or changed status.

Readers never trust a notification's content: they re-read the store after waking. So a lost
or extra wake-up costs at most one query, and a reader in another process (which this bus cannot
reach) still progresses by polling at the wait timeout.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict


class RunBus:
    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)

    def notify(self, run_id: str) -> None:
        for event in self._waiters.get(run_id, ()):
            event.set()

    async def wait(self, run_id: str, timeout: float) -> bool:
        """Wait for the next notification on ``run_id``; False on timeout."""
        event = asyncio.Event()
        waiters = self._waiters[run_id]
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
                self._waiters.pop(run_id, None)
