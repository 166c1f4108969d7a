"""Run lifecycle: the statuses and the only transitions allowed between them."""

from __future__ import annotations

from enum import StrEnum

from agentrun.domain.errors import AgentrunError, ErrorCode


class RunStatus(StrEnum):
    queued = "queued"
    running = "running"
    requires_action = "requires_action"  # waiting for a person: holds no worker, resumes when answered
    cancelling = "cancelling"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"
    timed_out = "timed_out"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({RunStatus.completed, RunStatus.failed, RunStatus.cancelled, RunStatus.timed_out})
ACTIVE = frozenset({RunStatus.running, RunStatus.cancelling})
# Not executing anywhere, but not finished: its thread stays busy (docs/decisions/0010).
WAITING = frozenset({RunStatus.requires_action})
BUSY = ACTIVE | WAITING

_ALLOWED: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.queued: frozenset({RunStatus.running, RunStatus.cancelled, RunStatus.failed}),
    RunStatus.running: frozenset(
        {
            RunStatus.requires_action,
            RunStatus.cancelling,
            RunStatus.completed,
            RunStatus.failed,
            RunStatus.timed_out,
            RunStatus.cancelled,
        }
    ),
    # Answered: back to the queue (any worker resumes it from its recorded messages).
    RunStatus.requires_action: frozenset(
        {RunStatus.queued, RunStatus.cancelled, RunStatus.timed_out, RunStatus.failed}
    ),
    RunStatus.cancelling: frozenset(
        {RunStatus.cancelled, RunStatus.completed, RunStatus.failed, RunStatus.timed_out}
    ),
}


def can_transition(current: RunStatus, new: RunStatus) -> bool:
    return new in _ALLOWED.get(current, frozenset())


def sources_for(new: RunStatus) -> frozenset[RunStatus]:
    """Statuses from which ``new`` may be reached: the store uses it to guard conditional updates."""
    return frozenset(s for s, targets in _ALLOWED.items() if new in targets)


def check_transition(current: RunStatus, new: RunStatus) -> None:
    if not can_transition(current, new):
        if current.terminal:
            raise AgentrunError(
                ErrorCode.run_finished,
                f"The run is already {current.value}; a finished run never changes.",
                {"status": current.value},
            )
        raise AgentrunError(
            ErrorCode.conflict,
            f"A run cannot go from {current.value} to {new.value}.",
            {"status": current.value},
        )
