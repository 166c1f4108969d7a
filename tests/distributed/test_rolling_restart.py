"""Rolling restart under load: every worker is restarted (SIGTERM, then start) one by one while
runs keep flowing; not one run is lost."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.distributed.conftest import start_cluster
from tests.support.live import live_worker

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(420)]

TERMINAL = {"completed", "failed", "cancelled", "timed_out"}


def test_restarting_every_worker_one_by_one_loses_no_run(tmp_path, pg_url) -> None:  # type: ignore[no-untyped-def]
    env = {"AGENTRUN_SHUTDOWN_GRACE_S": "2", "AGENTRUN_WORKER_CONCURRENCY": "8"}
    cluster = start_cluster(tmp_path, pg_url, apis=1, workers=3, env=env)
    api = cluster.apis[0]
    created: list[str] = []
    stop = threading.Event()
    try:
        httpx.put(
            f"{api.url}/v1/agents/steady", json={"slug": "steady", "model": "test:sleep-700", "publish": True}
        ).raise_for_status()

        def produce() -> None:  # a steady flow of runs while the restarts happen
            with httpx.Client(base_url=api.url, timeout=30) as client:
                while not stop.is_set() and len(created) < 400:
                    body = {"agent": "steady", "prompt": f"r{len(created)}", "mode": "async"}
                    created.append(client.post("/v1/runs", json=body).json()["id"])
                    time.sleep(0.05)

        producer = threading.Thread(target=produce)
        producer.start()
        time.sleep(2)
        for index, worker in enumerate(list(cluster.workers)):
            worker.stop()  # SIGTERM: finish what fits in the grace period, leave the rest owned
            cluster.workers[index] = live_worker(worker.data_dir, f"worker-{index}", cluster.env).start()
            time.sleep(1)
        stop.set()
        producer.join()

        with httpx.Client(base_url=api.url, timeout=40) as client:
            finals = [client.get(f"/v1/runs/{rid}", params={"wait_s": 30}).json() for rid in created]
    finally:
        stop.set()
        cluster.stop()

    statuses = {s: sum(1 for r in finals if r["status"] == s) for s in {r["status"] for r in finals}}
    print(f"runs={len(finals)} statuses={statuses}")
    assert len(finals) > 50
    assert statuses == {"completed": len(finals)}, statuses
