"""The worker that executes a run labels it: the model that runs, and why the offline one stands in."""

from __future__ import annotations

import pytest

from tests.support.native_api import shared_api, unique

pytestmark = pytest.mark.asyncio(loop_scope="module")
api = shared_api()


async def test_offline_fallback_note_is_a_log_event_of_the_run(api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    slug = unique("nokey")
    resp = await api.client.put(f"/v1/agents/{slug}", json={"slug": slug, "model": "openai:gpt-4o"})
    assert resp.status_code == 201, resp.text
    run = (await api.client.post("/v1/runs", json={"agent": slug, "prompt": "hi", "mode": "sync"})).json()
    assert run["status"] == "completed", run
    assert (run["model"], run["offline"]) == ("test", True)
    events = (await api.client.get(f"/v1/runs/{run['id']}/events")).json()["data"]
    notes = [
        e
        for e in events
        if e["type"] == "log" and "no OPENAI_API_KEY set for openai:gpt-4o" in (e["content"] or "")
    ]
    assert len(notes) == 1, [(e["type"], e["content"]) for e in events]
    assert notes[0]["level"] == "warning"
    started = next(e for e in events if e["type"] == "run.started")
    assert (started["data"]["model"], started["data"]["offline"]) == ("test", True)
    assert started["seq"] < notes[0]["seq"]
