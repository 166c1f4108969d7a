"""``agentrun run`` asks a person in the terminal: what each answer to a prompt becomes."""

from __future__ import annotations

from collections.abc import Callable

from agentrun.cli.runs import ask_action
from agentrun.client._models import PendingAction


def _reader(*answers: str) -> Callable[[str], str]:
    queue = list(answers)
    return lambda _prompt: queue.pop(0)


APPROVAL = PendingAction(id="c1", tool="send", args={"to": "ann"}, kind="approval")


def test_yes_approves() -> None:
    assert ask_action(APPROVAL, _reader("y")) == {"call_id": "c1", "decision": "approve"}


def test_no_denies_with_the_reason_typed() -> None:
    assert ask_action(APPROVAL, _reader("n", "not ann")) == {
        "call_id": "c1",
        "decision": "deny",
        "reason": "not ann",
    }
    assert ask_action(APPROVAL, _reader("no", "")) == {"call_id": "c1", "decision": "deny"}


def test_edit_approves_with_the_new_arguments() -> None:
    action = ask_action(APPROVAL, _reader("e", '{"to": "bob"}'))
    assert action == {"call_id": "c1", "decision": "approve", "args": {"to": "bob"}}


def test_a_question_takes_text_or_json_as_its_schema_says() -> None:
    free = PendingAction(id="q1", tool="ask_human", kind="question", question="Name?")
    assert ask_action(free, _reader("42 Main St"))["answer"] == "42 Main St"
    typed = PendingAction(
        id="q2", tool="ask_human", kind="question", question="Floor?", answer_schema={"type": "integer"}
    )
    assert ask_action(typed, _reader("3")) == {"call_id": "q2", "decision": "answer", "answer": 3}
