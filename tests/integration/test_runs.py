"""Runs through the native API: modes, events, listing, idempotency, cancel, schemas, tools."""

from __future__ import annotations

import asyncio
import time

import jsonschema
import pytest

from tests.support.native_api import (
    ToolThenAnswer,
    all_pages,
    assert_error,
    create_agent,
    create_thread,
    events,
    parse_sse,
    registered_model,
    run_async,
    run_sync,
    shared_api,
    wait_run,
    wait_status,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
api = shared_api()

TERMINAL_EVENTS = {"run.completed", "run.failed", "run.cancelled", "run.timed_out"}


def assert_gapless(evts: list[dict]) -> None:
    assert [e["seq"] for e in evts] == list(range(1, len(evts) + 1))


async def test_sync_run_returns_the_finished_run(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    resp = await api.client.post("/v1/runs", json={"agent": agent["slug"], "prompt": "hello there"})
    assert resp.status_code == 200, resp.text
    run = resp.json()
    assert resp.headers["x-run-id"] == run["id"]
    assert run["status"] == "completed"
    assert run["agent_id"] == agent["id"] and run["agent_slug"] == agent["slug"] and run["revision"] == 1
    assert run["mode"] == "sync" and run["prompt"] == "hello there"
    assert run["result_type"] == "text" and "hello there" in run["result"]
    assert run["iterations"] == 1
    usage = run["usage"]
    assert usage["requests"] == 1 and usage["tool_calls"] == 0
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert run["error"] is None
    assert run["created_at"] <= run["started_at"] <= run["finished_at"]
    evts = await events(api.client, run["id"])
    assert_gapless(evts)
    assert run["last_seq"] == len(evts)
    types = [e["type"] for e in evts]
    assert types[:2] == ["run.queued", "run.started"] and types[-1] == "run.completed"
    assert evts[-1]["data"]["result_type"] == "text" and evts[-1]["data"]["usage"] == usage
    assert "".join(e["content"] for e in evts if e["type"] == "message.delta") == run["result"]


async def test_async_run_is_202_then_long_poll_returns_it_finished(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, model="test:sleep-200")
    resp = await api.client.post(
        "/v1/runs", json={"agent": agent["slug"], "prompt": "later", "mode": "async"}
    )
    assert resp.status_code == 202, resp.text
    created = resp.json()
    assert created["status"] in ("queued", "running") and created["result"] is None
    assert resp.headers["x-run-id"] == created["id"]

    polled = await api.client.get(f"/v1/runs/{created['id']}", params={"wait_s": 10})
    assert polled.status_code == 200
    run = polled.json()
    assert run["status"] == "completed", run
    assert run["id"] == created["id"] and run["mode"] == "async"
    assert "later" in run["result"]


async def test_stream_mode_sends_events_in_order_then_the_run(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    resp = await api.client.post(
        "/v1/runs", json={"agent": agent["slug"], "prompt": "stream me", "mode": "stream"}
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/event-stream")
    run_id = resp.headers["x-run-id"]
    messages = parse_sse(resp.text)
    *event_msgs, final = messages
    assert final["event"] == "run" and "id" not in final
    assert final["data"]["id"] == run_id and final["data"]["status"] == "completed"
    assert "stream me" in final["data"]["result"]

    assert [int(m["id"]) for m in event_msgs] == list(range(1, len(event_msgs) + 1))
    assert all(m["event"] == m["data"]["type"] and int(m["id"]) == m["data"]["seq"] for m in event_msgs)
    assert all(m["data"]["run_id"] == run_id for m in event_msgs)
    assert event_msgs[0]["event"] == "run.queued" and event_msgs[-1]["event"] == "run.completed"
    assert [m["event"] for m in event_msgs].count("run.completed") == 1
    stored = await events(api.client, run_id)
    assert [m["data"] for m in event_msgs] == stored, "the stream must carry exactly the stored log"


async def test_events_page_with_after_and_next_after(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    run = await run_sync(api.client, agent["slug"], prompt="a prompt long enough to stream in several chunks")
    full = await events(api.client, run["id"])
    assert len(full) >= 5
    assert_gapless(full)

    seen: list[dict] = []
    after = 0
    while True:
        resp = await api.client.get(f"/v1/runs/{run['id']}/events", params={"after": after, "limit": 2})
        assert resp.status_code == 200
        page = resp.json()
        assert page["run_status"] == "completed"
        if not page["data"]:
            assert page["next_after"] == after
            break
        assert len(page["data"]) <= 2
        assert page["data"][0]["seq"] == after + 1
        assert page["next_after"] == page["data"][-1]["seq"]
        seen.extend(page["data"])
        after = page["next_after"]
    assert seen == full

    tail = (await api.client.get(f"/v1/runs/{run['id']}/events", params={"after": len(full) - 1})).json()
    assert [e["seq"] for e in tail["data"]] == [len(full)]


async def test_events_sse_resumes_after_last_event_id(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    run = await run_sync(api.client, agent["slug"])
    full = await events(api.client, run["id"])
    resp = await api.client.get(
        f"/v1/runs/{run['id']}/events", headers={"Accept": "text/event-stream", "Last-Event-ID": "2"}
    )
    assert resp.status_code == 200
    streamed = parse_sse(resp.text)
    assert [int(m["id"]) for m in streamed] == [e["seq"] for e in full[2:]]
    assert streamed[-1]["event"] == "run.completed"
    assert [m["data"] for m in streamed] == full[2:]


async def test_list_runs_filters_and_pages(api) -> None:  # type: ignore[no-untyped-def]
    a = await create_agent(api.client)
    b = await create_agent(api.client)
    slow = await create_agent(api.client, model="test:sleep-5000")
    thread = await create_thread(api.client)
    a_runs = [await run_sync(api.client, a["slug"], prompt=f"a{i}") for i in range(4)]
    b_run = await run_sync(api.client, b["slug"], thread_id=thread["id"])
    cancelled = await run_async(api.client, slow["slug"])
    assert (await api.client.post(f"/v1/runs/{cancelled['id']}/cancel")).status_code == 200
    await wait_run(api.client, cancelled["id"])

    pages = await all_pages(api.client, "/v1/runs", limit=3, agent=a["slug"])
    ids = [r["id"] for page in pages for r in page]
    assert ids == [r["id"] for r in reversed(a_runs)], "newest first, each run once, across pages"
    assert [len(p) for p in pages] == [3, 1]
    by_id = await all_pages(api.client, "/v1/runs", limit=3, agent=a["id"])
    assert [r["id"] for page in by_id for r in page] == ids

    on_thread = (await api.client.get("/v1/runs", params={"thread_id": thread["id"]})).json()["data"]
    assert [r["id"] for r in on_thread] == [b_run["id"]]

    done_b = (await api.client.get("/v1/runs", params={"agent": b["slug"], "status": "completed"})).json()
    assert [r["id"] for r in done_b["data"]] == [b_run["id"]]
    slow_cancelled = await api.client.get("/v1/runs", params={"agent": slow["slug"], "status": "cancelled"})
    assert [r["id"] for r in slow_cancelled.json()["data"]] == [cancelled["id"]]
    slow_completed = await api.client.get("/v1/runs", params={"agent": slow["slug"], "status": "completed"})
    assert slow_completed.json()["data"] == []

    everything = await all_pages(api.client, "/v1/runs", limit=2)
    all_ids = [r["id"] for page in everything for r in page]
    assert len(all_ids) == len(set(all_ids))
    assert {r["id"] for r in [*a_runs, b_run, cancelled]} <= set(all_ids)
    assert all_ids == sorted(all_ids, reverse=True)

    assert_error(await api.client.get("/v1/runs", params={"status": "bogus"}), 422, "validation_error")
    assert_error(await api.client.get("/v1/runs", params={"agent": "no-such-agent"}), 404, "agent_not_found")


async def test_idempotency_key_replays_and_conflicts(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    body = {"agent": agent["slug"], "prompt": "once", "mode": "async"}
    headers = {"Idempotency-Key": "key-1"}
    first = await api.client.post("/v1/runs", json=body, headers=headers)
    second = await api.client.post("/v1/runs", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]

    other = await api.client.post("/v1/runs", json={**body, "prompt": "twice"}, headers=headers)
    error = assert_error(other, 409, "idempotency_conflict")
    assert "Idempotency-Key" in error["message"]

    fresh = await api.client.post("/v1/runs", json=body, headers={"Idempotency-Key": "key-2"})
    assert fresh.status_code == 202 and fresh.json()["id"] != first.json()["id"]

    for run_id in (first.json()["id"], fresh.json()["id"]):
        await wait_run(api.client, run_id)
    runs = (await api.client.get("/v1/runs", params={"agent": agent["slug"]})).json()["data"]
    assert sorted(r["id"] for r in runs) == sorted([first.json()["id"], fresh.json()["id"]])


async def test_concurrent_creates_with_one_idempotency_key_make_one_run(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    body = {"agent": agent["slug"], "prompt": "race", "mode": "async"}
    responses = await asyncio.gather(
        *(api.client.post("/v1/runs", json=body, headers={"Idempotency-Key": "race-key"}) for _ in range(6))
    )
    assert [r.status_code for r in responses] == [202] * 6, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    await wait_run(api.client, responses[0].json()["id"])
    runs = (await api.client.get("/v1/runs", params={"agent": agent["slug"]})).json()["data"]
    assert len(runs) == 1


async def test_cancel_a_long_run_stops_it_quickly(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, model="test:sleep-5000")
    run = await run_async(api.client, agent["slug"])
    await wait_status(api.client, run["id"], {"running"})

    started = time.monotonic()
    resp = await api.client.post(f"/v1/runs/{run['id']}/cancel")
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] in ("cancelling", "cancelled")
    done = await wait_status(
        api.client, run["id"], {"cancelled", "completed", "failed", "timed_out"}, timeout=3
    )
    latency = time.monotonic() - started
    print(f"cancel latency: {latency * 1000:.0f} ms")
    assert done["status"] == "cancelled"
    assert done["error"]["code"] == "cancelled"
    assert done["result"] is None

    evts = await events(api.client, run["id"])
    assert_gapless(evts)
    assert evts[-1]["type"] == "run.cancelled"
    assert not TERMINAL_EVENTS & {e["type"] for e in evts[:-1]}, "exactly one terminal event, last"


async def test_cancel_a_finished_run_is_409(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    run = await run_sync(api.client, agent["slug"])
    error = assert_error(await api.client.post(f"/v1/runs/{run['id']}/cancel"), 409, "run_finished")
    assert "completed" in error["message"]
    assert (await api.client.get(f"/v1/runs/{run['id']}")).json()["status"] == "completed"


async def test_cancel_a_queued_run(api) -> None:  # type: ignore[no-untyped-def]
    slow = await create_agent(api.client, model="test:sleep-5000")
    thread = await create_thread(api.client)
    blocker = await run_async(api.client, slow["slug"], thread_id=thread["id"])
    queued = await run_async(api.client, slow["slug"], thread_id=thread["id"])
    await wait_status(api.client, blocker["id"], {"running"})
    assert (await api.client.get(f"/v1/runs/{queued['id']}")).json()["status"] == "queued"

    resp = await api.client.post(f"/v1/runs/{queued['id']}/cancel")
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "cancelled"
    assert resp.json()["started_at"] is None
    assert [e["type"] for e in await events(api.client, queued["id"])] == ["run.queued", "run.cancelled"]
    assert_error(await api.client.post(f"/v1/runs/{queued['id']}/cancel"), 409, "run_finished")

    assert (await api.client.post(f"/v1/runs/{blocker['id']}/cancel")).status_code == 200
    assert (await wait_run(api.client, blocker["id"]))["status"] == "cancelled"
    assert (await api.client.get(f"/v1/runs/{queued['id']}")).json()["started_at"] is None


INT_SCHEMA = {
    "type": "object",
    "properties": {"count": {"type": "integer"}, "label": {"type": "string"}},
    "required": ["count"],
    "additionalProperties": False,
}


async def test_input_schema_refuses_bad_input_with_the_field_named(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, input_schema=INT_SCHEMA)
    slug = agent["slug"]

    wrong_type = await api.client.post("/v1/runs", json={"agent": slug, "input": {"count": "three"}})
    error = assert_error(wrong_type, 422, "input_invalid")
    assert "count" in error["message"] and "integer" in error["message"]
    assert error["details"]["errors"][0]["field"] == "count"

    missing = await api.client.post("/v1/runs", json={"agent": slug, "input": {"label": "x"}})
    assert "count" in assert_error(missing, 422, "input_invalid")["message"]

    extra = await api.client.post("/v1/runs", json={"agent": slug, "input": {"count": 1, "colour": "red"}})
    assert "colour" in assert_error(extra, 422, "input_invalid")["message"]

    assert (await api.client.get("/v1/runs", params={"agent": slug})).json()["data"] == []

    good = await api.client.post("/v1/runs", json={"agent": slug, "input": {"count": 3, "label": "x"}})
    assert good.status_code == 200, good.text
    assert good.json()["status"] == "completed" and good.json()["input"] == {"count": 3, "label": "x"}


async def test_output_schema_per_run_gives_a_json_result(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    run = await run_sync(api.client, agent["slug"], prompt="a city", output_schema=schema)
    assert run["status"] == "completed", run
    assert run["result_type"] == "json"
    assert isinstance(run["result"], dict)
    jsonschema.validate(run["result"], schema)
    assert run["output_schema"] == schema
    terminal = (await events(api.client, run["id"]))[-1]
    assert terminal["type"] == "run.completed" and terminal["data"]["result_type"] == "json"

    plain = await run_sync(api.client, agent["slug"])
    assert plain["result_type"] == "text" and isinstance(plain["result"], str)

    bad = await api.client.post(
        "/v1/runs", json={"agent": agent["slug"], "prompt": "x", "output_schema": {"type": "nonsense"}}
    )
    assert "output_schema" in assert_error(bad, 422, "validation_error")["message"]


async def test_tool_round_trip_records_call_and_result(api) -> None:  # type: ignore[no-untyped-def]
    script = ToolThenAnswer("calculator", {"expression": "6*7"})
    with registered_model(script.model(), "calc") as model:
        agent = await create_agent(api.client, model=model, tools=[{"kind": "builtin", "name": "calculator"}])
        run = await run_sync(api.client, agent["slug"], prompt="what is 6*7?")
    assert run["status"] == "completed", run
    assert run["result"] == "saw: 42"
    assert run["usage"]["tool_calls"] == 1 and run["usage"]["requests"] == 2
    assert run["iterations"] == 2

    evts = await events(api.client, run["id"])
    assert_gapless(evts)
    calls = [e for e in evts if e["type"] == "tool_call"]
    results = [e for e in evts if e["type"] == "tool_result"]
    assert len(calls) == 1 and len(results) == 1
    call, result = calls[0], results[0]
    assert call["data"]["name"] == "calculator" and call["data"]["args"] == {"expression": "6*7"}
    assert call["role"] == "assistant"
    assert result["seq"] > call["seq"]
    assert result["data"]["tool_call_id"] == call["data"]["tool_call_id"]
    assert result["data"]["name"] == "calculator" and result["data"]["ok"] is True
    assert result["content"] == "42" and result["role"] == "tool"
    assert evts[-1]["type"] == "run.completed"


async def test_a_failing_tool_reaches_the_model_and_the_run_completes(api) -> None:  # type: ignore[no-untyped-def]
    script = ToolThenAnswer("boom", {"reason": "on purpose"})
    with registered_model(script.model(), "boom") as model:
        agent = await create_agent(
            api.client, model=model, tools=[{"kind": "python", "ref": "tests.support.tools_for_tests:boom"}]
        )
        run = await run_sync(api.client, agent["slug"], prompt="try the tool")
    assert run["status"] == "completed", run
    assert "boom: on purpose" in run["result"], "the model must have seen the tool's error"
    assert len(script.requests) == 2

    evts = await events(api.client, run["id"])
    results = [e for e in evts if e["type"] == "tool_result"]
    assert len(results) == 1
    result = results[0]
    assert result["data"]["ok"] is False and result["data"]["name"] == "boom"
    assert "RuntimeError" in result["data"]["error"] and "boom: on purpose" in result["data"]["error"]
    assert result["level"] == "warning"
    assert evts[-1]["type"] == "run.completed"
