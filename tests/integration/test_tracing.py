"""Traces: the span tree of a run (HTTP request > run > model requests and tool calls), GenAI
attributes, our ids, the parent from the create request's ``traceparent``; contents only when asked."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentrun.runtime.providers import register_test_model, unregister_test_model
from tests.support.scripted_models import calculator_then_answer

MODEL = "test:traced-script"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN}-01"


@pytest.fixture
def scripted():  # type: ignore[no-untyped-def]
    """Calls calculator once, then answers: two model requests and one tool call."""
    register_test_model(MODEL, calculator_then_answer())
    yield
    unregister_test_model(MODEL)


@pytest.fixture
def spans(api):  # type: ignore[no-untyped-def]
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    api.app.state.services.tracing.enable(provider)
    yield exporter
    api.app.state.services.tracing.tracer = None
    api.app.state.services.tracing.content = False
    provider.shutdown()


async def _finished(spans, name: str):  # type: ignore[no-untyped-def]
    """The finished spans once ``name`` ended: a run's span ends just after its answer is out."""
    for _ in range(200):
        found = spans.get_finished_spans()
        if any(s.name == name for s in found):
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"no finished span {name!r} in {[s.name for s in spans.get_finished_spans()]}")


async def _agent(api) -> None:  # type: ignore[no-untyped-def]
    body = {
        "slug": "traced",
        "model": MODEL,
        "tools": [{"kind": "builtin", "name": "calculator"}],
        "publish": True,
    }
    assert (await api.client.put("/v1/agents/traced", json=body)).status_code in (200, 201)


@pytest.mark.parametrize("durability", ["steps", "exit"])
async def test_span_tree_of_a_run_with_two_model_requests_and_a_tool_call(  # type: ignore[no-untyped-def]
    api, scripted, spans, durability
) -> None:
    await _agent(api)
    spans.clear()
    answer = await api.client.post(
        "/v1/runs",
        json={"agent": "traced", "prompt": "compute", "durability": durability},
        headers={"traceparent": TRACEPARENT, "X-Request-Id": "req-traced"},
    )
    run = answer.json()
    assert run["status"] == "completed", run
    finished = await _finished(spans, "invoke_agent traced")
    by_name: dict[str, list] = {}  # type: ignore[type-arg]
    for span in finished:
        by_name.setdefault(span.name, []).append(span)
    (http,) = by_name["POST /v1/runs"]
    (run_span,) = by_name["invoke_agent traced"]
    chats = [s for s in finished if s.name.startswith("chat ")]
    (tool,) = by_name["execute_tool calculator"]
    assert len(chats) == 2

    # One trace, continuing the caller's; the tree: caller > HTTP > run > (chat, tool, chat).
    assert {format(s.context.trace_id, "032x") for s in finished if s.name != "GET /metrics"} == {TRACE_ID}
    assert format(http.parent.span_id, "016x") == PARENT_SPAN
    assert run_span.parent.span_id == http.context.span_id
    for child in [*chats, tool]:
        assert child.parent.span_id == run_span.context.span_id
    ordered = sorted([*chats, tool], key=lambda s: s.start_time)
    assert [s.name.split()[0] for s in ordered] == ["chat", "execute_tool", "chat"]

    assert http.attributes["http.route"] == "/v1/runs"
    assert http.attributes["http.response.status_code"] == 200
    assert http.attributes["agentrun.request_id"] == "req-traced"
    ids = {
        "agentrun.run.id": run["id"],
        "agentrun.agent.id": run["agent_id"],
        "agentrun.agent.revision": run["revision"],
        "agentrun.project.id": "default",
    }
    for span in [run_span, *chats, tool]:
        assert {k: span.attributes[k] for k in ids} == ids
    assert run_span.attributes["agentrun.run.status"] == "completed"
    assert run_span.attributes["gen_ai.operation.name"] == "invoke_agent"

    for chat in chats:
        attrs = chat.attributes
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.system"] == "function"
        assert attrs["gen_ai.request.model"] and attrs["gen_ai.response.model"]
        assert (
            "gen_ai.input.messages" not in attrs and "gen_ai.output.messages" not in attrs
        )  # off by default
    assert sum(c.attributes["gen_ai.usage.input_tokens"] for c in chats) == run["usage"]["input_tokens"]
    assert sum(c.attributes["gen_ai.usage.output_tokens"] for c in chats) == run["usage"]["output_tokens"]
    assert run_span.attributes["gen_ai.usage.input_tokens"] == run["usage"]["input_tokens"]
    assert tool.attributes["gen_ai.tool.name"] == "calculator"
    assert "agentrun.tool.result" not in tool.attributes


async def test_contents_only_when_the_setting_allows(api, scripted, spans) -> None:  # type: ignore[no-untyped-def]
    await _agent(api)
    api.app.state.services.tracing.content = True
    spans.clear()
    run = (await api.client.post("/v1/runs", json={"agent": "traced", "prompt": "compute please"})).json()
    assert run["status"] == "completed"
    await _finished(spans, "invoke_agent traced")
    chats = [s for s in spans.get_finished_spans() if s.name.startswith("chat ")]
    assert "compute please" in chats[0].attributes["gen_ai.input.messages"]
    assert "the answer is 42" in max(chats, key=lambda s: s.start_time).attributes["gen_ai.output.messages"]
    (tool,) = [s for s in spans.get_finished_spans() if s.name == "execute_tool calculator"]
    assert "42" in tool.attributes["agentrun.tool.result"]


async def test_off_by_default_a_run_carries_no_trace_context(api, scripted) -> None:  # type: ignore[no-untyped-def]
    await _agent(api)
    assert api.app.state.services.tracing.tracer is None
    run = (
        await api.client.post(
            "/v1/runs", json={"agent": "traced", "prompt": "x"}, headers={"traceparent": TRACEPARENT}
        )
    ).json()
    events = (await api.client.get(f"/v1/runs/{run['id']}/events")).json()["data"]
    assert events[0]["type"] == "run.queued" and "traceparent" not in events[0]["data"]
