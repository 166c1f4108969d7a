"""Answers to a waiting run's pending calls: which are valid, and what they change.

Pure rules shared by the API (a person answers) and the caretaker (a wait times out); the store
writes the result conditionally, so two nodes answering at once cannot lose an answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from agentrun.domain import json_schema
from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.models import ActionAnswer, PendingAction

_DECISIONS = {"approval": ("approve", "deny"), "question": ("answer", "deny")}


def _invalid(message: str, details: dict[str, object]) -> AgentrunError:
    return AgentrunError(ErrorCode.action_invalid, message, details)


def _same(a: ActionAnswer, b: ActionAnswer) -> bool:
    return a.model_dump(mode="json") == b.model_dump(mode="json")


def already_given(pending: Sequence[PendingAction], answers: Sequence[ActionAnswer]) -> bool:
    """Every answer equals the one recorded for its call (a retry: no second effect)."""
    recorded = {p.id: p.answer for p in pending}
    return all((given := recorded.get(a.call_id)) is not None and _same(given, a) for a in answers)


def apply_answers(
    pending: Sequence[PendingAction], answers: Sequence[ActionAnswer], at: datetime
) -> tuple[list[PendingAction], list[PendingAction]]:
    """``pending`` with ``answers`` recorded, and the calls answered just now.

    422 ``action_invalid``: an unknown call id, a call named twice, a decision that does not fit
    the call's kind, an answer that does not match the question's schema. 409
    ``action_conflict``: a call already answered otherwise. Answering again as before changes
    nothing.
    """
    by_id = {p.id: p for p in pending}
    seen: set[str] = set()
    for answer in answers:
        action = by_id.get(answer.call_id)
        if action is None:
            raise _invalid(
                f"The run waits for no call {answer.call_id!r}; pending: {sorted(by_id)}.",
                {"call_id": answer.call_id, "pending": sorted(by_id)},
            )
        if answer.call_id in seen:
            raise _invalid(
                f"Call {answer.call_id!r} is answered twice in one request.", {"call_id": answer.call_id}
            )
        seen.add(answer.call_id)
        if answer.decision not in _DECISIONS[action.kind]:
            raise _invalid(
                f"Call {answer.call_id!r} is a {action.kind}: answer it with decision "
                f"{' or '.join(_DECISIONS[action.kind])}.",
                {"call_id": answer.call_id, "kind": action.kind},
            )
        if answer.decision == "answer" and action.answer_schema is not None:
            problems = json_schema.validate(action.answer_schema, answer.answer, "answer_schema")
            if problems:
                first = problems[0]
                raise _invalid(
                    f"answer.{first.field or '(root)'}: {first.message}",
                    {"call_id": answer.call_id, "field": first.field, "answer_schema": action.answer_schema},
                )
        if action.answer is not None and not _same(action.answer, answer):
            raise AgentrunError(
                ErrorCode.action_conflict,
                f"Call {answer.call_id!r} was already answered ({action.answer.decision}); an answer is final.",
                {"call_id": answer.call_id, "answer": action.answer.model_dump(mode="json")},
            )
    given = {a.call_id: a for a in answers}
    updated: list[PendingAction] = []
    fresh: list[PendingAction] = []
    for action in pending:
        answer = given.get(action.id)
        if answer is not None and action.answer is None:
            action = action.model_copy(update={"answer": answer, "answered_at": at})
            fresh.append(action)
        updated.append(action)
    return updated, fresh


def all_answered(pending: Sequence[PendingAction]) -> bool:
    return all(p.answer is not None for p in pending)
