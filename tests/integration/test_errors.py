"""Errors through the native API: codes, statuses, and one body shape for every failure."""

from __future__ import annotations

import pytest

from tests.support.native_api import assert_error, create_agent, shared_api

pytestmark = pytest.mark.asyncio(loop_scope="module")
api = shared_api()

RUN = "run_00000000000000000000000000000000"
THREAD = "thr_00000000000000000000000000000000"

AGENT = "agt_00000000000000000000000000000000"

# method, path, body, code, the id the message must name
NOT_FOUND = [
    ("GET", f"/v1/runs/{RUN}", None, "run_not_found", RUN),
    ("GET", f"/v1/runs/{RUN}?wait_s=1", None, "run_not_found", RUN),
    ("GET", f"/v1/runs/{RUN}/events", None, "run_not_found", RUN),
    ("POST", f"/v1/runs/{RUN}/cancel", None, "run_not_found", RUN),
    ("GET", "/v1/agents/no-such-agent", None, "agent_not_found", "no-such-agent"),
    ("GET", f"/v1/agents/{AGENT}", None, "agent_not_found", AGENT),
    ("PATCH", "/v1/agents/no-such-agent", {"name": "x"}, "agent_not_found", "no-such-agent"),
    ("POST", "/v1/agents/no-such-agent/archive", None, "agent_not_found", "no-such-agent"),
    ("GET", "/v1/agents/no-such-agent/revisions", None, "agent_not_found", "no-such-agent"),
    ("GET", "/v1/agents/no-such-agent/revisions/1", None, "agent_not_found", "no-such-agent"),
    ("POST", "/v1/agents/no-such-agent/revisions/1/publish", None, "agent_not_found", "no-such-agent"),
    ("POST", "/v1/runs", {"agent": "no-such-agent", "prompt": "hi"}, "agent_not_found", "no-such-agent"),
    ("GET", "/v1/runs?agent=no-such-agent", None, "agent_not_found", "no-such-agent"),
    ("GET", f"/v1/threads/{THREAD}", None, "thread_not_found", THREAD),
    ("DELETE", f"/v1/threads/{THREAD}", None, "thread_not_found", THREAD),
    ("GET", "/v1/threads?agent=no-such-agent", None, "agent_not_found", "no-such-agent"),
    ("POST", "/v1/threads", {"agent": "no-such-agent"}, "agent_not_found", "no-such-agent"),
]


@pytest.mark.parametrize(("method", "path", "body", "code", "ident"), NOT_FOUND)
async def test_unknown_ids_are_404_with_their_code(
    api, method: str, path: str, body, code: str, ident: str
) -> None:  # type: ignore[no-untyped-def]
    resp = await api.client.request(method, path, json=body)
    error = assert_error(resp, 404, code)
    assert ident in error["message"], "the message must name what was not found"


async def test_unknown_run_event_stream_is_404_before_streaming(api) -> None:  # type: ignore[no-untyped-def]
    resp = await api.client.get(f"/v1/runs/{RUN}/events", headers={"Accept": "text/event-stream"})
    assert_error(resp, 404, "run_not_found")


async def test_unknown_fields_are_422_naming_the_field(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    cases = [
        ("POST", "/v1/runs", {"agent": agent["slug"], "prompt": "hi", "temprature": 0.5}, "temprature"),
        (
            "POST",
            "/v1/runs",
            {"agent": agent["slug"], "prompt": "hi", "config": {"max_turn": 3}},
            "config.max_turn",
        ),
        ("POST", "/v1/agents", {"slug": "typo-agent", "model": "test", "instruction": "x"}, "instruction"),
        ("PATCH", f"/v1/agents/{agent['slug']}", {"nmae": "x"}, "nmae"),
        ("POST", "/v1/threads", {"titel": "x"}, "titel"),
        (
            "POST",
            "/v1/agents",
            {"slug": "typo-tool", "tools": [{"kind": "builtin", "name": "x", "nam": 1}]},
            "nam",
        ),
    ]
    for method, path, body, field in cases:
        resp = await api.client.request(method, path, json=body)
        error = assert_error(resp, 422, "validation_error")
        assert field in error["message"], (field, error)
        assert "unknown field" in error["message"]
        assert any(d["field"].endswith(field) for d in error["details"]), error["details"]
    assert_error(await api.client.get("/v1/agents/typo-agent"), 404, "agent_not_found")
    assert (await api.client.get("/v1/runs", params={"agent": agent["slug"]})).json()["data"] == []


async def test_invalid_json_is_422(api) -> None:  # type: ignore[no-untyped-def]
    for path in ("/v1/runs", "/v1/agents", "/v1/threads"):
        resp = await api.client.post(
            path, content=b'{"agent": "demo", "prompt": ', headers={"Content-Type": "application/json"}
        )
        error = assert_error(resp, 422, "validation_error")
        assert "JSON" in error["message"]


async def test_body_of_the_wrong_type_is_422(api) -> None:  # type: ignore[no-untyped-def]
    assert_error(await api.client.post("/v1/runs", json=["demo", "hi"]), 422, "validation_error")
    assert_error(
        await api.client.post("/v1/runs", json={"agent": "demo", "prompt": 5}), 422, "validation_error"
    )
    mode = await api.client.post("/v1/runs", json={"agent": "demo", "prompt": "hi", "mode": "later"})
    assert "mode" in assert_error(mode, 422, "validation_error")["message"]
    config = await api.client.post(
        "/v1/runs", json={"agent": "demo", "prompt": "hi", "config": {"max_turns": 0}}
    )
    assert "config.max_turns" in assert_error(config, 422, "validation_error")["message"]
    model = await api.client.post("/v1/agents", json={"slug": "bad-model", "model": "gpt4"})
    assert "model" in assert_error(model, 422, "validation_error")["message"]


@pytest.mark.parametrize(
    "inputs",
    [
        {"prompt": "hi", "input": {"a": 1}},
        {"prompt": "hi", "messages": [{"role": "user", "content": "hi"}]},
        {},
        {"messages": []},
    ],
)
async def test_exactly_one_input_form(api, inputs: dict) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    resp = await api.client.post("/v1/runs", json={"agent": agent["slug"], **inputs})
    error = assert_error(resp, 422, "validation_error")
    expected = "must not be empty" if inputs == {"messages": []} else "exactly one of prompt, input, messages"
    assert expected in error["message"], error
    assert (await api.client.get("/v1/runs", params={"agent": agent["slug"]})).json()["data"] == []


async def test_unknown_route_and_method_use_the_same_shape(api) -> None:  # type: ignore[no-untyped-def]
    error = assert_error(await api.client.get("/v1/nothing-here"), 404, "not_found")
    assert "/docs" in error["message"]
    assert_error(await api.client.post("/v1/runs/abc/nope"), 404, "not_found")
    assert_error(await api.client.delete("/v1/runs"), 405, "invalid_request")


async def test_bad_last_event_id_is_400(api) -> None:  # type: ignore[no-untyped-def]
    run = (await api.client.post("/v1/runs", json={"agent": "demo", "prompt": "hi"})).json()
    resp = await api.client.get(
        f"/v1/runs/{run['id']}/events", headers={"Accept": "text/event-stream", "Last-Event-ID": "seven"}
    )
    assert "Last-Event-ID" in assert_error(resp, 400, "invalid_request")["message"]
