"""Seed 001, the "Run Agent" task API, driven exactly as a client of that document would.

The ``openai`` provider talks to a local scripted OpenAI-compatible server (one tool call, then
an answer), so history and cached workflows have real tool calls; the other providers have no
key here, so the offline test model stands in and says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic_ai import models

from tests.compat.conftest import poll
from tests.support.fake_openai import FakeOpenAI, ToolCall, Turn

pytestmark = pytest.mark.asyncio(loop_scope="module")

ANSWER = "2 + 2 = 4"
ACTION_KEYS = {"name", "params", "is_done", "success", "extracted_content", "error", "include_in_memory"}
RESPONSE_KEYS = {"task_id", "task_run_id", "history", "result", "is_done", "is_successful", "status"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    script = [Turn(tool_calls=[ToolCall("calculator", {"expression": "2 + 2"})]), Turn(text=ANSWER)]
    # Real provider code talks to the local fake only; no test reaches a real LLM.
    with FakeOpenAI(script) as server, pytest.MonkeyPatch.context() as patch:
        patch.setattr(models, "ALLOW_MODEL_REQUESTS", True)
        yield server


@pytest.fixture(scope="module")
def compat_settings(fake: FakeOpenAI) -> dict[str, Any]:
    return {"providers": {"openai_api_key": "sk-test", "openai_base_url": fake.url}}


def assert_shape(body: dict[str, Any]) -> None:
    assert RESPONSE_KEYS <= set(body)
    assert isinstance(body["task_id"], int) and isinstance(body["task_run_id"], int)
    assert 0 < body["task_id"] < 2**53
    assert body["status"] in ("success", "failure", "in_progress")
    assert isinstance(body["history"], list)
    for step in body["history"]:
        assert set(step) == {"description", "actions"}
        assert isinstance(step["description"], str) and step["description"]
        for action in step["actions"]:
            assert set(action) == ACTION_KEYS
            assert isinstance(action["params"], dict)


async def test_documented_example_body_runs_to_success(api, fake) -> None:  # type: ignore[no-untyped-def]
    body = {
        "prompt": "What is 2 + 2?",
        "model": "o3",
        "provider": "openai",
        "wait_for_completion": True,
        "webhook_url": "https://example.com/hooks/agentrun",
        "response_format": "text",
        "use_cached_workflow": True,
        "cached_workflow": {},
    }
    resp = await api.client.post("/api/runs", json=body)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert_shape(out)
    assert out["status"] == "success", out["error"]
    assert out["is_done"] is True and out["is_successful"] is True
    assert out["result"] == ANSWER
    assert fake.requests[-1]["model"] == "o3"
    # history: the tool turn, then the answer as a `done` action
    first, last = out["history"][0], out["history"][-1]
    assert [a["name"] for a in first["actions"]] == ["calculator"]
    call = first["actions"][0]
    assert call["params"] == {"expression": "2 + 2"}
    assert call["success"] is True and call["is_done"] is False and call["extracted_content"] == "4"
    assert last["actions"][-1]["name"] == "done"
    assert last["actions"][-1]["is_done"] is True and last["actions"][-1]["extracted_content"] == ANSWER
    # the empty cached workflow asked for is reported as not replayed
    assert out["cached_workflow_replay"]["requested"] is True
    assert out["cached_workflow_replay"]["replayed_steps"] == 0


async def test_defaults_are_the_documented_ones(api, fake) -> None:  # type: ignore[no-untyped-def]
    resp = await api.client.post("/api/runs", json={"prompt": "What is 2 + 2?"})
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["status"] == "success" and isinstance(out["result"], str)  # text, waited for
    assert fake.requests[-1]["model"] == "o3"  # model o3 on provider openai
    agent = (await api.client.get("/v1/agents/adhoc-openai-o3")).json()
    assert agent["definition"]["model"] == "openai:o3"


async def test_a_provider_without_a_key_runs_the_offline_model_and_says_so(api) -> None:  # type: ignore[no-untyped-def]
    body = {"prompt": "Summarize the news", "provider": "mistral", "model": "mistral-large-latest"}
    resp = await api.client.post("/api/runs", json=body)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["status"] == "success"
    assert out["result"].startswith("[offline test model]")
    assert out["offline"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": "hi"}, "prompt"),
        ({"prompt": "What is 2 + 2?", "provider": "cohere"}, "provider"),
        ({"prompt": "What is 2 + 2?", "response_format": "xml"}, "response_format"),
        ({"prompt": "What is 2 + 2?", "callback": "https://example.com"}, "callback"),
        ({"prompt": "What is 2 + 2?", "response_format": "json", "json_schema": "{not json"}, "json_schema"),
        ({"prompt": "What is 2 + 2?", "use_cached_workflow": True}, "cached_workflow"),
        (
            {"prompt": "What is 2 + 2?", "use_cached_workflow": True, "cached_workflow": {"steps": 3}},
            "cached_workflow",
        ),
    ],
)
async def test_invalid_requests_get_422_naming_the_field(api, body, field) -> None:  # type: ignore[no-untyped-def]
    resp = await api.client.post("/api/runs", json=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["message"].startswith(field)


async def test_no_wait_returns_in_progress_then_the_task_can_be_fetched(api) -> None:  # type: ignore[no-untyped-def]
    resp = await api.client.post("/api/runs", json={"prompt": "What is 2 + 2?", "wait_for_completion": False})
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert_shape(out)
    assert out["status"] == "in_progress"
    assert out["is_done"] is False and out["is_successful"] is None and out["result"] is None
    done = await poll(api.client, f"/api/runs/{out['task_id']}", lambda b: b["status"] != "in_progress")
    assert done["task_id"] == out["task_id"] and done["status"] == "success" and done["result"] == ANSWER
    same = (await api.client.get(f"/api/tasks/{out['task_id']}")).json()
    assert same["task_id"] == out["task_id"] and same["status"] == "success"


async def test_unknown_task_is_404(api) -> None:  # type: ignore[no-untyped-def]
    resp = await api.client.get("/api/runs/12345")
    assert resp.status_code == 404


@pytest.mark.parametrize("as_string", [True, False])
async def test_json_result_against_json_schema(api, as_string) -> None:  # type: ignore[no-untyped-def]
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "integer"}, "unit": {"type": "string"}},
        "required": ["answer", "unit"],
    }
    body = {
        "prompt": "What is 2 + 2? Answer as JSON.",
        "provider": "anthropic",
        "model": "claude-sonnet-4-0",
        "response_format": "json",
        "json_schema": json.dumps(schema) if as_string else schema,
    }
    resp = await api.client.post("/api/runs", json=body)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["status"] == "success"
    assert isinstance(out["result"], dict)
    assert isinstance(out["result"]["answer"], int) and isinstance(out["result"]["unit"], str)
    assert out["history"][-1]["actions"][-1]["name"] == "done"


async def test_cached_workflow_is_recorded_and_accepted_back(api) -> None:  # type: ignore[no-untyped-def]
    first = (await api.client.post("/api/runs", json={"prompt": "What is 2 + 2?"})).json()
    workflow = first["cached_workflow"]
    assert workflow["steps"] == [{"name": "calculator", "params": {"expression": "2 + 2"}, "success": True}]
    again = await api.client.post(
        "/api/runs",
        json={"prompt": "What is 2 + 2?", "use_cached_workflow": True, "cached_workflow": workflow},
    )
    assert again.status_code == 200, again.text
    out = again.json()
    assert out["status"] == "success"
    replay = out["cached_workflow_replay"]
    # Every recorded step still succeeds: replayed without a model call, the tool's result is the answer.
    assert replay == {
        "requested": True,
        "steps": 1,
        "replayed_steps": 1,
        "used_model": False,
        "fell_back_to_model_at_step": None,
    }
    assert out["result"] == "4"
    broken = {"version": 1, "steps": [{"name": "calculator", "params": {"expression": "2 +"}}]}
    fallback = (
        await api.client.post(
            "/api/runs",
            json={"prompt": "What is 2 + 2?", "use_cached_workflow": True, "cached_workflow": broken},
        )
    ).json()
    assert fallback["status"] == "success"
    assert fallback["cached_workflow_replay"]["used_model"] is True
    assert fallback["cached_workflow_replay"]["fell_back_to_model_at_step"] == 2
