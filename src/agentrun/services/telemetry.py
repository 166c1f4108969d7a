"""What a run's model requests and tool calls cost and how long they took: metrics and spans.

``ObservedModel`` wraps the provider's model innermost (inside the replay and metering wrappers),
so it sees exactly the requests a provider received: a step replayed by DBOS after a crash, or a
cached-workflow step, is not counted again. Tool calls are observed around their durable step.

Traces (OpenTelemetry, off by default): ``Tracing`` holds the process's tracer or None; with
None every hook is a branch on None and nothing else. The span tree of a run:

    POST /v1/runs (SERVER, from the request's traceparent)
      invoke_agent <agent> (one per execution: a takeover adds a second, same parent)
        chat <model> (per model request, GenAI attributes)
        execute_tool <tool> (per tool call)

The create request's span context is stored on the run (its ``run.queued`` event's data, as a
W3C ``traceparent``), so whichever process executes the run continues the same trace.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from pydantic_ai import RunContext
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from agentrun.services.metrics import Metrics

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

    from agentrun.settings import Settings
    from agentrun.store.store import Store

log = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
# Our ids of the run being executed, copied onto its model and tool spans.
_run_attributes: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "agentrun_run_span_attributes", default=None
)


class Tracing:
    """The process's tracer (None: tracing is off) and whether spans may carry contents."""

    def __init__(self, tracer: Tracer | None = None, content: bool = False) -> None:
        self.tracer = tracer
        self.content = content
        self.provider: Any = None  # the SDK TracerProvider we built, shut down on close

    def enable(self, provider: Any, content: bool | None = None) -> None:
        """Trace into ``provider`` (an SDK ``TracerProvider``; tests pass one with an in-memory exporter)."""
        self.tracer = provider.get_tracer("agentrun")
        if content is not None:
            self.content = content

    def close(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()  # flushes what the batch processor still holds

    # --- HTTP ----------------------------------------------------------------------------

    def start_request(
        self, method: str, path: str, headers: Mapping[str, str]
    ) -> tuple[Span, object, str] | None:
        """A SERVER span for one HTTP request, made current; None when tracing is off."""
        if self.tracer is None:
            return None
        from opentelemetry import context, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        parent = TraceContextTextMapPropagator().extract(headers)
        span = self.tracer.start_span(
            method,
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        )
        return span, context.attach(trace.set_span_in_context(span)), method

    def end_request(
        self, started: tuple[Span, object, str], route: str, status: int, request_id: str
    ) -> None:
        from opentelemetry import context
        from opentelemetry.trace import StatusCode

        span, token, method = started
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        span.set_attribute("agentrun.request_id", request_id)
        if status >= 500:
            span.set_status(StatusCode.ERROR)
        span.end()
        context.detach(token)  # type: ignore[arg-type]

    # --- runs ----------------------------------------------------------------------------

    def carried(self) -> dict[str, str]:
        """What a new run carries of the current span (its create request's): ``{"traceparent": ...}``."""
        if self.tracer is None:
            return {}
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier)
        return {TRACEPARENT: carrier[TRACEPARENT]} if TRACEPARENT in carrier else {}

    @asynccontextmanager
    async def run_span(self, store: Store, run_id: str) -> AsyncIterator[None]:
        """One execution of a run, child of its create request's span."""
        if self.tracer is None:
            yield
            return
        from opentelemetry import context, trace
        from opentelemetry.trace import StatusCode
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        run = await store.runs.get(run_id)
        first = await store.runs.events(run_id, after=0, limit=1)
        data = (first[0].data or {}) if first else {}
        carrier = {TRACEPARENT: data[TRACEPARENT]} if isinstance(data.get(TRACEPARENT), str) else {}
        parent = TraceContextTextMapPropagator().extract(carrier, context=context.Context())
        ours = {
            "agentrun.run.id": run.id,
            "agentrun.agent.id": run.agent_id,
            "agentrun.agent.slug": run.agent_slug,
            "agentrun.agent.revision": run.revision,
            "agentrun.project.id": run.project_id,
            **({"agentrun.thread.id": run.thread_id} if run.thread_id else {}),
        }
        span = self.tracer.start_span(
            f"invoke_agent {run.agent_slug}",
            context=parent,
            kind=trace.SpanKind.INTERNAL,
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": run.agent_slug,
                "gen_ai.request.model": run.model,
                "agentrun.run.attempt": run.attempt,
                "agentrun.executor.id": run.executor_id or "",
                **ours,
            },
        )
        token = context.attach(trace.set_span_in_context(span))
        ids = _run_attributes.set(ours)
        try:
            yield
        except BaseException as exc:
            span.record_exception(exc)
            raise
        finally:
            _run_attributes.reset(ids)
            context.detach(token)
            try:
                done = await store.runs.get(run_id)
                span.set_attribute("agentrun.run.status", done.status.value)
                span.set_attribute("gen_ai.usage.input_tokens", done.usage.input_tokens)
                span.set_attribute("gen_ai.usage.output_tokens", done.usage.output_tokens)
                if done.error is not None:
                    span.set_status(StatusCode.ERROR, done.error.code)
            except Exception:  # a span is worth less than the run: never fail because of it
                log.debug("run %s: could not read the run for its span", run_id, exc_info=True)
            span.end()

    def start_child(self, name: str, attributes: dict[str, Any], kind: str = "INTERNAL") -> Span | None:
        if self.tracer is None:
            return None
        from opentelemetry import trace

        return self.tracer.start_span(
            name,
            kind=getattr(trace.SpanKind, kind),
            attributes={**(_run_attributes.get() or {}), **attributes},
        )


