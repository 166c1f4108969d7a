"""The fork path (engine/durable.py ``ensure_running`` -> ``forked``), with real processes.

A worker stalls (SIGSTOP) mid model request past ``dead_after_s``; the only live worker runs
another ``AGENTRUN_APP_VERSION`` so it releases the run but cannot resume the workflow. The stalled
worker comes back (SIGCONT), finds the run no longer its own and stops: its DBOS workflow is now
finished while the run is still active. The reaper then forks the workflow from its last recorded
step: the run completes, and the model and tool steps recorded before the stall are not repeated.
"""

from __future__ import annotations

import signal
import time
from collections import Counter

import httpx
import pytest

from tests.distributed.conftest import start_cluster
from tests.support.fake_openai import FakeOpenAI, ToolCall, Turn
from tests.support.live import live_worker

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(240)]


def _position(body: dict) -> int:  # type: ignore[type-arg]
    messages = body["messages"]
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    return sum(1 for m in messages[last_user:] if m["role"] == "assistant")


def test_a_fenced_off_execution_is_forked_without_repeating_recorded_steps(tmp_path, pg_url) -> None:  # type: ignore[no-untyped-def]
    script = [
        Turn(tool_calls=[ToolCall("calculator", {"expression": "1+2"})]),
        Turn(tool_calls=[ToolCall("calculator", {"expression": "3*4"})], delay_s=8.0),
        Turn(text="done"),
    ]
    with FakeOpenAI(script) as fake:
        env = {
            "AGENTRUN_PROVIDERS__OPENAI_API_KEY": "sk-test",
            "AGENTRUN_PROVIDERS__OPENAI_BASE_URL": fake.url,
            "AGENTRUN_REAP_AFTER_S": "5",
        }
        cluster = start_cluster(tmp_path, pg_url, apis=1, workers=1, env=env)
        api = cluster.apis[0]
        stalled = cluster.workers[0]
        try:
            agent = {
                "slug": "calc",
                "model": "openai:gpt-4o-mini",
                "tools": [{"kind": "builtin", "name": "calculator"}],
                "publish": True,
            }
            httpx.put(f"{api.url}/v1/agents/calc", json=agent).raise_for_status()
            run_id = httpx.post(
                f"{api.url}/v1/runs", json={"agent": "calc", "prompt": "go", "mode": "async"}
            ).json()["id"]
            deadline = time.monotonic() + 30
            while fake.request_count < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert fake.request_count == 2  # the second request is in flight on worker-0
            other = live_worker(
                tmp_path / "worker-new", "worker-new", {**cluster.env, "AGENTRUN_APP_VERSION": "agentrun-2"}
            )
            cluster.extra.append(other.spawn())
            other.wait_ready(60)
            assert stalled.proc is not None
            stalled.proc.send_signal(signal.SIGSTOP)
            try:
                deadline = time.monotonic() + 40
                released = False
                while not released and time.monotonic() < deadline:
                    events = httpx.get(f"{api.url}/v1/runs/{run_id}/events", params={"limit": 200}).json()[
                        "data"
                    ]
                    released = any((e["data"] or {}).get("dead_executor") == "worker-0" for e in events)
                    time.sleep(0.2)
                assert released, "worker-0 was never declared dead"
            finally:
                stalled.proc.send_signal(signal.SIGCONT)
            final = httpx.get(f"{api.url}/v1/runs/{run_id}", params={"wait_s": 55}, timeout=65).json()
            events = httpx.get(f"{api.url}/v1/runs/{run_id}/events", params={"limit": 200}).json()["data"]
        finally:
            cluster.stop()
        positions = Counter(_position(body) for body in fake.requests)

    assert final["status"] == "completed", (final, [(e["type"], e["content"]) for e in events])
    assert final["result"] == "done"
    assert final["executor_id"] == "worker-new", final
    assert positions[0] == 1, positions  # recorded before the stall: not repeated
    assert positions[2] == 1, positions
    # The calculator ran once per call: 1+2 before the stall (recorded, replayed), 3*4 in the fork.
    assert [e["content"] for e in events if e["type"] == "tool_result"] == ["3", "12"], events
