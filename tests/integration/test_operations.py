"""Operations: readiness, Prometheus metrics, queue-depth back-pressure, retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"limits": {"max_queued_per_project": 3}}


async def test_readyz_reports_database_and_migrations(api) -> None:  # type: ignore[no-untyped-def]
    body = (await api.client.get("/readyz")).json()
    assert body["status"] == "ready"
    assert body["migration"] is not None


async def test_metrics_in_prometheus_format(api) -> None:  # type: ignore[no-untyped-def]
    run = (await api.client.post("/v1/runs", json={"agent": "demo", "prompt": "hi"})).json()
    assert run["status"] == "completed"
    text = (await api.client.get("/metrics")).text
    assert 'agentrun_runs{status="completed"} 1.0' in text
    assert "agentrun_queue_depth 0.0" in text
    assert "agentrun_workers_alive 1.0" in text
    assert 'agentrun_run_duration_seconds_count{agent="demo"} 1.0' in text


async def test_queue_depth_limit_answers_429_with_retry_after(api) -> None:  # type: ignore[no-untyped-def]
    await api.client.put("/v1/agents/parked", json={"slug": "parked", "model": "test", "publish": True})
    # Hold every run queued: a busy thread keeps its later runs waiting.
    thread = (await api.client.post("/v1/threads", json={})).json()
    await api.client.put(
        "/v1/agents/slow", json={"slug": "slow", "model": "test:sleep-3000", "publish": True}
    )
    first = await api.client.post(
        "/v1/runs", json={"agent": "slow", "prompt": "hold", "mode": "async", "thread_id": thread["id"]}
    )
    assert first.status_code == 202
    statuses = []
    for i in range(4):
        resp = await api.client.post(
            "/v1/runs",
            json={"agent": "parked", "prompt": f"q{i}", "mode": "async", "thread_id": thread["id"]},
        )
        statuses.append(resp.status_code)
    assert statuses[-1] == 429, statuses
    last = await api.client.post("/v1/runs", json={"agent": "parked", "prompt": "x", "mode": "async"})
    assert last.status_code == 429
    assert last.headers["retry-after"] == "5"
    assert last.json()["error"]["code"] == "rate_limited"
    await api.client.post(f"/v1/runs/{first.json()['id']}/cancel")


async def test_retention_deletes_old_finished_runs_and_their_events(api) -> None:  # type: ignore[no-untyped-def]
    old = (await api.client.post("/v1/runs", json={"agent": "demo", "prompt": "old"})).json()
    new = (await api.client.post("/v1/runs", json={"agent": "demo", "prompt": "new"})).json()
    async with api.services.store.engine.begin() as conn:
        await conn.execute(
            sa.text("UPDATE runs SET finished_at = :t WHERE id = :id"),
            {"t": datetime.now(UTC) - timedelta(days=31), "id": old["id"]},
        )
    deleted = await api.services.worker.caretaker.apply_retention()
    assert deleted == 1
    assert (await api.client.get(f"/v1/runs/{old['id']}")).status_code == 404
    assert (await api.client.get(f"/v1/runs/{new['id']}")).status_code == 200
    async with api.services.store.engine.connect() as conn:
        left = await conn.scalar(sa.text("SELECT count(*) FROM events WHERE run_id = :id"), {"id": old["id"]})
    assert left == 0