def build_tracing(settings: Settings) -> Tracing:
    """Tracing as settings and the standard ``OTEL_*`` variables ask: off unless
    ``observability.tracing`` is set or an OTLP endpoint is configured; then an SDK provider
    with a batch processor and the exporter ``OTEL_TRACES_EXPORTER`` names (otlp, console, none)."""
    config = settings.observability
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true"
    tracing = Tracing(content=config.trace_content)
    if disabled or not (config.tracing or endpoint):
        return tracing
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError:
        log.warning("tracing is on but the OpenTelemetry SDK is not installed: pip install 'agentrun[otel]'")
        return tracing
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "agentrun")})
    provider = TracerProvider(resource=resource)
    for name in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(","):
        name = name.strip()
        if name == "otlp":
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            except ImportError:
                log.warning("OTLP exporter missing: pip install 'agentrun[otel]'")
                continue
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif name == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    tracing.enable(provider)
    tracing.provider = provider
    return tracing


def _end(span: Span | None, error: BaseException | None) -> None:
    if span is None:
        return
    if error is not None:
        from opentelemetry.trace import StatusCode

        span.record_exception(error)
        span.set_attribute("error.type", type(error).__name__)
        span.set_status(StatusCode.ERROR, str(error)[:200])
    span.end()


def _messages_json(messages: list[ModelMessage]) -> str:
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    return ModelMessagesTypeAdapter.dump_json(messages).decode()


class ObservedModel(WrapperModel):
    def __init__(
        self, wrapped: Model, metrics: Metrics, agent: str, model: str, tracing: Tracing | None = None
    ) -> None:
        super().__init__(wrapped)
        self._metrics = metrics
        self._agent = agent
        self._model = model
        self._tracing = tracing if tracing is not None else Tracing()

    def _start_span(self, messages: list[ModelMessage]) -> Span | None:
        span = self._tracing.start_child(
            f"chat {self.wrapped.model_name}",
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.system": self.wrapped.system,
                "gen_ai.provider.name": self.wrapped.system,
                "gen_ai.request.model": self.wrapped.model_name,
                "agentrun.model": self._model,
            },
            kind="CLIENT",
        )
        if span is not None and self._tracing.content:
            span.set_attribute("gen_ai.input.messages", _messages_json(messages))
        return span

    def _finish_span(self, span: Span | None, response: ModelResponse | None, cost: float | None) -> None:
        if span is None or response is None:
            return
        usage = response.usage
        span.set_attribute("gen_ai.response.model", response.model_name or self.wrapped.model_name)
        span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens or 0)
        span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens or 0)
        if response.finish_reason:
            span.set_attribute("gen_ai.response.finish_reasons", [response.finish_reason])
        if response.provider_response_id:
            span.set_attribute("gen_ai.response.id", response.provider_response_id)
        if cost is not None:
            span.set_attribute("agentrun.cost_usd", cost)
        if self._tracing.content:
            span.set_attribute("gen_ai.output.messages", _messages_json([response]))

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        started = time.perf_counter()
        span = self._start_span(messages)
        response: ModelResponse | None = None
        error: BaseException | None = None
        try:
            response = await self._in_span(
                span, self.wrapped.request(messages, model_settings, model_request_parameters)
            )
            return response
        except BaseException as exc:
            error = exc
            raise
        finally:
            cost = self._done(started, response.usage if response is not None else None, response is not None)
            self._finish_span(span, response, cost)
            _end(span, error)

    async def _in_span(self, span: Span | None, call: Awaitable[Any]) -> Any:
        if span is None:
            return await call
        from opentelemetry import trace

        with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
            return await call

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        started = time.perf_counter()
        span = self._start_span(messages)
        stream: StreamedResponse | None = None
        ok = False
        error: BaseException | None = None
        try:
            async with self.wrapped.request_stream(
                messages, model_settings, model_request_parameters, run_context
            ) as stream:
                yield stream
            ok = True
        except BaseException as exc:
            error = exc
            raise
        finally:
            cost = self._done(started, stream.usage if stream is not None else None, ok)
            if span is not None and stream is not None:
                self._finish_span(span, stream.get(), cost)
            _end(span, error)

    def _done(self, started: float, usage: Any, ok: bool) -> float | None:
        input_tokens = (usage.input_tokens or 0) if usage is not None else 0
        output_tokens = (usage.output_tokens or 0) if usage is not None else 0
        return self._metrics.on_model_request(
            self._agent, self._model, time.perf_counter() - started, input_tokens, output_tokens, ok
        )


async def observed_tool_call(
    metrics: Metrics, name: str, call: Callable[[], Awaitable[Any]], tracing: Tracing | None = None
) -> Any:
    started = time.perf_counter()
    span = (
        tracing.start_child(
            f"execute_tool {name}", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}
        )
        if tracing is not None
        else None
    )
    ok = False
    error: BaseException | None = None
    try:
        if span is None:
            result = await call()
        else:
            from opentelemetry import trace

            with trace.use_span(
                span, end_on_exit=False, record_exception=False, set_status_on_exception=False
            ):
                result = await call()
            if tracing is not None and tracing.content:
                span.set_attribute("agentrun.tool.result", _short_json(result))
        ok = True
        return result
    except BaseException as exc:
        error = exc
        raise
    finally:
        metrics.on_tool_call(name, time.perf_counter() - started, ok)
        _end(span, error)


def _short_json(value: Any, limit: int = 4096) -> str:
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = str(value)
    return text[:limit]
