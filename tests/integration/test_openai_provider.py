"""The real openai provider code path against the local fake OpenAI-compatible server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from pydantic_ai import Agent, models
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import PartDeltaEvent
from pydantic_ai.models.openai import OpenAIChatModel

from agentrun.runtime.providers import resolve_model
from agentrun.settings import ProviderSettings
from tests.support.fake_openai import FakeOpenAI, ToolCall, Turn

SCRIPT = [
    Turn(tool_calls=[ToolCall("add", {"a": 2, "b": 3})]),
    Turn(text="The sum of 2 and 3 is 5."),
]


@pytest.fixture(autouse=True)
def _allow_requests_to_the_local_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    # tests/conftest.py blocks model requests; here the target is the local fake server, so the
    # real openai provider code path may run.
    monkeypatch.setattr(models, "ALLOW_MODEL_REQUESTS", True)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(SCRIPT) as server:
        yield server


def make_agent(url: str) -> Agent[None, str]:
    resolved = resolve_model(
        "openai:gpt-4o-mini", ProviderSettings(openai_api_key=SecretStr("sk-test"), openai_base_url=url)
    )
    assert isinstance(resolved.model, OpenAIChatModel) and not resolved.offline
    agent = Agent(resolved.model)

    @agent.tool_plain
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    return agent


def assert_usage_matches(result: Any, fake: FakeOpenAI) -> None:
    replies = fake.replies
    assert result.usage.requests == len(replies) == 2
    assert result.usage.input_tokens == sum(r.prompt_tokens for r in replies)
    assert result.usage.output_tokens == sum(r.completion_tokens for r in replies)
    assert result.usage.tool_calls == 1


async def test_tool_call_round_trip(fake: FakeOpenAI) -> None:
    result = await make_agent(fake.url).run("What is 2 + 3?")
    assert result.output == "The sum of 2 and 3 is 5."
    assert fake.request_count == 2
    first, second = fake.requests
    assert first["model"] == "gpt-4o-mini"
    assert [t["function"]["name"] for t in first["tools"]] == ["add"]
    roles = [m["role"] for m in second["messages"]]
    assert roles == ["user", "assistant", "tool"]
    assistant, tool = second["messages"][1], second["messages"][2]
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"a": 2, "b": 3}
    assert tool["tool_call_id"] == assistant["tool_calls"][0]["id"]
    assert tool["content"] == "5"
    assert_usage_matches(result, fake)


async def test_streaming_with_usage(fake: FakeOpenAI) -> None:
    deltas: list[PartDeltaEvent] = []

    async def handler(ctx: Any, stream: Any) -> None:
        async for event in stream:
            if isinstance(event, PartDeltaEvent):
                deltas.append(event)

    result = await make_agent(fake.url).run("What is 2 + 3?", event_stream_handler=handler)
    assert result.output == "The sum of 2 and 3 is 5."
    assert all(body["stream"] is True for body in fake.requests)
    assert all(body["stream_options"] == {"include_usage": True} for body in fake.requests)
    assert len(deltas) >= 3  # the text arrived word by word
    assert_usage_matches(result, fake)


async def test_run_stream_text(fake: FakeOpenAI) -> None:
    async with make_agent(fake.url).run_stream("What is 2 + 3?") as stream:
        chunks = [chunk async for chunk in stream.stream_text(delta=True, debounce_by=None)]
    assert "".join(chunks) == "The sum of 2 and 3 is 5."
    assert len(chunks) >= 2
    assert fake.request_count == 2


async def test_provider_http_error_surfaces_with_its_status() -> None:
    with FakeOpenAI([Turn(error_status=400)]) as fake:
        with pytest.raises(ModelHTTPError) as info:
            await make_agent(fake.url).run("hi")
    assert info.value.status_code == 400


async def test_explicit_usage_is_reported_exactly() -> None:
    with FakeOpenAI([Turn(text="ok", usage=(123, 45))]) as fake:
        result = await make_agent(fake.url).run("hi")
    assert (result.usage.input_tokens, result.usage.output_tokens) == (123, 45)


async def test_turns_follow_the_conversation_not_arrival_order() -> None:
    with FakeOpenAI(SCRIPT) as fake:
        agent = make_agent(fake.url)
        first = await agent.run("one")
        second = await agent.run("two")
    assert first.output == second.output == "The sum of 2 and 3 is 5."
    assert [r.turn_index for r in fake.replies] == [0, 1, 0, 1]


@pytest.mark.slow
async def test_standalone_subprocess_counts_requests(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"turns": [{"text": "from the subprocess"}]}))
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_openai", "--port", "0", "--script", str(script)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("READY http://127.0.0.1:")
        url = line.split()[1]
        stats_url = url.removesuffix("/v1") + "/_stats"
        async with httpx.AsyncClient() as client:
            assert (await client.get(stats_url)).json() == {"requests": 0}
            result = await make_agent(url).run("hi")
            assert result.output == "from the subprocess"
            assert (await client.get(stats_url)).json() == {"requests": 1}
    finally:
        process.kill()
        process.wait(timeout=10)
