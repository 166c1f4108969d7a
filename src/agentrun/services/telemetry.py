"""What a run's model requests and tool calls cost and how long they took: metrics (and spans).

``ObservedModel`` wraps the provider's model innermost (inside the replay and metering wrappers),
so it sees exactly the requests a provider received: a step replayed by DBOS after a crash, or a
cached-workflow step, is not counted again. Tool calls are observed around their durable step.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from agentrun.services.metrics import Metrics


class ObservedModel(WrapperModel):
    def __init__(self, wrapped: Model, metrics: Metrics, agent: str, model: str) -> None:
        super().__init__(wrapped)
        self._metrics = metrics
        self._agent = agent
        self._model = model

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        started = time.perf_counter()
        response: ModelResponse | None = None
        try:
            response = await self.wrapped.request(messages, model_settings, model_request_parameters)
            return response
        finally:
            self._done(started, response.usage if response is not None else None, response is not None)

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        started = time.perf_counter()
        stream: StreamedResponse | None = None
        ok = False
        try:
            async with self.wrapped.request_stream(
                messages, model_settings, model_request_parameters, run_context
            ) as stream:
                yield stream
            ok = True
        finally:
            self._done(started, stream.usage if stream is not None else None, ok)

    def _done(self, started: float, usage: Any, ok: bool) -> None:
        input_tokens = (usage.input_tokens or 0) if usage is not None else 0
        output_tokens = (usage.output_tokens or 0) if usage is not None else 0
        self._metrics.on_model_request(
            self._agent, self._model, time.perf_counter() - started, input_tokens, output_tokens, ok
        )


async def observed_tool_call(metrics: Metrics, name: str, call: Callable[[], Awaitable[Any]]) -> Any:
    started = time.perf_counter()
    ok = False
    try:
        result = await call()
        ok = True
        return result
    finally:
        metrics.on_tool_call(name, time.perf_counter() - started, ok)
