"""Seed 003, the "ACP" runtime-run endpoint (``POST /v1/servers/{serverId}/runs``), as its client.

``serverId`` is an agent id or slug; bearer auth with a project key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.compat.conftest import create_agent, new_api_key, poll, unique

pytestmark = pytest.mark.asyncio(loop_scope="module")

RUN_FIELDS = {
    "id": str,
    "serverId": str,
    "threadId": str,
    "title": str,
    "input": str,
    "mode": str,
    "status": str,
    "metadata": dict,
    "createdAt": str,
    "sessionProtocol": str,
    "threadBacked": bool,
    "threadStatus": str,
    "threadTitle": str,
}
EVENT_FIELDS = {"id", "role", "content", "logType", "logLevel", "createdAt"}
STATUSES = {"queued", "running", "completed", "failed", "cancelled"}


def iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


def assert_documented_shape(body: dict[str, Any], server_id: str) -> None:
    assert body["serverId"] == server_id
    run = body["run"]
    for field, kind in RUN_FIELDS.items():
        assert isinstance(run[field], kind), (field, run.get(field))
    for field in ("output", "error", "completedAt"):
        assert field in run
    assert run["status"] in STATUSES and run["mode"] in ("sync", "async")
    iso(run["createdAt"])
    assert isinstance(body["thread"], dict) and body["thread"]["id"] == run["threadId"]
    assert isinstance(body["events"], list) and body["events"]
    for event in body["events"]:
        assert EVENT_FIELDS <= set(event)
        for field in EVENT_FIELDS:
            assert isinstance(event[field], str), (field, event)
        iso(event["createdAt"])


async def bearer(api) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {await new_api_key(api.client)}"}


async def test_sync_run_is_201_with_the_finished_run(api) -> None:  # type: ignore[no-untyped-def]
    headers = await bearer(api)
    agent = await create_agent(api.client, slug=unique("acp"))
    body = {
        "content": "Summarize the release notes.",
        "title": "Release notes",
        "mode": "sync",
        "metadata": {"ticket": "T-42"},
    }
    resp = await api.client.post(f"/v1/servers/{agent['slug']}/runs", headers=headers, json=body)
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert_documented_shape(out, agent["slug"])
    run = out["run"]
    assert run["status"] == "completed" and run["mode"] == "sync"
    assert run["input"] == "Summarize the release notes."
    assert run["output"].startswith("[offline test model]") and run["error"] is None
    assert run["title"] == "Release notes" and run["threadTitle"] == "Release notes"
    assert run["metadata"] == {"ticket": "T-42"}
    assert run["threadBacked"] is True and run["threadStatus"] == "idle"
    assert iso(run["completedAt"]) >= iso(run["createdAt"])
    log_types = [e["logType"] for e in out["events"]]
    assert log_types[0] == "run.queued" and log_types[-1] == "run.completed" and "message" in log_types
    answer = next(e for e in out["events"] if e["logType"] == "message")
    assert answer["role"] == "assistant" and answer["content"] == run["output"]
    assert {e["logLevel"] for e in out["events"]} <= {"debug", "info", "warning", "error"}


async def test_mode_defaults_to_sync_and_prompt_is_accepted(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, slug=unique("acp"))
    resp = await api.client.post(f"/v1/servers/{agent['id']}/runs", json={"prompt": "Hello there"})
    assert resp.status_code == 201, resp.text
    run = resp.json()["run"]
    assert run["mode"] == "sync" and run["status"] == "completed" and run["input"] == "Hello there"
    assert run["title"] == "Hello there"  # no title given: the input's start


async def test_async_run_is_202_then_readable(api) -> None:  # type: ignore[no-untyped-def]
    headers = await bearer(api)
    agent = await create_agent(api.client, slug=unique("acp"))
    resp = await api.client.post(
        f"/v1/servers/{agent['slug']}/runs",
        headers=headers,
        json={"content": "Later please", "mode": "async"},
    )
    assert resp.status_code == 202, resp.text
    out = resp.json()
    assert_documented_shape(out, agent["slug"])
    assert out["run"]["status"] == "queued" and out["run"]["mode"] == "async"
    assert out["run"]["output"] is None and out["run"]["completedAt"] is None
    path = f"/v1/servers/{agent['slug']}/runs/{out['run']['id']}"
    done = await poll(api.client, path, lambda b: b["run"]["status"] in ("completed", "failed", "cancelled"))
    assert done["run"]["status"] == "completed" and done["run"]["output"]
    assert_documented_shape(done, agent["slug"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "content"),
        ({"content": "a", "prompt": "b"}, "prompt"),
        ({"content": "hi", "mode": "stream"}, "mode"),
        ({"content": "hi", "threadId": "t"}, "threadId"),
        ({"content": "hi", "metadata": "x"}, "metadata"),
    ],
)
async def test_invalid_bodies_are_422(api, body, field) -> None:  # type: ignore[no-untyped-def]
    resp = await api.client.post("/v1/servers/demo/runs", json=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["message"].startswith(field)


async def test_unknown_server_or_run_is_404(api) -> None:  # type: ignore[no-untyped-def]
    assert (await api.client.post("/v1/servers/nope/runs", json={"content": "hi"})).status_code == 404
    assert (await api.client.get("/v1/servers/demo/runs/run_nope")).status_code == 404
    other = await create_agent(api.client, slug=unique("acp"))
    run = (await api.client.post(f"/v1/servers/{other['slug']}/runs", json={"content": "hi"})).json()["run"]
    # a run is found under its own server only
    assert (await api.client.get(f"/v1/servers/demo/runs/{run['id']}")).status_code == 404


async def test_failed_and_cancelled_runs(api) -> None:  # type: ignore[no-untyped-def]
    # One model turn allowed, but the model calls a tool first: the run fails on its limit.
    agent = await create_agent(
        api.client,
        slug=unique("acp"),
        model="test:tools",
        tools=[{"kind": "builtin", "name": "calculator"}],
        config={"max_turns": 1},
    )
    resp = await api.client.post(f"/v1/servers/{agent['slug']}/runs", json={"content": "add numbers"})
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert out["run"]["status"] == "failed" and out["run"]["output"] is None
    assert isinstance(out["run"]["error"], str) and out["run"]["error"]
    assert out["events"][-1]["logType"] == "run.failed" and out["events"][-1]["logLevel"] == "error"
    assert any(e["logType"] == "tool_call" and "calculator" in e["content"] for e in out["events"])
    slow = await create_agent(api.client, slug=unique("acp"), model="test:sleep-5000")
    started = await api.client.post(
        f"/v1/servers/{slow['slug']}/runs", json={"content": "hi", "mode": "async"}
    )
    run_id = started.json()["run"]["id"]
    assert (await api.client.post(f"/v1/runs/{run_id}/cancel")).status_code == 200
    path = f"/v1/servers/{slow['slug']}/runs/{run_id}"
    done = await poll(api.client, path, lambda b: b["run"]["status"] in ("completed", "failed", "cancelled"))
    assert done["run"]["status"] == "cancelled" and isinstance(done["run"]["error"], str)
