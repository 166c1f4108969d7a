"""Limits: turns, tokens and wall clock per run; body size, page size, cursors and sync waits per request."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.support.native_api import (
    ToolThenAnswer,
    assert_error,
    create_agent,
    events,
    registered_model,
    run_async,
    shared_api,
    wait_run,
)

MAX_BODY = 4096
MAX_PAGE = 20
DEFAULT_PAGE = 10
SYNC_WAIT_S = 0.3

pytestmark = pytest.mark.asyncio(loop_scope="module")
api = shared_api(
    limits={
        "max_body_bytes": MAX_BODY,
        "max_page_size": MAX_PAGE,
        "default_page_size": DEFAULT_PAGE,
        "sync_wait_s": SYNC_WAIT_S,
    }
)

TOOLS = [{"kind": "builtin", "name": "calculator"}]


async def test_max_turns_exceeded_fails_the_run_with_limit_exceeded(api) -> None:  # type: ignore[no-untyped-def]
    script = ToolThenAnswer("calculator", {"expression": "1+1"}, forever=True)
    with registered_model(script.model(), "loop") as model:
        agent = await create_agent(api.client, model=model, tools=TOOLS)
        created = await run_async(api.client, agent["slug"], config={"max_turns": 3})
        run = await wait_run(api.client, created["id"])
    assert run["status"] == "failed", run
    assert run["error"]["code"] == "limit_exceeded"
    assert "3" in run["error"]["message"]
    assert len(script.requests) == 3, "exactly max_turns model requests, never one more"
    assert run["config"]["max_turns"] == 3
    evts = await events(api.client, run["id"])
    assert evts[-1]["type"] == "run.failed"
    assert evts[-1]["data"]["error"]["code"] == "limit_exceeded"
    assert evts[-1]["level"] == "error"
    assert [e["seq"] for e in evts] == list(range(1, len(evts) + 1))


async def test_agent_default_max_turns_applies_and_a_run_can_override_it(api) -> None:  # type: ignore[no-untyped-def]
    script = ToolThenAnswer("calculator", {"expression": "2+2"}, forever=True)
    with registered_model(script.model(), "loop") as model:
        agent = await create_agent(api.client, model=model, tools=TOOLS, config={"max_turns": 2})
        by_default = await wait_run(api.client, (await run_async(api.client, agent["slug"]))["id"])
        default_requests = len(script.requests)
        overridden = await wait_run(
            api.client, (await run_async(api.client, agent["slug"], config={"max_turns": 4}))["id"]
        )
    assert by_default["status"] == "failed" and by_default["error"]["code"] == "limit_exceeded"
    assert by_default["config"]["max_turns"] == 2 and default_requests == 2
    assert overridden["status"] == "failed" and overridden["error"]["code"] == "limit_exceeded"
    assert overridden["config"]["max_turns"] == 4 and len(script.requests) - default_requests == 4


async def test_max_total_tokens_exceeded_fails_the_run(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    created = await run_async(api.client, agent["slug"], prompt="say a lot", config={"max_total_tokens": 1})
    run = await wait_run(api.client, created["id"])
    assert run["status"] == "failed", run
    assert run["error"]["code"] == "limit_exceeded"
    assert (await events(api.client, run["id"]))[-1]["type"] == "run.failed"


async def test_timeout_ends_the_run_as_timed_out(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, model="test:sleep-3000")
    created = await run_async(api.client, agent["slug"], config={"timeout_s": 0.3})
    run = await wait_run(api.client, created["id"])
    assert run["status"] == "timed_out", run
    assert run["error"]["code"] == "timeout" and "timeout_s" in run["error"]["message"]
    assert run["result"] is None
    ran_for = datetime.fromisoformat(run["finished_at"]) - datetime.fromisoformat(run["started_at"])
    assert ran_for.total_seconds() < 3, "the run must stop before its 3 s model call returns"
    evts = await events(api.client, run["id"])
    assert evts[-1]["type"] == "run.timed_out"
    assert evts[-1]["data"]["error"]["code"] == "timeout"
    assert "run.completed" not in {e["type"] for e in evts}


async def test_sync_run_past_the_wait_limit_answers_202_and_keeps_running(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, model="test:sleep-800")
    resp = await api.client.post("/v1/runs", json={"agent": agent["slug"], "prompt": "slow"})
    assert resp.status_code == 202, resp.text
    assert resp.json()["status"] in ("queued", "running")
    run = await wait_run(api.client, resp.json()["id"])
    assert run["status"] == "completed" and run["mode"] == "sync"


async def test_body_larger_than_the_limit_is_413(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    too_big = await api.client.post("/v1/runs", json={"agent": agent["slug"], "prompt": "x" * MAX_BODY})
    error = assert_error(too_big, 413, "body_too_large")
    assert str(MAX_BODY) in error["message"] and error["details"] == {"max_bytes": MAX_BODY}

    async def chunks():  # no Content-Length: the limit must count what arrives
        for _ in range(4):
            yield b"x" * (MAX_BODY // 2)

    chunked = await api.client.post(
        "/v1/runs", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(chunked, 413, "body_too_large")

    agent_body = await api.client.post("/v1/agents", json={"slug": "big", "instructions": "y" * MAX_BODY})
    assert_error(agent_body, 413, "body_too_large")
    assert_error(await api.client.get("/v1/agents/big"), 404, "agent_not_found")

    fits = await api.client.post(
        "/v1/runs", json={"agent": agent["slug"], "prompt": "x" * (MAX_BODY - 250), "mode": "async"}
    )
    assert fits.status_code == 202, fits.text  # accepted: under the limit (async: no wait-limit race)


@pytest.mark.parametrize("path", ["/v1/agents", "/v1/runs", "/v1/threads", "/v1/agents/demo/revisions"])
async def test_page_limits_and_malformed_cursors(api, path: str) -> None:  # type: ignore[no-untyped-def]
    over = await api.client.get(path, params={"limit": MAX_PAGE + 1})
    error = assert_error(over, 422, "validation_error")
    assert str(MAX_PAGE) in error["message"]
    assert (await api.client.get(path, params={"limit": MAX_PAGE})).status_code == 200
    assert_error(await api.client.get(path, params={"limit": 0}), 422, "validation_error")
    assert_error(await api.client.get(path, params={"limit": "many"}), 422, "validation_error")
    for cursor in ("not-a-cursor!", "a", "%%%"):
        bad = await api.client.get(path, params={"cursor": cursor})
        assert "cursor" in assert_error(bad, 400, "invalid_request")["message"]


async def test_default_page_size_applies_without_limit(api) -> None:  # type: ignore[no-untyped-def]
    for _ in range(DEFAULT_PAGE + 1):
        await create_agent(api.client)
    page = (await api.client.get("/v1/agents")).json()
    assert len(page["data"]) == DEFAULT_PAGE and page["next_cursor"] is not None


async def test_events_page_limit_above_the_max_is_422(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    run = await wait_run(api.client, (await run_async(api.client, agent["slug"]))["id"])
    over = await api.client.get(f"/v1/runs/{run['id']}/events", params={"limit": MAX_PAGE + 1})
    assert_error(over, 422, "validation_error")
    ok = await api.client.get(f"/v1/runs/{run['id']}/events", params={"limit": 1})
    assert [e["seq"] for e in ok.json()["data"]] == [1]
    assert_error(
        await api.client.get(f"/v1/runs/{run['id']}/events", params={"after": -1}), 422, "validation_error"
    )
