"""PostgreSQL LISTEN/NOTIFY survives its connection being killed (store/notify.py).

One API node and one worker on one PostgreSQL. The worker's look for queued runs is made so rare
(``AGENTRUN_DISPATCH_POLL_S=600``) that within this test a run created on the API node can only
start when the queue notification reaches the worker: after every LISTEN connection is
terminated, a run still completes only if the worker (and the API node) listen again.
"""

from __future__ import annotations

import time

import httpx
import psycopg
import pytest

from tests.distributed.conftest import start_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(180)]

LISTENERS = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN \"agentrun%%'"


def _listeners(conn: psycopg.Connection) -> set[int]:
    return {row[0] for row in conn.execute(LISTENERS).fetchall()}


def test_wakeups_cross_processes_after_the_listen_connection_is_killed(tmp_path, pg_url) -> None:  # type: ignore[no-untyped-def]
    cluster = start_cluster(tmp_path, pg_url, apis=1, workers=1, env={"AGENTRUN_DISPATCH_POLL_S": "600"})
    api = cluster.apis[0]
    try:
        agent = {"slug": "quick", "model": "test:sleep-200", "publish": True}
        httpx.put(f"{api.url}/v1/agents/quick", json=agent).raise_for_status()

        def run_once(prompt: str) -> dict:  # type: ignore[type-arg]
            run_id = httpx.post(
                f"{api.url}/v1/runs", json={"agent": "quick", "prompt": prompt, "mode": "async"}
            ).json()["id"]
            return httpx.get(f"{api.url}/v1/runs/{run_id}", params={"wait_s": 30}, timeout=40).json()

        before = run_once("warm up")  # the worker claims only through NOTIFY here, too
        with psycopg.connect(pg_url, autocommit=True) as admin:
            old = _listeners(admin)
            assert len(old) == 2, old  # one per process
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY(%s)", (list(old),)
            ).fetchall()
            assert all(row[0] for row in killed), killed
            deadline = time.monotonic() + 30
            fresh: set[int] = set()
            while time.monotonic() < deadline:
                fresh = _listeners(admin) - old
                if len(fresh) == 2:
                    break
                time.sleep(0.2)
            assert len(fresh) == 2, f"not every process listens again: {fresh}"
        after = [run_once(f"after the kill {i}") for i in range(3)]
        worker_log = cluster.workers[0].log()
    finally:
        cluster.stop()

    assert before["status"] == "completed", before
    for final in after:
        assert final["status"] == "completed", final
        assert final["executor_id"] == "worker-0"
    assert "LISTEN connection re-established" in worker_log
