"""SIGTERM: stop taking runs, let in-flight runs finish within the grace period, and leave the
rest to be resumed (here: by the same server restarting, as in a rolling restart)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.live import LiveServer

pytestmark = pytest.mark.slow


def _agent(server: LiveServer, slug: str, model: str) -> None:
    resp = httpx.put(f"{server.url}/v1/agents/{slug}", json={"slug": slug, "model": model, "publish": True})
    resp.raise_for_status()


def _start(server: LiveServer, slug: str) -> str:
    return httpx.post(f"{server.url}/v1/runs", json={"agent": slug, "prompt": "x", "mode": "async"}).json()[
        "id"
    ]


def _wait_running(server: LiveServer, run_id: str) -> None:
    final = httpx.get(f"{server.url}/v1/runs/{run_id}", params={"wait_s": 0.5}).json()
    for _ in range(100):
        if final["status"] == "running":
            return
        final = httpx.get(f"{server.url}/v1/runs/{run_id}", params={"wait_s": 0.2}).json()
    raise AssertionError(f"run never started: {final['status']}")


def test_in_flight_run_finishes_within_the_grace_period(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = LiveServer(tmp_path / "data", extra_env={"AGENTRUN_SHUTDOWN_GRACE_S": "20"}).start()
    _agent(server, "short", "test:sleep-1500")
    run_id = _start(server, "short")
    _wait_running(server, run_id)
    server.stop()  # SIGTERM, waits for exit
    server.start()
    try:
        run = httpx.get(f"{server.url}/v1/runs/{run_id}").json()
        assert run["status"] == "completed"
        assert run["attempt"] == 1  # finished before the process exited: never resumed
    finally:
        server.stop()


def test_run_outliving_the_grace_period_is_resumed_after_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = LiveServer(tmp_path / "data", extra_env={"AGENTRUN_SHUTDOWN_GRACE_S": "0.5"}).start()
    _agent(server, "long", "test:sleep-4000")
    run_id = _start(server, "long")
    _wait_running(server, run_id)
    server.stop()
    server.start()
    try:
        run = httpx.get(f"{server.url}/v1/runs/{run_id}", params={"wait_s": 30}, timeout=40).json()
        assert run["status"] == "completed", run
        events = httpx.get(f"{server.url}/v1/runs/{run_id}/events").json()["data"]
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert [e["type"] for e in events].count("run.completed") == 1
    finally:
        server.stop()
