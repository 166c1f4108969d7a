"""A dead worker's runs that no live worker can resume end, and say why.

- ``durability=steps``: the run is released and its workflow re-enqueued; when no live process
  can execute that workflow (here: the only live worker runs another ``AGENTRUN_APP_VERSION``,
  and DBOS resumes a workflow only on its own version), the run fails ``lost`` after
  ``reap_after_s`` instead of staying ``running`` forever.
- ``durability=exit``: the live worker that releases it fails it ``interrupted`` at once.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.distributed.conftest import start_cluster
from tests.support.live import live_worker

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(240)]


def _running_on(api_url: str, run_id: str, patience_s: float = 30) -> str:
    deadline = time.monotonic() + patience_s
    run: dict = {}  # type: ignore[type-arg]
    while time.monotonic() < deadline:
        run = httpx.get(f"{api_url}/v1/runs/{run_id}").json()
        if run["status"] == "running" and run["executor_id"]:
            return str(run["executor_id"])
        time.sleep(0.1)
    raise AssertionError(f"the run never started: {run}")


def test_a_run_no_live_worker_can_resume_fails_as_lost(tmp_path, pg_url) -> None:  # type: ignore[no-untyped-def]
    cluster = start_cluster(tmp_path, pg_url, apis=1, workers=1, env={"AGENTRUN_REAP_AFTER_S": "6"})
    api = cluster.apis[0]
    try:
        agent = {"slug": "slow", "model": "test:sleep-60000", "publish": True}
        httpx.put(f"{api.url}/v1/agents/slow", json=agent).raise_for_status()
        run_id = httpx.post(
            f"{api.url}/v1/runs", json={"agent": "slow", "prompt": "go", "mode": "async"}
        ).json()["id"]
        assert _running_on(api.url, run_id) == "worker-0"
        # The only other live worker runs another build: DBOS will not resume worker-0's workflow there.
        other = live_worker(
            tmp_path / "worker-new", "worker-new", {**cluster.env, "AGENTRUN_APP_VERSION": "agentrun-2"}
        )
        cluster.extra.append(other.spawn())
        other.wait_ready(60)
        cluster.workers[0].kill()  # mid-request: its workflow stays PENDING under version agentrun-1
        final = httpx.get(f"{api.url}/v1/runs/{run_id}", params={"wait_s": 55}, timeout=65).json()
        events = httpx.get(f"{api.url}/v1/runs/{run_id}/events", params={"limit": 200}).json()["data"]
    finally:
        cluster.stop()

    assert final["status"] == "failed", final
    assert final["error"]["code"] == "lost", final["error"]
    released = [
        e for e in events if e["type"] == "log" and (e["data"] or {}).get("dead_executor") == "worker-0"
    ]
    assert len(released) == 1 and released[0]["data"]["by"] == "worker-new", released
    assert events[-1]["type"] == "run.failed" and events[-1]["content"].startswith("lost"), events[-1]
    assert not [e for e in events if e["type"] == "run.completed"]


def test_an_exit_run_of_a_dead_worker_fails_interrupted_on_takeover(tmp_path, pg_url) -> None:  # type: ignore[no-untyped-def]
    # reap_after_s stays 60 (FAST_LIVENESS): an `interrupted` within the wait below can only come
    # from the takeover itself, not from the reaper.
    cluster = start_cluster(tmp_path, pg_url, apis=1, workers=2)
    api = cluster.apis[0]
    try:
        agent = {"slug": "slow", "model": "test:sleep-60000", "publish": True}
        httpx.put(f"{api.url}/v1/agents/slow", json=agent).raise_for_status()
        body = {"agent": "slow", "prompt": "go", "mode": "async", "durability": "exit"}
        run_id = httpx.post(f"{api.url}/v1/runs", json=body).json()["id"]
        owner = _running_on(api.url, run_id)
        next(w for w in cluster.workers if w.extra_env["AGENTRUN_EXECUTOR_ID"] == owner).kill()
        final = httpx.get(f"{api.url}/v1/runs/{run_id}", params={"wait_s": 40}, timeout=50).json()
    finally:
        cluster.stop()

    assert final["status"] == "failed", final
    assert final["error"]["code"] == "interrupted", final["error"]
    assert final["executor_id"] not in (None, owner), final
