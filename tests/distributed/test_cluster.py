"""2 API nodes + 3 workers on one PostgreSQL: any node answers anything, live."""

from __future__ import annotations

import json
import statistics
import time
from datetime import datetime

import httpx
import pytest

from tests.distributed.conftest import start_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _sse_events(resp: httpx.Response):  # type: ignore[no-untyped-def]
    event: dict[str, str] = {}
    for line in resp.iter_lines():
        if not line:
            if "data" in event:
                yield event
            event = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(": ")
            event[key] = value


def test_runs_created_on_one_node_stream_live_from_another(tmp_path, pg_url) -> None:  # type: ignore[no-untyped-def]
    cluster = start_cluster(tmp_path, pg_url, apis=2, workers=3)
    try:
        a, b = cluster.apis
        httpx.put(
            f"{a.url}/v1/agents/slow", json={"slug": "slow", "model": "test:sleep-150", "publish": True}
        ).raise_for_status()
        runs = [
            httpx.post(f"{a.url}/v1/runs", json={"agent": "slow", "prompt": f"n{i}", "mode": "async"}).json()
            for i in range(24)
        ]
        lags: list[float] = []
        with httpx.stream(
            "GET",
            f"{b.url}/v1/runs/{runs[-1]['id']}/events",
            headers={"Accept": "text/event-stream"},
            timeout=30,
        ) as resp:
            assert resp.status_code == 200
            seqs = []
            for event in _sse_events(resp):
                received = time.time()
                data = json.loads(event["data"])
                seqs.append(data["seq"])
                lags.append(received - datetime.fromisoformat(data["created_at"]).timestamp())
        assert seqs == list(range(1, len(seqs) + 1))
        finals = [
            httpx.get(f"{b.url}/v1/runs/{r['id']}", params={"wait_s": 30}, timeout=40).json() for r in runs
        ]
        assert {f["status"] for f in finals} == {"completed"}
        executors = {f["executor_id"] for f in finals}
        assert len(executors) >= 2, executors  # the work spread over the workers
        live_lags = lags[2:]  # events written after the stream attached
        print(
            f"cross-node event lag p50={statistics.median(live_lags) * 1000:.1f} ms over {len(live_lags)} events; executors={sorted(executors)}"
        )
    finally:
        cluster.stop()


def test_cancel_on_one_node_stops_a_run_executing_on_a_worker(tmp_path, pg_url) -> None:  # type: ignore[no-untyped-def]
    cluster = start_cluster(tmp_path, pg_url, apis=2, workers=1)
    try:
        a, b = cluster.apis
        httpx.put(
            f"{a.url}/v1/agents/long", json={"slug": "long", "model": "test:sleep-20000", "publish": True}
        ).raise_for_status()
        run = httpx.post(f"{a.url}/v1/runs", json={"agent": "long", "prompt": "x", "mode": "async"}).json()
        deadline = time.monotonic() + 20
        while httpx.get(f"{b.url}/v1/runs/{run['id']}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        started = time.monotonic()
        assert httpx.post(f"{b.url}/v1/runs/{run['id']}/cancel").status_code == 200
        final = httpx.get(f"{a.url}/v1/runs/{run['id']}", params={"wait_s": 10}, timeout=20).json()
        elapsed = time.monotonic() - started
        assert final["status"] == "cancelled"
        print(f"cross-node cancel took {elapsed * 1000:.0f} ms")
    finally:
        cluster.stop()
