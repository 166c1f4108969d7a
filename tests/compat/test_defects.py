"""Compat promises outside clients found broken, each driven as that document's client would.

``openai`` agents talk to a local scripted OpenAI-compatible server (so a test can see what the
model was sent); ``test`` agents run on the offline model.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic_ai import models

from tests.compat.conftest import create_agent, poll, unique
from tests.support.fake_openai import FakeOpenAI, Turn
from tests.support.webhook_receiver import Receiver, wait_async

pytestmark = pytest.mark.asyncio(loop_scope="module")

ANSWER = "a short answer"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    # 50 + 20 tokens per request: more than the maxTokens the tests send.
    with FakeOpenAI([Turn(text=ANSWER, usage=(50, 20))]) as server, pytest.MonkeyPatch.context() as patch:
        patch.setattr(models, "ALLOW_MODEL_REQUESTS", True)
        yield server


@pytest.fixture(scope="module")
def compat_settings(fake: FakeOpenAI) -> dict[str, Any]:
    return {
        "providers": {"openai_api_key": "sk-test", "openai_base_url": fake.url},
        "webhooks": {"allow_hosts": ["127.0.0.1"], "backoff_s": [0.05], "retry_for_s": 5.0, "poll_s": 0.05},
    }


def uuid_form(agent_id: str) -> str:
    return str(uuid.UUID(agent_id.removeprefix("agt_")))


async def wait_native(api, run_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return await poll(
        api.client,
        f"/v1/runs/{run_id}",
        lambda b: b["status"] in ("completed", "failed", "cancelled", "timed_out"),
    )


# --- 3: a JSON body whatever the declared content type -------------------------------------------


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", None])
async def test_json_body_is_accepted_whatever_the_content_type(api, content_type) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, slug=unique("ctype"))
    headers = {"Content-Type": content_type} if content_type else {}
    requests = [
        ("/api/runs", {"prompt": "hello there", "provider": "groq", "model": "m"}, 200),
        (f"/v0.1/agents/{agent['id']}/runs", {"input": {"topic": "x"}}, 201),
        (f"/v1/servers/{agent['slug']}/runs", {"prompt": "hi"}, 201),
        ("/v1/run", {"agent": agent["slug"], "prompt": "hi", "stream": False}, 200),
        (f"/v1/agents/{agent['slug']}/run", {"prompt": "hi", "stream": False}, 200),
    ]
    for path, body, expected in requests:
        # what `curl -d '{...}'` sends: the JSON text, declared as a form (or not declared)
        resp = await api.client.post(path, content=json.dumps(body).encode(), headers=headers)
        assert resp.status_code == expected, (path, resp.status_code, resp.text)


async def test_a_body_that_is_not_json_is_still_a_clear_422(api) -> None:  # type: ignore[no-untyped-def]
    resp = await api.client.post(
        "/v1/run", content=b"agent=x&prompt=hi", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "validation_error"


# --- 4: the canonical UUID form of an agent id ------------------------------------------------------


async def test_agent_id_in_uuid_form_is_accepted_everywhere(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, slug=unique("uuidform"))
    for ref in (uuid_form(agent["id"]), uuid_form(agent["id"]).upper(), agent["id"].removeprefix("agt_")):
        got = await api.client.get(f"/v1/agents/{ref}")
        assert got.status_code == 200 and got.json()["id"] == agent["id"], (ref, got.text)
    ref = uuid_form(agent["id"])
    native = await api.client.post("/v1/runs", json={"agent": ref, "prompt": "hi"})
    assert native.status_code == 200 and native.json()["agent_id"] == agent["id"], native.text
    v002 = await api.client.post(f"/v0.1/agents/{ref}/runs", json={"input": {}})
    assert v002.status_code == 201 and v002.json()["agentId"] == agent["id"], v002.text
    acp = await api.client.post(f"/v1/servers/{ref}/runs", json={"prompt": "hi"})
    assert acp.status_code == 201 and acp.json()["run"]["agentId"] == agent["id"], acp.text
    v004 = await api.client.post("/v1/run", json={"agent": ref, "prompt": "hi", "stream": False})
    assert v004.status_code == 200 and v004.json()["data"]["agent"] == agent["slug"], v004.text
    legacy = await api.client.post(
        f"/v1/agents/{agent['slug']}/run", json={"agent": ref, "prompt": "hi", "stream": False}
    )
    assert legacy.status_code == 200, legacy.text
    # an unknown UUID is an unknown agent
    missing = await api.client.get(f"/v1/agents/{uuid.uuid4()}")
    assert missing.status_code == 404


# --- 5: 004 maxTokens is the per-request output limit; a run without threadId gets a thread -------


async def test_max_tokens_is_sent_to_the_model_not_used_as_a_run_budget(api, fake) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, slug=unique("maxtok"), model="openai:gpt-4o-mini")
    before = fake.request_count
    resp = await api.client.post(
        "/v1/run",
        json={"agent": agent["slug"], "prompt": "Be brief.", "stream": False, "config": {"maxTokens": 10}},
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["status"] == "completed", data
    assert data["result"] == ANSWER
    assert data["usage"] == {"inputTokens": 50, "outputTokens": 20}
    sent = fake.requests[before:]
    assert sent and all((r.get("max_completion_tokens") or r.get("max_tokens")) == 10 for r in sent), sent
    native = (await api.client.get(f"/v1/runs/{data['runId']}")).json()
    assert native["config"]["max_tokens"] == 10


async def test_native_max_total_tokens_is_a_budget_that_keeps_the_usage(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, slug=unique("budget"), model="openai:gpt-4o-mini")
    resp = await api.client.post(
        "/v1/runs", json={"agent": agent["slug"], "prompt": "hi", "config": {"max_total_tokens": 10}}
    )
    run = resp.json()
    assert run["status"] == "failed" and run["error"]["code"] == "limit_exceeded", run
    assert run["usage"]["input_tokens"] == 50 and run["usage"]["output_tokens"] == 20


async def test_a_run_without_thread_id_answers_a_thread_to_continue(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, slug=unique("nothread"))
    first = await api.client.post(
        "/v1/run", json={"agent": agent["slug"], "prompt": "first", "stream": False}
    )
    thread_id = first.json()["data"]["threadId"]
    assert isinstance(thread_id, str) and thread_id, first.text
    second = await api.client.post(
        "/v1/run", json={"agent": agent["slug"], "prompt": "second", "threadId": thread_id, "stream": False}
    )
    assert second.json()["data"]["threadId"] == thread_id
    detail = (await api.client.get(f"/v1/run/threads/{thread_id}?agent={agent['slug']}")).json()["data"]
    assert [m["content"] for m in detail["messages"] if m["role"] == "user"] == ["first", "second"]


# --- 6: 001 webhooks in the 001 shape; json_schema implies JSON -------------------------------------


async def test_001_webhook_gets_the_001_response_shape(api) -> None:  # type: ignore[no-untyped-def]
    with Receiver() as receiver:
        resp = await api.client.post(
            "/api/runs",
            json={"prompt": "hello there", "provider": "groq", "model": "m", "webhook_url": receiver.url},
        )
        assert resp.status_code == 200, resp.text
        (got,) = await wait_async(receiver, 1)
    body = json.loads(got.body)
    answer = resp.json()
    assert body["task_id"] == answer["task_id"] and body["task_run_id"] == answer["task_run_id"]
    assert body["status"] == "success" and body["is_done"] is True and body["is_successful"] is True
    assert body["result"] == answer["result"] and body["history"] == answer["history"]
    assert "webhook-signature" in {k.lower() for k in got.headers}


async def test_native_webhook_keeps_the_native_shape(api) -> None:  # type: ignore[no-untyped-def]
    with Receiver() as receiver:
        run = (
            await api.client.post(
                "/v1/runs", json={"agent": "demo", "prompt": "hi", "webhook_url": receiver.url}
            )
        ).json()
        (got,) = await wait_async(receiver, 1)
    body = json.loads(got.body)
    assert body["type"] == "run.completed" and body["data"]["id"] == run["id"]


async def test_json_schema_with_the_default_response_format_means_json(api) -> None:  # type: ignore[no-untyped-def]
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    for given in (schema, json.dumps(schema)):
        resp = await api.client.post(
            "/api/runs", json={"prompt": "answer me", "provider": "groq", "model": "m", "json_schema": given}
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["status"] == "success" and isinstance(body["result"], dict), body
        assert isinstance(body["result"]["answer"], str)
    # an explicit "text" with a schema is still a contradiction
    text = await api.client.post(
        "/api/runs",
        json={
            "prompt": "answer me",
            "provider": "groq",
            "model": "m",
            "json_schema": schema,
            "response_format": "text",
        },
    )
    assert text.status_code == 422


# --- 7: 003 a queued run's thread is active --------------------------------------------------------


async def test_003_queued_run_thread_is_active(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, slug=unique("acpq"), model="test:sleep-3000", max_concurrency=1)
    path = f"/v1/servers/{agent['slug']}/runs"
    first = (await api.client.post(path, json={"prompt": "one", "mode": "async"})).json()
    second = await api.client.post(path, json={"prompt": "two", "mode": "async"})
    try:
        assert second.status_code == 202, second.text
        body = second.json()
        assert body["run"]["status"] == "queued"
        assert body["run"]["threadStatus"] == "active"
        assert body["thread"]["status"] == "active" and body["thread"]["activeRunId"] == body["run"]["id"]
        assert body["thread"]["runCount"] == 1
    finally:
        for run_id in (second.json()["run"]["id"], first["run"]["id"]):
            await api.client.post(f"/v1/runs/{run_id}/cancel")
        for run_id in (second.json()["run"]["id"], first["run"]["id"]):
            await wait_native(api, run_id)
    await asyncio.sleep(0)
