"""Answering a run that waits for a person (``requires_action``): approve, deny, edit, answer.

Any API node may answer any run: the answers are written conditionally on the run's last seq
(re-read and retried on a clash), and once every pending call is answered the run is queued
again; whichever worker claims it resumes it from its recorded messages (docs/decisions/0010).
"""

from __future__ import annotations

from agentrun.domain.actions import all_answered, already_given, apply_answers
from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.events import EventType
from agentrun.domain.models import PendingAction, Run, RunActions
from agentrun.domain.status import RunStatus
from agentrun.store.common import now
from agentrun.store.runs import NewEvent
from agentrun.store.store import Store

_ATTEMPTS = 50


def action_event(action: PendingAction, by: str = "api") -> NewEvent:
    answer = action.answer
    assert answer is not None
    data = {"call_id": action.id, "tool": action.tool, "decision": answer.decision, "by": by}
    if answer.args is not None:
        data["args"] = answer.args
    if answer.reason is not None:
        data["reason"] = answer.reason
    if answer.decision == "answer":
        data["answer"] = answer.answer
    return NewEvent(EventType.run_action, content=f"{action.tool}: {answer.decision}", data=data)


async def answer_run(store: Store, project_id: str, run_id: str, body: RunActions) -> tuple[Run, bool]:
    """Record ``body``'s answers; returns the run and whether this call resumed it."""
    for _ in range(_ATTEMPTS):
        run = await store.runs.get(run_id, project_id)  # 404 for another project's run
        if run.status is not RunStatus.requires_action:
            if run.pending_actions and already_given(run.pending_actions, body.actions):
                return run, False  # the same answers again, after they resumed it: no second effect
            raise AgentrunError(
                ErrorCode.run_not_waiting,
                f"Run {run_id} is {run.status.value}; it waits for no answer.",
                {"status": run.status.value},
            )
        pending, fresh = apply_answers(run.pending_actions, body.actions, now())
        if not fresh:
            return run, False  # every answer was already recorded
        resume = all_answered(pending)
        events = [action_event(p) for p in fresh]
        if resume:
            events.append(
                NewEvent(
                    EventType.run_resumed,
                    content="every pending call is answered; the run is queued to resume",
                    data={"resumes": run.resumes + 1},
                )
            )
        done = await store.runs.record_answers(
            run_id, project_id, run.last_seq, pending, events, resume=resume
        )
        if done is not None:
            return done, resume
        # Someone wrote the run meanwhile (another answer, a cancel): read it again.
    raise AgentrunError(ErrorCode.conflict, f"Run {run_id} changed too often while answering; try again.")
