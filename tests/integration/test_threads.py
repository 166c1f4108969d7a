"""Threads through the native API: CRUD, continuing a conversation, one active run per thread."""

from __future__ import annotations

import asyncio

import pytest
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart

from tests.support.native_api import (
    Recorder,
    all_pages,
    assert_error,
    create_agent,
    create_thread,
    events,
    registered_model,
    run_async,
    run_sync,
    shared_api,
    wait_run,
    wait_status,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
api = shared_api()


def conversation_of(messages: list) -> list[tuple[str, str]]:
    """What a model request carried, as (role, text) pairs in order."""
    turns = []
    for message in messages:
        for part in message.parts:
            if isinstance(message, ModelRequest) and isinstance(part, UserPromptPart):
                turns.append(("user", part.content))
            elif isinstance(message, ModelResponse) and isinstance(part, TextPart):
                turns.append(("assistant", part.content))
    return turns


async def test_create_get_list_and_delete(api) -> None:  # type: ignore[no-untyped-def]
    a = await create_agent(api.client)
    b = await create_agent(api.client)
    resp = await api.client.post(
        "/v1/threads", json={"agent": a["slug"], "title": "Support", "metadata": {"customer": 7}}
    )
    assert resp.status_code == 201, resp.text
    thread = resp.json()
    assert thread["id"].startswith("thr_")
    assert (
        thread["agent_id"] == a["id"]
        and thread["title"] == "Support"
        and thread["metadata"] == {"customer": 7}
    )
    assert thread["run_count"] == 0 and thread["active_run_id"] is None

    detail = await api.client.get(f"/v1/threads/{thread['id']}")
    assert detail.status_code == 200
    assert detail.json()["messages"] == [] and detail.json()["title"] == "Support"

    more_a = [await create_thread(api.client, agent=a["id"]) for _ in range(2)]
    other = await create_thread(api.client, agent=b["slug"])
    pages = await all_pages(api.client, "/v1/threads", limit=2, agent=a["slug"])
    listed = [t["id"] for page in pages for t in page]
    assert listed == [t["id"] for t in reversed([thread, *more_a])], "newest first, only agent a's, no dupes"
    assert [len(p) for p in pages] == [2, 1]
    everything = [t["id"] for page in await all_pages(api.client, "/v1/threads", limit=2) for t in page]
    assert len(everything) == len(set(everything))
    assert {thread["id"], other["id"], *(t["id"] for t in more_a)} <= set(everything)

    deleted = await api.client.delete(f"/v1/threads/{thread['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(await api.client.get(f"/v1/threads/{thread['id']}"), 404, "thread_not_found")
    assert_error(await api.client.delete(f"/v1/threads/{thread['id']}"), 404, "thread_not_found")
    remaining = [
        t["id"]
        for page in await all_pages(api.client, "/v1/threads", limit=50, agent=a["slug"])
        for t in page
    ]
    assert thread["id"] not in remaining

    assert_error(
        await api.client.post("/v1/threads", json={"agent": "no-such-agent"}), 404, "agent_not_found"
    )


async def test_a_run_on_a_thread_continues_the_conversation(api) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder(lambda n: f"answer {n}")
    with registered_model(recorder.model(), "memory") as model:
        agent = await create_agent(api.client, model=model)
        thread = await create_thread(api.client, agent=agent["slug"])
        other = await create_thread(api.client, agent=agent["slug"])
        first = await run_sync(api.client, agent["slug"], prompt="my name is Ada", thread_id=thread["id"])
        second = await run_sync(api.client, agent["slug"], prompt="what is my name?", thread_id=thread["id"])
        elsewhere = await run_sync(api.client, agent["slug"], prompt="who am I?", thread_id=other["id"])
    assert first["result"] == "answer 1" and second["result"] == "answer 2"
    assert second["thread_id"] == thread["id"]

    assert conversation_of(recorder.requests[0]) == [("user", "my name is Ada")]
    assert conversation_of(recorder.requests[1]) == [
        ("user", "my name is Ada"),
        ("assistant", "answer 1"),
        ("user", "what is my name?"),
    ], "the second run's model must receive the first run's prompt and answer, in order"
    assert conversation_of(recorder.requests[2]) == [("user", "who am I?")], "threads must not leak"
    assert elsewhere["result"] == "answer 3"

    detail = (await api.client.get(f"/v1/threads/{thread['id']}")).json()
    assert [(m["role"], m["content"], m["run_id"]) for m in detail["messages"]] == [
        ("user", "my name is Ada", first["id"]),
        ("assistant", "answer 1", first["id"]),
        ("user", "what is my name?", second["id"]),
        ("assistant", "answer 2", second["id"]),
    ]
    assert detail["run_count"] == 2 and detail["active_run_id"] is None


async def test_unknown_thread_id_is_404(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    resp = await api.client.post(
        "/v1/runs", json={"agent": agent["slug"], "prompt": "x", "thread_id": "thr_nope"}
    )
    error = assert_error(resp, 404, "thread_not_found")
    assert "thr_nope" in error["message"]
    assert (await api.client.get("/v1/runs", params={"agent": agent["slug"]})).json()["data"] == []


async def test_delete_with_an_active_run_is_409_thread_busy(api) -> None:  # type: ignore[no-untyped-def]
    slow = await create_agent(api.client, model="test:sleep-5000")
    fast = await create_agent(api.client)
    thread = await create_thread(api.client)
    finished = await run_sync(api.client, fast["slug"], thread_id=thread["id"])
    run = await run_async(api.client, slow["slug"], thread_id=thread["id"])
    await wait_status(api.client, run["id"], {"running"})
    assert (await api.client.get(f"/v1/threads/{thread['id']}")).json()["active_run_id"] == run["id"]

    error = assert_error(await api.client.delete(f"/v1/threads/{thread['id']}"), 409, "thread_busy")
    assert error["details"]["run_ids"] == [run["id"]]
    assert (await api.client.get(f"/v1/threads/{thread['id']}")).status_code == 200

    assert (await api.client.post(f"/v1/runs/{run['id']}/cancel")).status_code == 200
    assert (await wait_run(api.client, run["id"]))["status"] == "cancelled"
    assert (await api.client.delete(f"/v1/threads/{thread['id']}")).status_code == 204
    assert_error(await api.client.get(f"/v1/runs/{finished['id']}"), 404, "run_not_found")


async def test_enqueued_runs_on_one_thread_run_one_at_a_time_in_order(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, model="test:sleep-300")
    thread = await create_thread(api.client)
    responses = await asyncio.gather(
        *(
            api.client.post(
                "/v1/runs",
                json={
                    "agent": agent["slug"],
                    "prompt": f"job {i}",
                    "mode": "async",
                    "thread_id": thread["id"],
                    "multitask": "enqueue",
                },
            )
            for i in range(6)
        )
    )
    assert [r.status_code for r in responses] == [202] * 6, [r.text for r in responses]
    runs = [await wait_run(api.client, r.json()["id"]) for r in responses]
    assert [r["status"] for r in runs] == ["completed"] * 6

    in_creation_order = sorted(runs, key=lambda r: (r["created_at"], r["id"]))
    for before, after in zip(in_creation_order, in_creation_order[1:], strict=False):
        assert before["started_at"] < before["finished_at"]
        assert before["finished_at"] <= after["started_at"], (
            f"{after['id']} started before {before['id']} (created earlier) finished"
        )
    detail = (await api.client.get(f"/v1/threads/{thread['id']}")).json()
    users = [m["content"] for m in detail["messages"] if m["role"] == "user"]
    assert users == [r["prompt"] for r in in_creation_order]


async def test_multitask_reject_refuses_a_second_run(api) -> None:  # type: ignore[no-untyped-def]
    slow = await create_agent(api.client, model="test:sleep-5000")
    thread = await create_thread(api.client)
    body = {
        "agent": slow["slug"],
        "prompt": "x",
        "mode": "async",
        "thread_id": thread["id"],
        "multitask": "reject",
    }
    active = await api.client.post("/v1/runs", json=body)
    assert active.status_code == 202, active.text
    await wait_status(api.client, active.json()["id"], {"running"})

    refused = await api.client.post("/v1/runs", json=body)
    error = assert_error(refused, 409, "thread_busy")
    assert error["details"]["active_run_id"] == active.json()["id"]

    assert (await api.client.post(f"/v1/runs/{active.json()['id']}/cancel")).status_code == 200
    await wait_run(api.client, active.json()["id"])
    runs = (await api.client.get("/v1/runs", params={"thread_id": thread["id"]})).json()["data"]
    assert [r["id"] for r in runs] == [active.json()["id"]]


async def test_concurrent_rejecting_creates_on_an_idle_thread_accept_exactly_one(api) -> None:  # type: ignore[no-untyped-def]
    slow = await create_agent(api.client, model="test:sleep-5000")
    thread = await create_thread(api.client)
    body = {
        "agent": slow["slug"],
        "prompt": "x",
        "mode": "async",
        "thread_id": thread["id"],
        "multitask": "reject",
    }
    responses = await asyncio.gather(*(api.client.post("/v1/runs", json=body) for _ in range(6)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [202] + [409] * 5, [r.text for r in responses]
    for r in responses:
        if r.status_code == 409:
            assert_error(r, 409, "thread_busy")
    accepted = next(r.json() for r in responses if r.status_code == 202)
    runs = (await api.client.get("/v1/runs", params={"thread_id": thread["id"]})).json()["data"]
    assert [r["id"] for r in runs] == [accepted["id"]]
    assert (await api.client.post(f"/v1/runs/{accepted['id']}/cancel")).status_code == 200
    assert (await wait_run(api.client, accepted["id"]))["status"] == "cancelled"


async def test_multitask_interrupt_cancels_the_active_run_and_runs_the_new_one(api) -> None:  # type: ignore[no-untyped-def]
    slow = await create_agent(api.client, model="test:sleep-5000")
    fast = await create_agent(api.client)
    thread = await create_thread(api.client)
    old = await run_async(api.client, slow["slug"], prompt="long", thread_id=thread["id"])
    await wait_status(api.client, old["id"], {"running"})

    new = await run_async(
        api.client, fast["slug"], prompt="now", thread_id=thread["id"], multitask="interrupt"
    )
    done_new = await wait_run(api.client, new["id"])
    done_old = await wait_run(api.client, old["id"])
    assert done_old["status"] == "cancelled" and done_old["error"]["code"] == "cancelled"
    old_events = await events(api.client, old["id"])
    assert old_events[-1]["type"] == "run.cancelled"
    assert any("interrupted" in (e["content"] or "") for e in old_events), "the log says why it was cancelled"
    assert done_new["status"] == "completed"
    assert done_old["finished_at"] <= done_new["started_at"]
