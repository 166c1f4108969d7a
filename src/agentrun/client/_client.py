"""The sync :class:`Client` and the async :class:`AsyncClient`: transport, auth, error mapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from agentrun.client._async_resources import AsyncAgents, AsyncRuns, AsyncThreads
from agentrun.client._base import STREAM_READ_TIMEOUT, ClientConfig
from agentrun.client._errors import APIConnectionError, error_from_response
from agentrun.client._models import Run
from agentrun.client._resources import Agents, Runs, Threads


def _connection_error(exc: httpx.TransportError, base_url: str) -> APIConnectionError:
    if isinstance(exc, httpx.TimeoutException):
        return APIConnectionError(
            "timeout", f"The agentrun server at {base_url} did not answer in time ({exc!r})."
        )
    return APIConnectionError(
        "connection_error",
        f"Could not reach the agentrun server at {base_url} ({exc!r}). Is `agentrun serve` running?",
    )


class Client:
    """Sync client of an agentrun server.

    Args:
        base_url: the server, default ``$AGENTRUN_URL`` or ``http://127.0.0.1:8000``.
        api_key: sent as ``Authorization: Bearer KEY``; default ``$AGENTRUN_API_KEY``.
        timeout: seconds (or an ``httpx.Timeout``) for ordinary requests; waits the server holds
            (sync runs, ``wait_s`` long polls, streams) get a longer read timeout automatically.
        headers: extra headers on every request.
        max_stream_retries: consecutive reconnect attempts of an event stream before giving up.
        stream_backoff_s: first reconnect delay; doubles per attempt, capped at 5 s.
        transport: an httpx transport, e.g. ``httpx.MockTransport`` in tests.

    Example:
        >>> with Client() as client:
        ...     run = client.runs.run("demo", "Hello")
        ...     print(run.status, run.result)
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        max_stream_retries: int = 8,
        stream_backoff_s: float = 0.25,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._config = ClientConfig(base_url, api_key, timeout, headers, max_stream_retries, stream_backoff_s)
        self._http = httpx.Client(
            base_url=self._config.base_url,
            headers=self._config.headers,
            timeout=self._config.timeout,
            transport=transport,
        )
        self.agents = Agents(self)
        self.runs = Runs(self)
        self.threads = Threads(self)

    @property
    def base_url(self) -> str:
        return self._config.base_url

    def run(self, agent: str, prompt: str | None = None, **kwargs: Any) -> Run:
        """Shortcut for :meth:`Runs.run`: run ``agent`` on ``prompt`` and return the finished run."""
        return self.runs.run(agent, prompt, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r})"

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        read_timeout: float | None = None,
    ) -> httpx.Response:
        try:
            response = self._http.request(
                method,
                url,
                params=params,
                json=json,
                headers=headers,
                timeout=self._config.with_read(read_timeout),
            )
        except httpx.TransportError as exc:
            raise _connection_error(exc, self.base_url) from exc
        if response.is_error:
            raise error_from_response(response)
        return response

    def _open_stream(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request whose body is read incrementally; the caller closes the response."""
        request = self._http.build_request(
            method,
            url,
            params=params,
            json=json,
            headers=headers,
            timeout=self._config.with_read(STREAM_READ_TIMEOUT),
        )
        try:
            response = self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise _connection_error(exc, self.base_url) from exc
        if response.is_error:
            try:
                response.read()
            finally:
                response.close()
            raise error_from_response(response)
        return response


class AsyncClient:
    """Async client of an agentrun server; the same arguments and methods as :class:`Client`, awaited.

    Example:
        >>> async with AsyncClient() as client:
        ...     stream = await client.runs.stream("demo", "Hello")
        ...     async for item in stream:
        ...         print(item)
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        max_stream_retries: int = 8,
        stream_backoff_s: float = 0.25,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._config = ClientConfig(base_url, api_key, timeout, headers, max_stream_retries, stream_backoff_s)
        self._http = httpx.AsyncClient(
            base_url=self._config.base_url,
            headers=self._config.headers,
            timeout=self._config.timeout,
            transport=transport,
        )
        self.agents = AsyncAgents(self)
        self.runs = AsyncRuns(self)
        self.threads = AsyncThreads(self)

    @property
    def base_url(self) -> str:
        return self._config.base_url

    async def run(self, agent: str, prompt: str | None = None, **kwargs: Any) -> Run:
        """Shortcut for :meth:`AsyncRuns.run`."""
        return await self.runs.run(agent, prompt, **kwargs)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncClient(base_url={self.base_url!r})"

    async def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        read_timeout: float | None = None,
    ) -> httpx.Response:
        try:
            response = await self._http.request(
                method,
                url,
                params=params,
                json=json,
                headers=headers,
                timeout=self._config.with_read(read_timeout),
            )
        except httpx.TransportError as exc:
            raise _connection_error(exc, self.base_url) from exc
        if response.is_error:
            raise error_from_response(response)
        return response

    async def _open_stream(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        request = self._http.build_request(
            method,
            url,
            params=params,
            json=json,
            headers=headers,
            timeout=self._config.with_read(STREAM_READ_TIMEOUT),
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise _connection_error(exc, self.base_url) from exc
        if response.is_error:
            try:
                await response.aread()
            finally:
                await response.aclose()
            raise error_from_response(response)
        return response
