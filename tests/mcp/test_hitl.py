"""MCP: get_run_status shows what a waiting run waits for, and answer_run answers it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.mcp.conftest import START_TIMEOUT_S, create_agent, mcp_client
from tests.mcp.test_http import error_text, ok, wait_done
from tests.support.fake_openai import FakeOpenAI, ToolCall, Turn
from tests.support.live import LiveServer


@pytest.fixture(scope="module")
def scripted_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    script = [Turn(tool_calls=[ToolCall("calculator", {"expression": "3*3"})]), Turn(text="nine")]
    with FakeOpenAI(script) as fake:
        server = LiveServer(
            tmp_path_factory.mktemp("mcp-hitl") / "data",
            extra_env={
                "AGENTRUN_PROVIDERS__OPENAI_API_KEY": "sk-test",
                "AGENTRUN_PROVIDERS__OPENAI_BASE_URL": fake.url,
            },
        ).start(timeout=START_TIMEOUT_S)
        try:
            yield server
        finally:
            server.stop()


async def test_status_shows_the_pending_call_and_answer_run_resumes_it(scripted_server: LiveServer) -> None:
    slug = create_agent(
        scripted_server,
        "openai:gpt-4o-mini",
        tools=[{"kind": "builtin", "name": "calculator", "requires_approval": True}],
        publish=True,
    )
    async with mcp_client(scripted_server) as client:
        started = await ok(client, "run_agent", {"agent_id": slug, "prompt": "3*3?"})
        execution_id = started["execution_id"]
        for _ in range(300):
            status = await ok(client, "get_run_status", {"execution_id": execution_id})
            if status["status"] == "requires_action":
                break
            await asyncio.sleep(0.1)
        assert status["status"] == "requires_action" and not status["done"]
        (pending,) = status["pending_actions"]
        assert (pending["tool"], pending["args"], pending["kind"]) == (
            "calculator",
            {"expression": "3*3"},
            "approval",
        )
        wrong = await error_text(
            client,
            "answer_run",
            {"execution_id": execution_id, "actions": [{"call_id": "nope", "decision": "approve"}]},
        )
        assert "nope" in wrong
        answered = await ok(
            client,
            "answer_run",
            {"execution_id": execution_id, "actions": [{"call_id": pending["id"], "decision": "approve"}]},
        )
        assert answered["status"] in ("queued", "running", "completed")
        final = await wait_done(client, execution_id)
    assert final["status"] == "completed" and final["result"] == "nine"
