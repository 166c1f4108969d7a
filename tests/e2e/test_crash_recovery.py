"""A server killed with SIGKILL mid-run finishes the run after restart without re-paying
finished model calls (durability=steps); an interrupted durability=exit run is failed."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.support.fake_openai import FakeOpenAI, ToolCall, Turn
from tests.support.live import LiveServer

pytestmark = pytest.mark.slow

AGENT = {
    "slug": "crashy",
    "model": "openai:gpt-4o-mini",
    "instructions": "Use the calculator.",
    "tools": [{"kind": "builtin", "name": "calculator"}],
    "publish": True,
}


def _position(body: dict[str, Any]) -> int:
    """Which turn of the conversation a request is: assistant messages after the last user one."""
    messages = body["messages"]
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    return sum(1 for m in messages[last_user:] if m["role"] == "assistant")


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _server(tmp_path, fake: FakeOpenAI) -> LiveServer:  # type: ignore[no-untyped-def]
    return LiveServer(
        tmp_path / "data",
        extra_env={
            "AGENTRUN_PROVIDERS__OPENAI_API_KEY": "sk-test",
            "AGENTRUN_PROVIDERS__OPENAI_BASE_URL": fake.url,
        },
    )


def test_sigkill_mid_run_resumes_without_repeating_finished_model_calls(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = [
        Turn(tool_calls=[ToolCall("calculator", {"expression": "1+1"})]),
        Turn(tool_calls=[ToolCall("calculator", {"expression": "2+2"})]),
        Turn(text="the answers are 2 and 4", delay_s=3.0),  # in flight when the server dies
    ]
    with FakeOpenAI(script) as fake:
        server = _server(tmp_path, fake).start()
        try:
            assert httpx.put(f"{server.url}/v1/agents/crashy", json=AGENT).status_code in (200, 201)
            run = httpx.post(
                f"{server.url}/v1/runs", json={"agent": "crashy", "prompt": "add things", "mode": "async"}
            ).json()
            _wait_for(lambda: fake.request_count >= 3, 20, "the third model request")
            server.kill()

            server.start()  # same data dir: same executor id, DBOS resumes the workflow
            final = httpx.get(f"{server.url}/v1/runs/{run['id']}", params={"wait_s": 30}, timeout=40).json()
            events = httpx.get(f"{server.url}/v1/runs/{run['id']}/events", params={"limit": 200}).json()[
                "data"
            ]
        finally:
            server.stop()

        positions = [_position(body) for body in fake.requests]

    print(f"model requests by turn: {positions}")
    assert final["status"] == "completed", final
    assert final["result"] == "the answers are 2 and 4"
    # Turns 0 and 1 finished before the kill: each was paid for exactly once.
    assert positions.count(0) == 1
    assert positions.count(1) == 1
    # Turn 2 was in flight: it ran again after the restart (at-least-once for the step in flight).
    assert positions.count(2) == 2
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    tool_calls = [e for e in events if e["type"] == "tool_call"]
    assert [c["data"]["args"] for c in tool_calls] == [{"expression": "1+1"}, {"expression": "2+2"}]
    assert [e["type"] for e in events].count("run.completed") == 1


def test_sigkill_fails_an_interrupted_exit_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAI([Turn(text="slow answer", delay_s=3.0)]) as fake:
        server = _server(tmp_path, fake).start()
        try:
            httpx.put(f"{server.url}/v1/agents/crashy", json=AGENT).raise_for_status()
            run = httpx.post(
                f"{server.url}/v1/runs",
                json={"agent": "crashy", "prompt": "go", "mode": "async", "durability": "exit"},
            ).json()
            _wait_for(lambda: fake.request_count >= 1, 20, "the model request")
            server.kill()
            server.start()
            final = httpx.get(f"{server.url}/v1/runs/{run['id']}", params={"wait_s": 10}, timeout=20).json()
        finally:
            server.stop()
        requests_after = fake.request_count

    assert final["status"] == "failed"
    assert final["error"]["code"] == "interrupted"
    assert "durability=exit" in final["error"]["message"]
    assert requests_after == 1  # not re-run: an exit run's model calls are not replayed
