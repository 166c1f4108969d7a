"""A webhook delivery survives SIGKILL: its receiver is down while the run ends, the server is
killed mid-retries, the receiver comes up, and the restarted server delivers it (the DBOS
workflow resumed), with the earlier failed attempts still listed."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.support.live import LiveServer, free_port
from tests.support.webhook_receiver import Receiver, documented_verify

pytestmark = pytest.mark.slow


def _deliveries(server: LiveServer, run_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/v1/runs/{run_id}/deliveries", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _wait_for(predicate, timeout: float, what: str) -> Any:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_delivery_resumes_after_sigkill_and_arrives_once_the_receiver_is_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()  # nothing listens yet: every attempt is refused
    hook = f"http://127.0.0.1:{port}/hook"
    server = LiveServer(
        tmp_path / "data",
        extra_env={
            "AGENTRUN_WEBHOOKS__ALLOW_HOSTS": json.dumps(["127.0.0.1"]),
            "AGENTRUN_WEBHOOKS__BACKOFF_S": json.dumps([0.5]),
            "AGENTRUN_WEBHOOKS__POLL_S": "0.1",
        },
    ).start()
    try:
        run = httpx.post(
            f"{server.url}/v1/runs",
            json={"agent": "demo", "prompt": "hi", "mode": "sync", "webhook_url": hook},
            timeout=30,
        ).json()
        assert run["status"] == "completed", run
        before = _wait_for(
            lambda: next((d for d in _deliveries(server, run["id"]) if len(d["attempts"]) >= 2), None),
            30,
            "two refused attempts",
        )
        assert before["state"] == "delivering"
        server.kill()

        with Receiver(port=port) as receiver:
            server.start()  # same data dir: same executor id, DBOS resumes the delivery workflow
            (got,) = receiver.wait_for(1, timeout=30)
            after = _wait_for(
                lambda: next((d for d in _deliveries(server, run["id"]) if d["state"] == "delivered"), None),
                30,
                "the delivery to be recorded as delivered",
            )
            secret = httpx.get(f"{server.url}/v1/webhooks/secret").json()["secret"]
    finally:
        server.stop()

    assert after["id"] == before["id"] == got.headers["webhook-id"]
    attempts = after["attempts"]
    assert [a["n"] for a in attempts] == list(range(1, len(attempts) + 1))
    # The attempt in flight at the kill may be re-run under its number (at-least-once per step),
    # so the count is at least what was recorded before the kill, not necessarily one more.
    assert len(attempts) >= len(before["attempts"]) >= 2
    assert all(a["status_code"] is None and a["error"] and a["outcome"] == "retry" for a in attempts[:-1])
    assert (attempts[-1]["status_code"], attempts[-1]["outcome"]) == (200, "delivered")
    # Attempts recorded before the kill are still there, unchanged.
    assert attempts[: len(before["attempts"])][:-1] == before["attempts"][:-1]
    message = documented_verify()(secret, got.headers, got.body)
    assert message["type"] == "run.completed" and message["data"]["id"] == run["id"]
