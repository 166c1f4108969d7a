"""Seed 004, ``POST /v1/run`` with server-managed threads, as that document's client.

Auth is the document's ``X-API-Key`` header with a project key.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.compat.conftest import create_agent, new_api_key, unique

pytestmark = pytest.mark.asyncio(loop_scope="module")

DATA_FIELDS = {
    "runId": str,
    "status": str,
    "result": str,
    "usage": dict,
    "iterations": int,
    "executionMode": str,
}


async def key_headers(api) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"X-API-Key": await new_api_key(api.client)}


async def code_assistant(api) -> str:  # type: ignore[no-untyped-def]
    return (await create_agent(api.client, slug=unique("code-assistant")))["slug"]


def assert_data(body: dict[str, Any]) -> dict[str, Any]:
    assert set(body) == {"data"}
    data = body["data"]
    for field, kind in DATA_FIELDS.items():
        assert isinstance(data[field], kind), (field, data.get(field))
    assert "sandboxId" in data and "threadId" in data
    assert isinstance(data["usage"]["inputTokens"], int) and isinstance(data["usage"]["outputTokens"], int)
    return data


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    messages = []
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith(":")]
        if not lines:
            continue
        fields = dict(line.split(": ", 1) for line in lines)
        messages.append((fields.get("event", "message"), json.loads(fields["data"])))
    return messages


async def test_documented_example_returns_the_data_envelope(api) -> None:  # type: ignore[no-untyped-def]
    headers = await key_headers(api)
    agent = await code_assistant(api)
    body = {
        "agent": agent,
        "prompt": "Run the tests and summarize failures.",
        "stream": False,
        "config": {"maxTurns": 12},
    }
    resp = await api.client.post("/v1/run", headers=headers, json=body)
    assert resp.status_code == 200, resp.text
    data = assert_data(resp.json())
    assert data["status"] == "completed"
    assert data["result"].startswith("[offline test model]")
    assert data["iterations"] >= 1 and data["usage"]["inputTokens"] > 0
    assert data["threadId"].startswith("thr_")  # a new thread, to continue with threadId
    native = (await api.client.get(f"/v1/runs/{data['runId']}")).json()
    assert native["config"]["max_turns"] == 12


async def test_stream_is_the_default_and_ends_with_the_data_envelope(api) -> None:  # type: ignore[no-untyped-def]
    agent = await code_assistant(api)
    resp = await api.client.post(
        "/v1/run", headers=await key_headers(api), json={"agent": agent, "prompt": "Say hi."}
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/event-stream")
    messages = parse_sse(resp.text)
    names = [name for name, _ in messages]
    assert names[0] == "run.queued" and names[-2] == "run.completed" and names[-1] == "done"
    assert "message.delta" in names and "message" in names
    seqs = [data["seq"] for name, data in messages[:-1]]
    assert seqs == list(range(1, len(seqs) + 1))
    final = assert_data(messages[-1][1])
    assert final["status"] == "completed"
    answer = next(data for name, data in messages if name == "message")
    assert answer["content"] == final["result"] and answer["runId"] == final["runId"]


async def test_thread_id_creates_then_continues_a_thread(api) -> None:  # type: ignore[no-untyped-def]
    headers = await key_headers(api)
    agent = await code_assistant(api)
    thread_id = unique("thr")
    first = await api.client.post(
        "/v1/run",
        headers=headers,
        json={"agent": agent, "prompt": "first", "threadId": thread_id, "stream": False},
    )
    assert first.status_code == 200, first.text
    assert first.json()["data"]["threadId"] == thread_id
    second = await api.client.post(
        "/v1/run",
        headers=headers,
        json={
            "agent": agent,
            "prompt": "second",
            "threadId": thread_id,
            "stream": False,
            "metadata": {"k": "v"},
        },
    )
    assert assert_data(second.json())["threadId"] == thread_id
    native = (await api.client.get(f"/v1/runs/{second.json()['data']['runId']}")).json()
    assert native["metadata"] == {"k": "v"}
    # thread APIs, as the document's SDK calls them
    threads = await api.client.get(f"/v1/run/threads?agent={agent}", headers=headers)
    assert threads.status_code == 200, threads.text
    listed = threads.json()["data"]
    assert [t["id"] for t in listed] == [thread_id]
    detail = await api.client.get(f"/v1/run/threads/{listed[0]['id']}?agent={agent}", headers=headers)
    assert detail.status_code == 200, detail.text
    messages = detail.json()["data"]["messages"]
    assert [(m["role"], m["content"][:6]) for m in messages[::2]] == [("user", "first"), ("user", "second")]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    deleted = await api.client.delete(f"/v1/run/threads/{thread_id}?agent={agent}", headers=headers)
    assert deleted.status_code == 200 and deleted.json()["data"]["deleted"] is True
    gone = await api.client.get(f"/v1/run/threads/{thread_id}?agent={agent}", headers=headers)
    assert gone.status_code == 404
    assert (await api.client.get(f"/v1/run/threads?agent={agent}", headers=headers)).json()["data"] == []


async def test_a_thread_is_found_under_its_own_agent_only(api) -> None:  # type: ignore[no-untyped-def]
    agent, other = await code_assistant(api), await code_assistant(api)
    thread_id = unique("thr")
    await api.client.post(
        "/v1/run", json={"agent": agent, "prompt": "hi", "threadId": thread_id, "stream": False}
    )
    assert (await api.client.get(f"/v1/run/threads/{thread_id}?agent={other}")).status_code == 404
    assert (await api.client.get(f"/v1/run/threads?agent={other}")).json()["data"] == []


async def test_messages_instead_of_prompt(api) -> None:  # type: ignore[no-untyped-def]
    agent = await code_assistant(api)
    messages = [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Hello Ada."},
        {"role": "user", "content": "What is my name?"},
    ]
    resp = await api.client.post("/v1/run", json={"agent": agent, "messages": messages, "stream": False})
    assert resp.status_code == 200, resp.text
    data = assert_data(resp.json())
    assert data["status"] == "completed" and "What is my name?" in data["result"]


async def test_legacy_per_agent_endpoint_has_the_same_shape(api) -> None:  # type: ignore[no-untyped-def]
    agent = await code_assistant(api)
    resp = await api.client.post(
        f"/v1/agents/{agent}/run",
        headers=await key_headers(api),
        json={"prompt": "Run the tests and summarize failures.", "stream": False, "config": {"maxTurns": 12}},
    )
    assert resp.status_code == 200, resp.text
    assert assert_data(resp.json())["status"] == "completed"
    clash = await api.client.post(
        f"/v1/agents/{agent}/run", json={"agent": "demo", "prompt": "x", "stream": False}
    )
    assert clash.status_code == 422 and clash.json()["error"]["message"].startswith("agent")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"stream": False}, "prompt"),
        ({"prompt": "a", "messages": [{"role": "user", "content": "b"}], "stream": False}, "prompt"),
        ({"prompt": "a", "config": {"maxTurns": 0}}, "config.maxTurns"),
        ({"prompt": "a", "config": {"max_turns": 3}}, "config.max_turns"),
        ({"prompt": "a", "sandbox": True}, "sandbox"),
        ({"prompt": "a", "threadId": "t" * 65}, "threadId"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages.0.role"),
    ],
)
async def test_invalid_requests_are_422(api, body, field) -> None:  # type: ignore[no-untyped-def]
    resp = await api.client.post("/v1/run", json={"agent": "demo", **body})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["message"].startswith(field)


async def test_unknown_agent_is_404_and_a_bad_key_401(api) -> None:  # type: ignore[no-untyped-def]
    assert (
        await api.client.post("/v1/run", json={"agent": "nope", "prompt": "x", "stream": False})
    ).status_code == 404
    bad = await api.client.post(
        "/v1/run", headers={"X-API-Key": "wrong"}, json={"agent": "demo", "prompt": "x", "stream": False}
    )
    assert bad.status_code == 401
