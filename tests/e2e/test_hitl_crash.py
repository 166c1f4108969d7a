"""A run waiting for a person survives SIGKILL of its server: after a restart the answer
resumes it, and no model request made before the wait is sent again."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.fake_openai import FakeOpenAI, ToolCall, Turn
from tests.support.live import LiveServer

pytestmark = pytest.mark.slow

AGENT = {
    "slug": "careful",
    "model": "openai:gpt-4o-mini",
    "instructions": "Use the calculator; ask before you answer.",
    "tools": [
        {"kind": "builtin", "name": "calculator", "requires_approval": True},
        {"kind": "builtin", "name": "ask_human"},
    ],
    "publish": True,
}


def _until(server: LiveServer, run_id: str, status: str, timeout: float = 30) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = httpx.get(f"{server.url}/v1/runs/{run_id}").json()
        if run["status"] == status:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run never reached {status}: {run}")


@pytest.mark.parametrize("durability", ["steps", "exit"])
def test_sigkill_while_waiting_then_restart_and_answer_completes(tmp_path, durability) -> None:  # type: ignore[no-untyped-def]
    script = [
        Turn(tool_calls=[ToolCall("calculator", {"expression": "6*7"})]),
        Turn(tool_calls=[ToolCall("ask_human", {"question": "Say it in words?"})]),
        Turn(text="forty-two, as you wished"),
    ]
    with FakeOpenAI(script) as fake:
        server = LiveServer(
            tmp_path / "data",
            extra_env={
                "AGENTRUN_PROVIDERS__OPENAI_API_KEY": "sk-test",
                "AGENTRUN_PROVIDERS__OPENAI_BASE_URL": fake.url,
            },
        ).start()
        try:
            assert httpx.put(f"{server.url}/v1/agents/careful", json=AGENT).status_code in (200, 201)
            run = httpx.post(
                f"{server.url}/v1/runs",
                json={"agent": "careful", "prompt": "what is 6*7", "mode": "async", "durability": durability},
            ).json()
            waiting = _until(server, run["id"], "requires_action")
            (call,) = waiting["pending_actions"]
            assert call["tool"] == "calculator" and call["args"] == {"expression": "6*7"}

            server.kill()  # SIGKILL while the run waits
            server.start()  # same data dir and executor id
            assert httpx.get(f"{server.url}/v1/runs/{run['id']}").json()["status"] == "requires_action"
            answered = httpx.post(
                f"{server.url}/v1/runs/{run['id']}/actions",
                json={"actions": [{"call_id": call["id"], "decision": "approve"}]},
            )
            assert answered.status_code == 200, answered.text

            question = _until(server, run["id"], "requires_action")
            (ask,) = [p for p in question["pending_actions"] if p["answer"] is None]
            assert ask["kind"] == "question" and ask["question"] == "Say it in words?"
            server.kill()  # and again, waiting for the second answer
            server.start()
            httpx.post(
                f"{server.url}/v1/runs/{run['id']}/actions",
                json={"actions": [{"call_id": ask["id"], "decision": "answer", "answer": "yes"}]},
            ).raise_for_status()
            final = httpx.get(f"{server.url}/v1/runs/{run['id']}", params={"wait_s": 30}, timeout=40).json()
            events = httpx.get(f"{server.url}/v1/runs/{run['id']}/events", params={"limit": 200}).json()[
                "data"
            ]
        finally:
            server.stop()
        requests = fake.requests

    assert final["status"] == "completed", final
    assert final["result"] == "forty-two, as you wished"
    assert final["resumes"] == 2 and final["usage"]["requests"] == 3
    assert len(requests) == 3  # one request per turn: none repeated across the waits and kills
    tool_messages = [m for m in requests[-1]["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in tool_messages] == ["42", "yes"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    types = [e["type"] for e in events]
    assert types.count("run.requires_action") == 2 and types.count("run.resumed") == 2
    assert types.count("run.completed") == 1
    assert sum(1 for e in events if e["type"] == "tool_result" and e["data"]["name"] == "calculator") == 1
