"""Seed 002, runs of versioned agents (``/v0.1/agents/{agentId}/runs``), as that document's client.

The research agent's model is the real ``openai`` provider talking to a local scripted server:
it fetches one URL with ``http_get`` (allowed to reach 127.0.0.1 here), then answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic_ai import models

from tests.compat.conftest import create_agent, new_api_key, poll, unique
from tests.support.fake_openai import FakeOpenAI, ToolCall, Turn

pytestmark = pytest.mark.asyncio(loop_scope="module")

STATUSES = {"pending", "running", "done", "error"}
TOPIC_SCHEMA = {
    "type": "object",
    "properties": {"topic": {"type": "string"}},
    "required": ["topic"],
    "additionalProperties": False,
}
ANSWER = "AI in healthcare speeds up diagnosis."


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI([Turn(text=ANSWER)])
    with server, pytest.MonkeyPatch.context() as patch:
        patch.setattr(models, "ALLOW_MODEL_REQUESTS", True)  # the local fake only
        server.turns[:] = [
            Turn(tool_calls=[ToolCall("http_get", {"url": source_url(server)})]),
            Turn(text=ANSWER),
        ]
        yield server


def source_url(server: FakeOpenAI) -> str:
    return server.url.removesuffix("/v1") + "/_stats"


@pytest.fixture(scope="module")
def compat_settings(fake: FakeOpenAI) -> dict[str, Any]:
    return {
        "providers": {"openai_api_key": "sk-test", "openai_base_url": fake.url},
        "tools": {"http_allow_hosts": ["127.0.0.1"]},
    }


async def bearer(api) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {await new_api_key(api.client)}"}


def assert_run_shape(run: dict[str, Any]) -> None:
    for key in ("id", "agentId", "revisionId", "status", "input", "resultData", "createdAt"):
        assert key in run, key
    assert run["status"] in STATUSES


async def test_documented_request_uses_the_published_revision(api, fake) -> None:  # type: ignore[no-untyped-def]
    headers = await bearer(api)
    agent = await create_agent(
        api.client,
        slug=unique("research"),
        model="openai:gpt-4o-mini",
        input_schema=TOPIC_SCHEMA,
        tools=[{"kind": "builtin", "name": "http_get"}],
    )
    resp = await api.client.post(
        f"/v0.1/agents/{agent['id']}/runs", headers=headers, json={"input": {"topic": "AI in healthcare"}}
    )
    assert resp.status_code == 201, resp.text
    run = resp.json()
    assert_run_shape(run)
    assert run["status"] == "pending"
    assert run["input"] == {"topic": "AI in healthcare"}
    assert run["revisionNumber"] == 1 and run["resultData"] is None
    path = f"/v0.1/agents/{agent['id']}/runs/{run['id']}"
    done = await poll(api.client, path, lambda b: b["status"] in ("done", "error"))
    assert done["status"] == "done", done["error"]
    result = done["resultData"]
    assert result["type"] == "text" and result["text"] == ANSWER
    assert result["sources"] == [{"url": source_url(fake)}]
    # the same run by id alone, and in the agent's list
    assert (await api.client.get(f"/v0.1/runs/{run['id']}", headers=headers)).json()["status"] == "done"
    listed = (await api.client.get(f"/v0.1/agents/{agent['slug']}/runs", headers=headers)).json()
    assert [r["id"] for r in listed["data"]] == [run["id"]]
    # events: typed, in order; the tool call carries what it fetched
    events = (await api.client.get(f"{path}/events", headers=headers)).json()["data"]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert {e["type"] for e in events} <= {"planning", "reasoning", "tool_call", "message", "log", "status"}
    calls = [e for e in events if e["type"] == "tool_call"]
    assert len(calls) == 1 and calls[0]["data"]["name"] == "http_get"
    assert calls[0]["data"]["args"] == {"url": source_url(fake)} and calls[0]["data"]["ok"] is True
    assert events[-1]["type"] == "status" and events[-1]["data"]["status"] == "done"


async def test_input_is_validated_against_the_input_schema(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, slug=unique("topic"), input_schema=TOPIC_SCHEMA)
    resp = await api.client.post(f"/v0.1/agents/{agent['id']}/runs", json={"input": {"topic": 42}})
    assert resp.status_code == 422, resp.text
    assert "topic" in resp.json()["error"]["message"]
    missing = await api.client.post(f"/v0.1/agents/{agent['id']}/runs", json={"input": {}})
    assert missing.status_code == 422 and "topic" in missing.json()["error"]["message"]
    no_input = await api.client.post(f"/v0.1/agents/{agent['id']}/runs", json={})
    assert no_input.status_code == 422 and "input" in no_input.json()["error"]["message"]
    unknown = await api.client.post(
        f"/v0.1/agents/{agent['id']}/runs", json={"input": {"topic": "x"}, "revison": 1}
    )
    assert unknown.status_code == 422 and "revison" in unknown.json()["error"]["message"]


async def test_no_published_revision_is_a_clear_409(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, slug=unique("draft"), publish=False)
    resp = await api.client.post(f"/v0.1/agents/{agent['id']}/runs", json={"input": {"topic": "x"}})
    assert resp.status_code == 409, resp.text
    error = resp.json()["error"]
    assert error["code"] == "no_published_revision" and "publish" in error["message"].lower()


async def test_a_revision_can_be_named_by_id_or_number(api) -> None:  # type: ignore[no-untyped-def]
    slug = unique("versions")
    await create_agent(api.client, slug=slug, instructions="v1")
    patched = await api.client.patch(f"/v1/agents/{slug}", json={"instructions": "v2"})
    assert patched.status_code == 200, patched.text
    revisions = (await api.client.get(f"/v1/agents/{slug}/revisions")).json()["data"]
    by_number = {r["number"]: r for r in revisions}
    default = (await api.client.post(f"/v0.1/agents/{slug}/runs", json={"input": {"q": 1}})).json()
    assert default["revisionNumber"] == 1 and default["revisionId"] == by_number[1]["id"]
    named = await api.client.post(
        f"/v0.1/agents/{slug}/runs", json={"input": {"q": 1}, "revisionId": by_number[2]["id"]}
    )
    assert named.status_code == 201, named.text
    assert named.json()["revisionNumber"] == 2 and named.json()["revisionId"] == by_number[2]["id"]
    numbered = await api.client.post(f"/v0.1/agents/{slug}/runs", json={"input": {"q": 1}, "revisionId": 2})
    assert numbered.json()["revisionNumber"] == 2
    missing = await api.client.post(
        f"/v0.1/agents/{slug}/runs", json={"input": {"q": 1}, "revisionId": "rev_does_not_exist"}
    )
    assert missing.status_code == 404
    for run in (default, named.json(), numbered.json()):
        await poll(api.client, f"/v0.1/runs/{run['id']}", lambda b: b["status"] in ("done", "error"))


async def test_json_result_data(api) -> None:  # type: ignore[no-untyped-def]
    schema = {"type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"]}
    agent = await create_agent(api.client, slug=unique("structured"), output_schema=schema)
    run = (await api.client.post(f"/v0.1/agents/{agent['id']}/runs", json={"input": {"topic": "x"}})).json()
    done = await poll(api.client, f"/v0.1/runs/{run['id']}", lambda b: b["status"] in ("done", "error"))
    assert done["status"] == "done"
    assert done["resultData"]["type"] == "json"
    assert isinstance(done["resultData"]["json"]["summary"], str)
    assert done["resultData"]["sources"] == []


async def test_unknown_agent_or_run_is_404_and_keys_scope_projects(api) -> None:  # type: ignore[no-untyped-def]
    assert (await api.client.post("/v0.1/agents/nope/runs", json={"input": {}})).status_code == 404
    assert (await api.client.get("/v0.1/runs/run_nope")).status_code == 404
    agent = await create_agent(api.client, slug=unique("scoped"))
    run = (await api.client.post(f"/v0.1/agents/{agent['id']}/runs", json={"input": {"q": 1}})).json()
    other = {"Authorization": f"Bearer {await new_api_key(api.client, project=unique('other'))}"}
    assert (await api.client.get(f"/v0.1/runs/{run['id']}", headers=other)).status_code == 404
    bad = {"Authorization": "Bearer not-a-key"}
    assert (await api.client.get(f"/v0.1/runs/{run['id']}", headers=bad)).status_code == 401
    await poll(api.client, f"/v0.1/runs/{run['id']}", lambda b: b["status"] in ("done", "error"))


async def test_error_status_word(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, slug=unique("failing"), model="test:sleep-5000")
    run = (await api.client.post(f"/v0.1/agents/{agent['id']}/runs", json={"input": {"q": 1}})).json()
    cancel = await api.client.post(f"/v1/runs/{run['id']}/cancel")
    assert cancel.status_code == 200, cancel.text
    done = await poll(
        api.client, f"/v0.1/runs/{run['id']}", lambda b: b["status"] != "pending" and b["status"] != "running"
    )
    assert done["status"] == "error" and done["resultData"] is None and done["error"]["code"] == "cancelled"
