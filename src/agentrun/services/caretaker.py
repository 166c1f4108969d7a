"""Keeping the fleet honest: take over dead workers' runs, reap the unrecoverable, apply retention.

Every worker runs these periodically (from its maintenance loop); they are safe to run on
several workers at once: releasing a run is a conditional update with one winner, and a
re-enqueued workflow runs on exactly one process, which adopts the run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from agentrun.domain.actions import apply_answers
from agentrun.domain.events import EventType, LogLevel
from agentrun.domain.models import ActionAnswer, Durability, RunError
from agentrun.domain.status import RunStatus
from agentrun.engine.durable import DurableEngine, workflow_id_for
from agentrun.services.actions import action_event
from agentrun.services.bus import RunBus
from agentrun.services.sandboxes import SandboxService
from agentrun.settings import Settings
from agentrun.store.common import now
from agentrun.store.runs import NewEvent
from agentrun.store.store import Store

log = logging.getLogger(__name__)

FailRun = Callable[[str, RunStatus, str, str], Awaitable[None]]


class Caretaker:
    def __init__(
        self,
        store: Store,
        engine: DurableEngine,
        bus: RunBus,
        settings: Settings,
        executor_id: str,
        fail: FailRun,
        sandboxes: SandboxService | None = None,
    ) -> None:
        self._store = store
        self._sandboxes = sandboxes
        self._engine = engine
        self._bus = bus
        self._settings = settings
        self.executor_id = executor_id
        self._fail = fail

    async def take_over_dead(self) -> int:
        """Release the runs of workers that stopped heartbeating and resume them here or anywhere."""
        taken = 0
        dead_after = self._settings.dead_after_s
        owners = await self._store.workers.stale_owners(dead_after)
        silent = await self._store.workers.silent(dead_after)
        for dead in dict.fromkeys([*owners, *silent]):
            if dead == self.executor_id:
                continue
            if dead not in owners:
                # No runs to release, but its other workflows (webhook deliveries) must resume.
                await self._engine.recover_executor(dead)
                await self._store.workers.forget(dead)
                continue
            note = NewEvent(
                EventType.log,
                content=f"worker {dead} stopped heartbeating; the run is being resumed by a live worker",
                data={"dead_executor": dead, "by": self.executor_id},
                level=LogLevel.warning,
            )
            released = await self._store.runs.orphan(dead, note)
            if not released:
                continue
            log.warning("taking over %d run(s) of dead worker %s", len(released), dead)
            await self._engine.recover_executor(dead)
            for run_id, durability in released:
                taken += 1
                self._bus.notify(run_id)
                if durability == Durability.steps.value:
                    # Re-enqueued workflows run on whichever process dequeues them, which adopts
                    # the run; a run claimed but never started gets its workflow here.
                    await self._engine.ensure_running(run_id, await self._workflow_of(run_id))
                elif await self._store.runs.adopt(run_id, self.executor_id):
                    # Released runs have no owner, and _fail's write is fenced to its owner.
                    await self._fail(
                        run_id,
                        RunStatus.failed,
                        "interrupted",
                        f"Worker {dead} died while this durability=exit run executed; it was not resumed.",
                    )
        return taken

    async def reap(self) -> int:
        """Fail runs that were released for takeover but that no worker resumed in time."""
        reaped = 0
        for run_id, durability in await self._store.runs.unadopted(self._settings.reap_after_s):
            if (
                durability == Durability.steps.value
                and await self._engine.ensure_running(run_id, await self._workflow_of(run_id)) != "pending"
            ):
                await self._store.runs.touch_orphaned(run_id)  # a new execution: give it a new window
                continue
            done = await self._store.runs.finish(
                run_id,
                RunStatus.failed,
                NewEvent(
                    EventType.run_failed, content="lost: no worker could resume the run", level=LogLevel.error
                ),
                executor_id=None,
                error=RunError(
                    code="lost", message="The run's worker died and no live worker could resume it."
                ),
            )
            if done is not None:
                reaped += 1
                self._bus.notify(run_id)
        return reaped

    async def _workflow_of(self, run_id: str) -> str:
        return workflow_id_for(run_id, (await self._store.runs.get(run_id)).resumes)

    async def expire_waits(self) -> int:
        """Runs waiting for a person past their deadline: fail them, or deny what is unanswered.

        Any process may do it for any run: each write is conditional (``record_answers`` on the
        seq it read, ``finish`` from requires_action only), so two caretakers act once.
        """
        expired = 0
        for run_id in await self._store.runs.waiting_past_deadline():
            run = await self._store.runs.get(run_id)
            definition = await self._store.agents.definition(run.agent_id, run.revision)
            waited = definition.human.timeout_s or self._settings.limits.action_timeout_s
            message = f"Nobody answered within {waited:g} s (the agent's human.timeout_s)."
            if definition.human.on_timeout == "deny":
                answers = [
                    ActionAnswer(call_id=p.id, decision="deny", reason=message)
                    for p in run.pending_actions
                    if p.answer is None
                ]
                pending, fresh = apply_answers(run.pending_actions, answers, now())
                events = [action_event(p, by="timeout") for p in fresh]
                events.append(
                    NewEvent(EventType.run_resumed, content="the wait timed out; unanswered calls denied")
                )
                done = await self._store.runs.record_answers(
                    run_id, None, run.last_seq, pending, events, resume=True
                )
            else:
                done = await self._store.runs.finish(
                    run_id,
                    RunStatus.timed_out,
                    NewEvent(
                        EventType.run_timed_out,
                        content=message,
                        data={"error": {"code": "action_timeout", "message": message}},
                        level=LogLevel.error,
                    ),
                    executor_id=None,
                    error=RunError(code="action_timeout", message=message),
                )
            if done is not None:
                expired += 1
                self._bus.notify(run_id)
        return expired

    async def apply_retention(self) -> int:
        """Delete finished runs (events, engine records) older than ``limits.retention_days``,
        and sandboxes nobody used for ``sandbox.retention_days``."""
        if self._sandboxes is not None:
            await self._sandboxes.apply_retention(
                now() - timedelta(days=self._settings.sandbox.retention_days)
            )
        cutoff = now() - timedelta(days=self._settings.limits.retention_days)
        deleted = 0
        while True:
            ids = await self._store.runs.delete_finished_before(cutoff)
            if not ids:
                return deleted
            await self._engine.delete(ids)
            deleted += len(ids)
