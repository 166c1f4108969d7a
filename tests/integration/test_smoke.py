"""The shortest path through the product: the demo agent answers a sync run."""

from __future__ import annotations


async def test_demo_agent_answers_sync_run(api) -> None:  # type: ignore[no-untyped-def]
    resp = await api.client.post("/v1/runs", json={"agent": "demo", "prompt": "hello"})
    assert resp.status_code == 200, resp.text
    run = resp.json()
    assert run["status"] == "completed"
    assert run["offline"] is True and run["model"] == "test"
    assert run["result"].startswith("[offline test model]")
    events = (await api.client.get(f"/v1/runs/{run['id']}/events")).json()["data"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "run.queued" and events[-1]["type"] == "run.completed"
