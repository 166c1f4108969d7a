"""2 API nodes + 2 workers on PostgreSQL: a run waits on one worker, is answered through the
other API node, and resumes on whichever worker claims it, even after its first worker died."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.distributed.conftest import start_cluster
from tests.support.fake_openai import FakeOpenAI, ToolCall, Turn

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_answered_on_another_node_resumed_by_another_worker(tmp_path, pg_url) -> None:  # type: ignore[no-untyped-def]
    script = [Turn(tool_calls=[ToolCall("calculator", {"expression": "2+3"})]), Turn(text="five")]
    with FakeOpenAI(script) as fake:
        env = {
            "AGENTRUN_PROVIDERS__OPENAI_API_KEY": "sk-test",
            "AGENTRUN_PROVIDERS__OPENAI_BASE_URL": fake.url,
        }
        cluster = start_cluster(tmp_path, pg_url, apis=2, workers=2, env=env)
        try:
            a, b = cluster.apis
            agent = {
                "slug": "asks",
                "model": "openai:gpt-4o-mini",
                "tools": [{"kind": "builtin", "name": "calculator", "requires_approval": True}],
                "publish": True,
            }
            httpx.put(f"{a.url}/v1/agents/asks", json=agent).raise_for_status()
            run = httpx.post(
                f"{a.url}/v1/runs", json={"agent": "asks", "prompt": "2+3?", "mode": "async"}
            ).json()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                waiting = httpx.get(f"{b.url}/v1/runs/{run['id']}").json()
                if waiting["status"] == "requires_action":
                    break
                time.sleep(0.1)
            assert waiting["status"] == "requires_action", waiting
            events = httpx.get(f"{b.url}/v1/runs/{run['id']}/events").json()["data"]
            first = next(e["data"]["executor"] for e in events if e["type"] == "run.started")
            # The worker that ran it until the wait dies: the waiting run does not depend on it.
            for worker in cluster.workers:
                if worker.env["AGENTRUN_EXECUTOR_ID"] == first:
                    worker.kill()
            answered = httpx.post(
                f"{b.url}/v1/runs/{run['id']}/actions",
                json={"actions": [{"call_id": waiting["pending_actions"][0]["id"], "decision": "approve"}]},
            )
            assert answered.status_code == 200, answered.text
            final = httpx.get(f"{a.url}/v1/runs/{run['id']}", params={"wait_s": 30}, timeout=40).json()
        finally:
            cluster.stop()
        requests = fake.request_count
    assert final["status"] == "completed" and final["result"] == "five", final
    assert final["executor_id"] != first  # resumed by the other worker
    assert requests == 2
