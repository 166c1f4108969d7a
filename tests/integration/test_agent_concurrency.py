"""Per-agent concurrency limit: at most N of an agent's runs execute at once; the rest wait queued."""

from __future__ import annotations

import asyncio


async def test_max_concurrency_caps_active_runs(api) -> None:  # type: ignore[no-untyped-def]
    body = {"slug": "capped", "model": "test:sleep-400", "max_concurrency": 2, "publish": True}
    agent = (await api.client.put("/v1/agents/capped", json=body)).json()
    assert agent["max_concurrency"] == 2
    ids = [
        (
            await api.client.post("/v1/runs", json={"agent": "capped", "prompt": f"{i}", "mode": "async"})
        ).json()["id"]
        for i in range(6)
    ]
    peak = 0
    for _ in range(400):
        page = (await api.client.get("/v1/runs", params={"agent": "capped", "limit": 10})).json()["data"]
        peak = max(peak, sum(1 for r in page if r["status"] in ("running", "cancelling")))
        if all(r["status"] == "completed" for r in page) and len(page) == 6:
            break
        await asyncio.sleep(0.02)
    finals = [(await api.client.get(f"/v1/runs/{rid}", params={"wait_s": 10})).json() for rid in ids]
    assert [r["status"] for r in finals] == ["completed"] * 6
    assert peak == 2
    # Intervals: never more than two overlapping.
    spans = sorted((r["started_at"], r["finished_at"]) for r in finals)
    for i, (start, _) in enumerate(spans):
        overlapping = sum(1 for s, e in spans[:i] if e > start)
        assert overlapping <= 1

    lifted = (await api.client.patch("/v1/agents/capped", json={"max_concurrency": None})).json()
    assert lifted["max_concurrency"] is None
    assert lifted["latest_revision"] == agent["latest_revision"]  # operational: no new revision
