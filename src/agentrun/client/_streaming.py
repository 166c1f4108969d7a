"""Iterators over a run's live events that survive a dropped connection.

The stream remembers the last ``seq`` it handed out. When the connection drops (reset, read
error, timeout, server restart) it reconnects to ``GET /v1/runs/{id}/events`` with
``Last-Event-ID: <seq>``, so the caller sees every event once, in order: no gap, no repeat.
Consecutive failed attempts are bounded (``max_stream_retries``) with exponential backoff; any
event received resets the count.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import anyio
import httpx
from pydantic import ValidationError as PydanticValidationError

from agentrun.client._base import path, sse_headers
from agentrun.client._errors import AgentrunError, APIConnectionError, ServerError, error_from_body
from agentrun.client._models import Event, Run
from agentrun.client._sse import ServerSentEvent, aiter_sse, iter_sse

if TYPE_CHECKING:
    from agentrun.client._client import AsyncClient, Client

_Item = TypeVar("_Item")

# Worth a reconnect: the connection failed or dropped, or the server is restarting (5xx).
_TRANSIENT = (httpx.TransportError, APIConnectionError, ServerError)


class _Message:
    """What one SSE message means for the stream."""

    __slots__ = ("event", "run")

    def __init__(self, event: Event | None = None, run: Run | None = None) -> None:
        self.event = event
        self.run = run


def _interpret(sse: ServerSentEvent) -> _Message | None:
    if not sse.data:
        return None
    try:
        if sse.event == "run":
            return _Message(run=Run.model_validate_json(sse.data))
        if sse.event == "error":
            error = error_from_body(json.loads(sse.data), None)
            raise error or AgentrunError("stream_error", sse.data[:500])
        return _Message(event=Event.model_validate_json(sse.data))
    except (PydanticValidationError, ValueError) as exc:
        raise AgentrunError(
            "invalid_event", f"The server sent an SSE message this client cannot read: {exc}"
        ) from exc


class _State:
    """Position and bookkeeping shared by the sync and async loops."""

    def __init__(self, run_id: str | None, after: int, yield_run: bool) -> None:
        self.run_id = run_id
        self.last_seq = after
        self.yield_run = yield_run
        self.terminal_seen = False
        self.failures = 0
        self.run: Run | None = None
        self.connections = 0

    def accept(self, event: Event) -> bool:
        """True if the event is new (seq beyond the last one handed out); records it."""
        if self.run_id is None:
            self.run_id = event.run_id
        if event.seq <= self.last_seq:
            return False
        self.last_seq = event.seq
        self.failures = 0
        if event.is_terminal:
            self.terminal_seen = True
        return True

    def on_sse(self, sse: ServerSentEvent) -> tuple[Any, bool]:
        """The item to hand out for this message (or None), and whether the stream is done after it."""
        message = _interpret(sse)
        if message is None:
            return None, False
        if message.run is not None:
            self.run = message.run
            return (message.run if self.yield_run else None), True
        assert message.event is not None
        if not self.accept(message.event):
            return None, False
        return message.event, message.event.is_terminal and not self.yield_run

    def failed(self, exc: BaseException, max_retries: int) -> None:
        """Count a failed attempt; raise once ``max_retries`` consecutive attempts have failed."""
        if self.run_id is None:
            raise exc  # the run never started streaming: nothing to resume
        self.failures += 1
        if self.failures > max_retries:
            raise self.give_up(exc, max_retries) from exc

    def reconnect_request(self) -> tuple[str, dict[str, Any], dict[str, str]]:
        assert self.run_id is not None
        params: dict[str, Any] = {}
        headers = sse_headers(self.last_seq)
        if self.connections == 0 and self.last_seq > 0:
            params["after"] = self.last_seq  # first connection: the documented query parameter
            headers.pop("Last-Event-ID", None)
        self.connections += 1
        return path("runs", self.run_id, "events"), params, headers

    def give_up(self, exc: BaseException | None, max_retries: int) -> APIConnectionError:
        return APIConnectionError(
            "connection_error",
            f"Lost the event stream of run {self.run_id} after {max_retries} reconnect attempts "
            f"({exc!r}); resume with stream_events({self.run_id!r}, after={self.last_seq}).",
            {"run_id": self.run_id, "last_seq": self.last_seq},
        )


class _SyncStream(Generic[_Item]):
    def __init__(
        self, client: Client, run_id: str | None, after: int, response: httpx.Response | None, yield_run: bool
    ) -> None:
        self._client = client
        self._state = _State(run_id, after, yield_run)
        self._response = response
        self._iterator: Generator[Any, None, None] = self._generate()

    @property
    def run_id(self) -> str | None:
        return self._state.run_id

    @property
    def last_seq(self) -> int:
        """The seq of the last event handed out (pass it as ``after`` to resume elsewhere)."""
        return self._state.last_seq

    @property
    def run(self) -> Run | None:
        """The final run, once a run stream has yielded it."""
        return self._state.run

    def __iter__(self) -> _SyncStream[_Item]:
        return self

    def __next__(self) -> _Item:
        return cast(_Item, next(self._iterator))

    def close(self) -> None:
        self._iterator.close()
        if self._response is not None:
            self._response.close()
            self._response = None

    def __enter__(self) -> _SyncStream[_Item]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _generate(self) -> Generator[Any, None, None]:
        state = self._state
        config = self._client._config
        while True:
            try:
                response = self._connect()
                try:
                    for sse in iter_sse(response.iter_bytes()):
                        item, done = state.on_sse(sse)
                        if item is not None:
                            yield item
                        if done:
                            return
                finally:
                    response.close()
                if state.run_id is None:
                    return
                if state.terminal_seen or self._finished_meanwhile():
                    yield from self._final_run()
                    return
                raise httpx.RemoteProtocolError("the event stream ended before the run's terminal event")
            except _TRANSIENT as exc:
                if state.terminal_seen and state.run_id is not None:
                    yield from self._final_run()
                    return
                state.failed(exc, config.max_stream_retries)
                time.sleep(config.backoff(state.failures))

    def _connect(self) -> httpx.Response:
        state = self._state
        response, self._response = self._response, None
        if response is not None:  # the POST /v1/runs stream, already open
            state.connections += 1
            state.run_id = state.run_id or response.headers.get("x-run-id")
            return response
        url, params, headers = state.reconnect_request()
        return self._client._open_stream("GET", url, params=params, headers=headers)

    def _finished_meanwhile(self) -> bool:
        """After a clean end with no terminal event: is there nothing more to read?"""
        assert self._state.run_id is not None
        run = self._client.runs.get(self._state.run_id)
        if run.is_terminal and run.last_seq <= self._state.last_seq:
            self._state.run = run
            return True
        return False

    def _final_run(self) -> Generator[Run, None, None]:
        state = self._state
        if not state.yield_run:
            return
        if state.run is None:
            assert state.run_id is not None
            state.run = self._client.runs.get(state.run_id)
        yield state.run


class EventStream(_SyncStream[Event]):
    """Iterator of a run's events, ending after its terminal event. Use as a context manager."""


