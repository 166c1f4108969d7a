"""The MCP tools over streamable HTTP at /mcp of a real server, driven by the official client."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from mcp import Client
from tests.mcp.conftest import create_agent, mcp_client
from tests.support.live import LiveServer

pytestmark = pytest.mark.slow

TOOLS = {"run_agent", "get_run_status", "get_run_logs", "list_agents", "cancel_run", "answer_run"}
# Slow enough that it cannot finish between two tool calls even on a loaded machine; the tests
# cancel it (the offline model's sleep stops at once on cancel).
SLOW_MODEL = "test:sleep-60000"
RUN_AGENT_DOC = (
    "Start an asynchronous agent run and return immediately.\n\n"
    "Returns an execution_id — use get_run_status to poll for completion or get_run_logs to fetch "
    "the full output once done."
)


async def ok(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def error_text(client: Client, tool: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error, result.structured_content
    return " ".join(getattr(c, "text", "") for c in result.content)


async def wait_done(client: Client, execution_id: str) -> dict[str, Any]:
    while True:
        status = await ok(client, "get_run_status", {"execution_id": execution_id})
        if status["done"]:
            return status
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_tools_have_the_documented_names_and_params(open_server: LiveServer, mode: str) -> None:
    async with mcp_client(open_server, mode=mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    run_agent = tools["run_agent"]
    assert run_agent.description is not None and run_agent.description.startswith(RUN_AGENT_DOC)
    schema = run_agent.input_schema
    assert set(schema["properties"]) == {"agent_id", "prompt", "thread_id", "params"}
    assert sorted(schema["required"]) == ["agent_id", "prompt"]
    for name in ("get_run_status", "get_run_logs", "cancel_run"):
        assert set(tools[name].input_schema["properties"]) == {"execution_id"}
        assert tools[name].input_schema["required"] == ["execution_id"]
    assert tools["list_agents"].input_schema.get("required", []) == []


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_run_agent_then_poll_status_to_the_result(open_server: LiveServer, mode: str) -> None:
    async with mcp_client(open_server, mode=mode) as client:
        started = await ok(client, "run_agent", {"agent_id": "demo", "prompt": "hello over mcp"})
        assert started["execution_id"].startswith("run_")
        assert started["status"] == "queued"
        assert started["agent_slug"] == "demo"
        done = await wait_done(client, started["execution_id"])
    assert done["status"] == "completed"
    assert done["error"] is None
    assert "[offline test model]" in done["result"] and "hello over mcp" in done["result"]
    assert done["usage"]["requests"] >= 1 and done["usage"]["output_tokens"] > 0
    # The same run through the native API: one run, one truth.
    native = httpx.get(f"{open_server.url}/v1/runs/{started['execution_id']}").json()
    assert native["status"] == "completed" and native["result"] == done["result"]


async def test_run_agent_returns_while_a_slow_run_is_still_going(open_server: LiveServer) -> None:
    slug = create_agent(open_server, SLOW_MODEL)
    async with mcp_client(open_server) as client:
        started = await ok(client, "run_agent", {"agent_id": slug, "prompt": "take your time"})
        status = await ok(client, "get_run_status", {"execution_id": started["execution_id"]})
        assert status["status"] in ("queued", "running")
        assert status["done"] is False and status["result"] is None
        await ok(client, "cancel_run", {"execution_id": started["execution_id"]})
        assert (await wait_done(client, started["execution_id"]))["status"] == "cancelled"


async def test_get_run_logs_returns_the_ordered_event_log(open_server: LiveServer) -> None:
    async with mcp_client(open_server) as client:
        started = await ok(client, "run_agent", {"agent_id": "demo", "prompt": "log me"})
        done = await wait_done(client, started["execution_id"])
        logs = await ok(client, "get_run_logs", {"execution_id": started["execution_id"]})
    events = logs["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "run.queued" and events[-1]["type"] == "run.completed"
    messages = [e for e in events if e["type"] == "message"]
    assert len(messages) == 1 and messages[0]["content"] == done["result"]
    assert logs["output"] == done["result"] and logs["done"] is True and logs["truncated"] is False
    native = httpx.get(f"{open_server.url}/v1/runs/{started['execution_id']}/events").json()["data"]
    assert [(e["seq"], e["type"]) for e in native] == [(e["seq"], e["type"]) for e in events]


async def test_cancel_run_cancels_a_slow_run(open_server: LiveServer) -> None:
    slug = create_agent(open_server, SLOW_MODEL)
    async with mcp_client(open_server) as client:
        started = await ok(client, "run_agent", {"agent_id": slug, "prompt": "never mind"})
        cancelled = await ok(client, "cancel_run", {"execution_id": started["execution_id"]})
        assert cancelled["status"] in ("cancelling", "cancelled")
        final = await wait_done(client, started["execution_id"])
        assert final["status"] == "cancelled"
        assert final["error"]["code"] == "cancelled"
        again = await error_text(client, "cancel_run", {"execution_id": started["execution_id"]})
    assert "already finished as cancelled" in again


async def test_list_agents_includes_demo_and_new_agents(open_server: LiveServer) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    slug = create_agent(open_server, "test", input_schema=schema)
    async with mcp_client(open_server) as client:
        agents = {a["slug"]: a for a in (await ok(client, "list_agents", {}))["agents"]}
    assert agents["demo"]["model"] == "test"
    assert agents[slug]["input_schema"] == schema


async def test_invalid_ids_are_tool_errors_naming_the_id(open_server: LiveServer) -> None:
    async with mcp_client(open_server) as client:
        text = await error_text(client, "run_agent", {"agent_id": "no-such-agent", "prompt": "hi"})
        assert "no-such-agent" in text and "No agent" in text
        for tool in ("get_run_status", "get_run_logs", "cancel_run"):
            text = await error_text(client, tool, {"execution_id": "run_doesnotexist"})
            assert "No run with id 'run_doesnotexist'" in text, (tool, text)
        text = await error_text(client, "run_agent", {"agent_id": "demo"})
        assert "prompt" in text and "required" in text
        # The connection is still fine after the errors.
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS


async def test_params_map_onto_the_native_run(open_server: LiveServer) -> None:
    params = {
        "config": {"max_turns": 3, "temperature": 0.5},
        "metadata": {"caller": "mcp-test"},
        "revision": 1,
    }
    async with mcp_client(open_server) as client:
        started = await ok(
            client, "run_agent", {"agent_id": "demo", "prompt": "configured", "params": params}
        )
        await wait_done(client, started["execution_id"])
    native = httpx.get(f"{open_server.url}/v1/runs/{started['execution_id']}").json()
    assert native["config"]["max_turns"] == 3 and native["config"]["temperature"] == 0.5
    assert native["metadata"] == {"caller": "mcp-test"}
    assert native["revision"] == 1 and native["mode"] == "async"


async def test_bad_params_are_tool_errors_that_say_what_is_wrong(open_server: LiveServer) -> None:
    async with mcp_client(open_server) as client:
        base = {"agent_id": "demo", "prompt": "hi"}
        text = await error_text(client, "run_agent", {**base, "params": {"temperature": 5}})
        assert "params.config.temperature" in text
        text = await error_text(client, "run_agent", {**base, "params": {"config": {"max_turns": 0}}})
        assert "params.config.max_turns" in text
        text = await error_text(client, "run_agent", {**base, "params": {"config": {"turns": 2}}})
        assert "params.config.turns" in text and "unknown field" in text
        text = await error_text(client, "run_agent", {**base, "params": {"input": {"a": 1}}})
        assert "either prompt or params.input" in text
        text = await error_text(client, "run_agent", {"agent_id": "demo", "prompt": "  "})
        assert "prompt" in text
        text = await error_text(client, "run_agent", {**base, "params": {"revision": 99}})
        assert "99" in text


async def test_params_input_is_validated_against_the_agent_input_schema(open_server: LiveServer) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    slug = create_agent(open_server, "test", input_schema=schema)
    async with mcp_client(open_server) as client:
        text = await error_text(
            client, "run_agent", {"agent_id": slug, "prompt": "", "params": {"input": {}}}
        )
        assert "city" in text
        started = await ok(
            client, "run_agent", {"agent_id": slug, "prompt": "", "params": {"input": {"city": "Lyon"}}}
        )
        done = await wait_done(client, started["execution_id"])
    assert done["status"] == "completed" and "Lyon" in done["result"]


async def test_thread_id_starts_then_continues_a_thread(open_server: LiveServer) -> None:
    thread_id = str(uuid.uuid4())
    async with mcp_client(open_server) as client:
        first = await ok(client, "run_agent", {"agent_id": "demo", "prompt": "first", "thread_id": thread_id})
        assert first["thread_id"] == thread_id
        await wait_done(client, first["execution_id"])
        second = await ok(
            client, "run_agent", {"agent_id": "demo", "prompt": "second", "thread_id": thread_id}
        )
        await wait_done(client, second["execution_id"])
        text = await error_text(
            client, "run_agent", {"agent_id": "demo", "prompt": "x", "thread_id": "bad id!"}
        )
        assert "'bad id!'" in text
    thread = httpx.get(f"{open_server.url}/v1/threads/{thread_id}").json()
    assert thread["run_count"] == 2
    user_messages = [m["content"] for m in thread["messages"] if m["role"] == "user"]
    assert user_messages == ["first", "second"]


async def test_runs_started_with_the_same_idempotency_key_are_one_run(open_server: LiveServer) -> None:
    args = {"agent_id": "demo", "prompt": "once", "params": {"idempotency_key": uuid.uuid4().hex}}
    async with mcp_client(open_server) as client:
        first = await ok(client, "run_agent", args)
        second = await ok(client, "run_agent", args)
        assert first["execution_id"] == second["execution_id"]
        text = await error_text(client, "run_agent", {**args, "prompt": "another body"})
    assert "Idempotency-Key" in text


async def test_get_on_the_stateless_endpoint_is_405_not_a_hanging_stream(open_server: LiveServer) -> None:
    for accept in ("*/*", "text/event-stream"):
        resp = httpx.get(f"{open_server.url}/mcp", headers={"Accept": accept}, timeout=10)
        assert resp.status_code == 405 and resp.headers["allow"] == "POST"
        assert "stateless" in resp.json()["error"]["message"]
    assert httpx.get(f"{open_server.url}/v1/agents/demo").status_code == 200
