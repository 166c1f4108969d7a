"""ObservedModel: one chat span and one metric sample per model request, finish reasons included."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.models.function import AgentInfo, FunctionModel

from agentrun.services.metrics import Metrics
from agentrun.services.telemetry import ObservedModel, Tracing


async def test_a_request_is_a_chat_span_with_finish_reason_usage_and_cost() -> None:
    def reply(_messages, _info: AgentInfo) -> ModelResponse:  # type: ignore[no-untyped-def]
        return ModelResponse(parts=[TextPart("hi")], finish_reason="length", provider_response_id="resp-1")

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = Tracing()
    tracing.enable(provider)
    from agentrun.settings import ModelPrice

    metrics = Metrics({"test:x": ModelPrice(input=1_000_000, output=0)})
    model = ObservedModel(FunctionModel(reply), metrics, "agent-a", "test:x", tracing)
    response = await model.request(
        [ModelRequest(parts=[UserPromptPart("hello")])], None, ModelRequestParameters()
    )
    (span,) = exporter.get_finished_spans()
    assert span.name.startswith("chat ")
    assert span.attributes["gen_ai.response.finish_reasons"] == ("length",)
    assert span.attributes["gen_ai.response.id"] == "resp-1"
    assert span.attributes["gen_ai.usage.input_tokens"] == response.usage.input_tokens > 0
    assert span.attributes["agentrun.cost_usd"] == response.usage.input_tokens  # 1 USD per input token
    assert metrics.model_requests.labels("agent-a", "test:x", "ok")._value.get() == 1


async def test_off_no_span_and_still_a_metric() -> None:
    metrics = Metrics()
    model = ObservedModel(
        FunctionModel(lambda _m, _i: ModelResponse(parts=[TextPart("x")])), metrics, "a", "m"
    )
    await model.request([ModelRequest(parts=[UserPromptPart("hello")])], None, ModelRequestParameters())
    assert model._tracing.tracer is None
    assert metrics.model_requests.labels("a", "m", "ok")._value.get() == 1


def test_a_process_without_the_api_serves_its_metrics_on_a_port() -> None:
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    metrics = Metrics()
    metrics.on_tool_call("calculator", 0.01, True)
    stop = metrics.serve("127.0.0.1", port)
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        stop()
    assert 'agentrun_tool_calls_total{outcome="ok",tool="calculator"} 1.0' in text