class RunStream(_SyncStream[Event | Run]):
    """Iterator of a streamed run's events, then the final :class:`Run` as the last item.

    ``run_id`` is known as soon as the stream is returned; ``run`` holds the final run at the end.
    """


class _AsyncStream(Generic[_Item]):
    def __init__(
        self,
        client: AsyncClient,
        run_id: str | None,
        after: int,
        response: httpx.Response | None,
        yield_run: bool,
    ) -> None:
        self._client = client
        self._state = _State(run_id, after, yield_run)
        self._response = response
        self._iterator = self._generate()

    @property
    def run_id(self) -> str | None:
        return self._state.run_id

    @property
    def last_seq(self) -> int:
        return self._state.last_seq

    @property
    def run(self) -> Run | None:
        return self._state.run

    def __aiter__(self) -> _AsyncStream[_Item]:
        return self

    async def __anext__(self) -> _Item:
        return cast(_Item, await self._iterator.__anext__())

    async def aclose(self) -> None:
        await self._iterator.aclose()
        if self._response is not None:
            await self._response.aclose()
            self._response = None

    async def __aenter__(self) -> _AsyncStream[_Item]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _generate(self) -> Any:  # an AsyncGenerator; typed loosely for the two item types
        state = self._state
        config = self._client._config
        while True:
            try:
                response = await self._connect()
                try:
                    async for sse in aiter_sse(response.aiter_bytes()):
                        item, done = state.on_sse(sse)
                        if item is not None:
                            yield item
                        if done:
                            return
                finally:
                    await response.aclose()
                if state.run_id is None:
                    return
                if state.terminal_seen or await self._finished_meanwhile():
                    if (run := await self._final_run()) is not None:
                        yield run
                    return
                raise httpx.RemoteProtocolError("the event stream ended before the run's terminal event")
            except _TRANSIENT as exc:
                if state.terminal_seen and state.run_id is not None:
                    if (run := await self._final_run()) is not None:
                        yield run
                    return
                state.failed(exc, config.max_stream_retries)
                await anyio.sleep(config.backoff(state.failures))

    async def _connect(self) -> httpx.Response:
        state = self._state
        response, self._response = self._response, None
        if response is not None:
            state.connections += 1
            state.run_id = state.run_id or response.headers.get("x-run-id")
            return response
        url, params, headers = state.reconnect_request()
        return await self._client._open_stream("GET", url, params=params, headers=headers)

    async def _finished_meanwhile(self) -> bool:
        assert self._state.run_id is not None
        run = await self._client.runs.get(self._state.run_id)
        if run.is_terminal and run.last_seq <= self._state.last_seq:
            self._state.run = run
            return True
        return False

    async def _final_run(self) -> Run | None:
        state = self._state
        if not state.yield_run:
            return None
        if state.run is None:
            assert state.run_id is not None
            state.run = await self._client.runs.get(state.run_id)
        return state.run


class AsyncEventStream(_AsyncStream[Event]):
    """Async iterator of a run's events, ending after its terminal event."""


class AsyncRunStream(_AsyncStream[Event | Run]):
    """Async iterator of a streamed run's events, then the final :class:`Run`."""
