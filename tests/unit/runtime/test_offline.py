"""The offline test model: echo, structured output, sleep (cancellable), tools, usage."""

from __future__ import annotations

import asyncio
from typing import Any

import jsonschema
import pytest
from pydantic_ai import Agent, models
from pydantic_ai.messages import ModelMessage, PartDeltaEvent, ToolCallPart
from pydantic_ai.output import NativeOutput, StructuredDict

from agentrun.runtime.offline import ECHO_MAX_CHARS, OFFLINE_PREFIX, OfflineBehaviour, offline_model
from agentrun.runtime.providers import resolve_model
from agentrun.settings import ProviderSettings

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 3},
        "population": {"type": "integer", "minimum": 1000},
        "kind": {"enum": ["capital", "town"]},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "location": {
            "type": "object",
            "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90}},
            "required": ["lat"],
        },
        "optional_note": {"type": "string"},
    },
    "required": ["city", "population", "kind", "tags", "location"],
    "additionalProperties": False,
}


@pytest.fixture(autouse=True)
def _no_real_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "ALLOW_MODEL_REQUESTS", False)


async def collect_events(agent: Agent[Any, Any], prompt: str, **kwargs: Any) -> tuple[Any, list[Any]]:
    events: list[Any] = []

    async def handler(ctx: Any, stream: Any) -> None:
        async for event in stream:
            events.append(event)

    result = await agent.run(prompt, event_stream_handler=handler, **kwargs)
    return result, events


async def test_echo_answers_labelled_text_with_the_prompt_and_usage() -> None:
    result = await Agent(offline_model()).run("What is the capital of France?")
    assert result.output.startswith(OFFLINE_PREFIX)
    assert "What is the capital of France?" in result.output
    assert "OPENAI_API_KEY" in result.output  # says how to configure a real provider
    usage = result.usage
    assert usage.requests == 1
    assert usage.input_tokens > 0 and usage.output_tokens > 0


async def test_echo_is_deterministic_and_short() -> None:
    agent = Agent(offline_model())
    long_prompt = "word " * 500
    first = (await agent.run(long_prompt)).output
    second = (await agent.run(long_prompt)).output
    assert first == second
    assert "word " * 60 not in first
    assert len(first) < ECHO_MAX_CHARS + 400


async def test_streaming_yields_several_deltas_and_usage() -> None:
    agent = Agent(offline_model())
    result, events = await collect_events(agent, "stream me please")
    deltas = [e for e in events if isinstance(e, PartDeltaEvent)]
    assert len(deltas) >= 3
    assert "stream me please" in result.output
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0

    async with agent.run_stream("and again") as stream:
        text = await stream.get_output()
    assert text.startswith(OFFLINE_PREFIX) and "and again" in text


async def test_fallback_note_is_in_every_answer() -> None:
    resolved = resolve_model("openai:gpt-4o", ProviderSettings())
    result = await Agent(resolved.model).run("hi")
    assert resolved.note is not None
    assert resolved.note in result.output


@pytest.mark.parametrize("streamed", [False, True])
async def test_structured_output_is_valid_against_the_schema(streamed: bool) -> None:
    agent = Agent(offline_model(), output_type=StructuredDict(SCHEMA, name="City"))
    if streamed:
        output, _ = await collect_events(agent, "describe a city")
        output = output.output
    else:
        output = (await agent.run("describe a city")).output
    jsonschema.validate(output, SCHEMA)
    assert set(output) >= {"city", "population", "kind", "tags", "location"}


async def test_native_structured_output_is_valid_json_text() -> None:
    agent = Agent(offline_model(), output_type=NativeOutput(StructuredDict(SCHEMA, name="City")))
    output = (await agent.run("describe a city")).output
    jsonschema.validate(output, SCHEMA)


async def test_sleep_variant_answers_like_echo() -> None:
    agent = Agent(offline_model(OfflineBehaviour("sleep", sleep_ms=1)))
    result, _ = await collect_events(agent, "after a nap")
    assert result.output.startswith(OFFLINE_PREFIX) and "after a nap" in result.output


@pytest.mark.parametrize("streamed", [False, True])
async def test_sleep_variant_is_cancellable(streamed: bool) -> None:
    # Ten minutes: if cancelling did not interrupt the sleep, the test would hit pytest's timeout.
    agent = Agent(resolve_model("test:sleep-600000", ProviderSettings()).model)

    async def run() -> Any:
        if streamed:
            return await collect_events(agent, "zzz")
        return await agent.run("zzz")

    task = asyncio.create_task(run())
    done, _ = await asyncio.wait({task}, timeout=0.05)
    assert not done  # still sleeping
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


def make_tools_agent(calls: list[tuple[str, Any]], **kwargs: Any) -> Agent[None, Any]:
    agent = Agent(offline_model(OfflineBehaviour("tools")), **kwargs)

    @agent.tool_plain
    def lookup(city: str, limit: int) -> str:
        """Look a city up."""
        calls.append(("lookup", (city, limit)))
        return f"found {city}"

    @agent.tool_plain
    def ping() -> str:
        """Ping."""
        calls.append(("ping", ()))
        return "pong"

    return agent


@pytest.mark.parametrize("streamed", [False, True])
async def test_tools_variant_calls_every_tool_once_then_reports_results(streamed: bool) -> None:
    calls: list[tuple[str, Any]] = []
    agent = make_tools_agent(calls)
    if streamed:
        result, _ = await collect_events(agent, "use your tools")
    else:
        result = await agent.run("use your tools")
    assert sorted(name for name, _ in calls) == ["lookup", "ping"]
    city, limit = next(args for name, args in calls if name == "lookup")
    assert isinstance(city, str) and isinstance(limit, int)
    assert result.output.startswith(OFFLINE_PREFIX)
    assert f"lookup -> found {city}" in result.output
    assert "ping -> pong" in result.output
    assert result.usage.requests == 2 and result.usage.tool_calls == 2


async def test_tools_variant_calls_tools_again_in_a_later_run_of_the_thread() -> None:
    calls: list[tuple[str, Any]] = []
    agent = make_tools_agent(calls)
    first = await agent.run("one")
    history: list[ModelMessage] = first.all_messages()
    await agent.run("two", message_history=history)
    assert [name for name, _ in calls].count("ping") == 2


async def test_tools_variant_with_structured_output_ends_with_valid_output() -> None:
    calls: list[tuple[str, Any]] = []
    agent = make_tools_agent(calls, output_type=StructuredDict(SCHEMA, name="City"))
    result = await agent.run("go")
    jsonschema.validate(result.output, SCHEMA)
    assert len(calls) == 2
    tool_calls = [
        p for m in result.all_messages() for p in getattr(m, "parts", []) if isinstance(p, ToolCallPart)
    ]
    assert {p.tool_name for p in tool_calls} >= {"lookup", "ping"}


async def test_tools_variant_without_tools_echoes() -> None:
    result = await Agent(offline_model(OfflineBehaviour("tools"))).run("nothing to call")
    assert "nothing to call" in result.output
