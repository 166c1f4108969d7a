"""How a thread reads as a conversation: each run's user turn, then its answer once it has one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from agentrun.domain.models import ChatMessage, Run, RunConfig, Usage
from agentrun.domain.status import RunStatus
from agentrun.services.threads import conversation

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_run(n: int, status: RunStatus = RunStatus.completed, **fields: Any) -> Run:
    values: dict[str, Any] = {
        "id": f"run_{n}",
        "project_id": "default",
        "agent_id": "agt_1",
        "agent_slug": "a",
        "revision": 1,
        "thread_id": "thr_1",
        "status": status,
        "mode": "sync",
        "durability": "steps",
        "prompt": None,
        "input": None,
        "messages": None,
        "config": RunConfig(),
        "output_schema": None,
        "metadata": {},
        "model": "test",
        "offline": True,
        "usage": Usage(),
        "iterations": 1,
        "created_at": T0 + timedelta(seconds=n),
        "finished_at": T0 + timedelta(seconds=n, milliseconds=500) if status.terminal else None,
    }
    values.update(fields)
    return Run(**values)


def test_prompt_and_text_answer_in_order() -> None:
    runs = [make_run(1, prompt="hi", result="hello"), make_run(2, prompt="again", result="sure")]
    messages = conversation(runs)
    assert [(m.run_id, m.role, m.content) for m in messages] == [
        ("run_1", "user", "hi"),
        ("run_1", "assistant", "hello"),
        ("run_2", "user", "again"),
        ("run_2", "assistant", "sure"),
    ]
    assert messages[0].created_at == T0 + timedelta(seconds=1)
    assert messages[1].created_at == T0 + timedelta(seconds=1, milliseconds=500)


def test_unfinished_and_failed_runs_show_only_the_user_turn() -> None:
    runs = [
        make_run(1, RunStatus.running, prompt="working"),
        make_run(2, RunStatus.failed, prompt="broke"),
        make_run(3, RunStatus.cancelled, prompt="stopped"),
    ]
    assert [(m.role, m.content) for m in conversation(runs)] == [
        ("user", "working"),
        ("user", "broke"),
        ("user", "stopped"),
    ]


def test_input_and_json_results_are_shown_as_canonical_json() -> None:
    run = make_run(1, input={"b": 2, "a": 1}, result={"z": 1, "y": [1]}, result_type="json")
    user, answer = conversation([run])
    assert user.content == json.dumps({"a": 1, "b": 2}, sort_keys=True)
    assert answer.content == '{"y": [1], "z": 1}'


def test_messages_input_shows_its_last_message() -> None:
    run = make_run(
        1,
        messages=[
            ChatMessage(role="system", content="be nice"),
            ChatMessage(role="user", content="last one"),
        ],
        result="ok",
    )
    assert [(m.role, m.content) for m in conversation([run])] == [("user", "last one"), ("assistant", "ok")]


def test_empty_thread() -> None:
    assert conversation([]) == []
