"""Helpers for integration tests that drive the native /v1 API over HTTP only."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic_ai.models import Model

from agentrun.api.app import create_app
from agentrun.runtime.providers import register_test_model, unregister_test_model
from tests.integration.conftest import AppUnderTest, make_settings
from tests.support.backends import backend_env, pg_available

TERMINAL = {"completed", "failed", "cancelled", "timed_out"}
ERROR_KEYS = {"code", "message", "details"}


def shared_api(**settings_overrides: Any) -> Any:
    """A module-scoped ``api`` fixture: one app per backend (SQLite, PostgreSQL) for a whole module.

    Same app as the function-scoped ``api`` of ``tests/integration/conftest.py`` (real services,
    real worker, in-process), but started once per module and backend: starting it costs ~0.5 s
    on SQLite and ~2 s on PostgreSQL (a fresh database, migrations, DBOS), which per test would
    dominate the suite. Tests sharing it use unique slugs and filter lists by their own agent or
    thread, and leave no run active. Use it with
    ``pytestmark = pytest.mark.asyncio(loop_scope="module")``.
    """

    @pytest_asyncio.fixture(
        scope="module",
        loop_scope="module",
        params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    )
    async def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
        if request.param == "postgres" and not pg_available():
            pytest.fail("PostgreSQL is not reachable; start it (see .ci/run) or set AGENTRUN_TEST_PG_URL")
        with backend_env(request.param, tmp_path_factory.mktemp(request.param)) as env:
            settings = make_settings(env, **settings_overrides)
            app = create_app(settings)
            try:
                async with _lifespan(app):
                    transport = httpx.ASGITransport(app=app)
                    async with httpx.AsyncClient(
                        transport=transport, base_url="http://localhost", timeout=30
                    ) as client:
                        yield AppUnderTest(client, settings, app)
            finally:
                # DBOS makes its thread pool the loop's default executor and shuts it down on
                # destroy; the next app in this module's loop needs a live one (asyncio.to_thread).
                asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor())

    return api


@asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    """Run the app's lifespan in a task of its own.

    pytest-asyncio sets a fixture up and tears it down in different tasks; parts of the lifespan
    (anyio task groups, e.g. the MCP session manager) must be exited in the task that entered them.
    """
    started = asyncio.Event()
    stop = asyncio.Event()

    async def hold() -> None:
        async with app.router.lifespan_context(app):
            started.set()
            await stop.wait()

    task = asyncio.create_task(hold(), name="app-lifespan")
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if not started.is_set():
        waiter.cancel()
        await task  # startup failed: raise its error
    try:
        yield
    finally:
        stop.set()
        await task


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@contextmanager
def registered_model(model: Model, prefix: str = "fn") -> Iterator[str]:
    """Register ``model`` under a unique ``test:`` name for the duration of the block."""
    name = f"test:{unique(prefix)}"
    register_test_model(name, model)
    try:
        yield name
    finally:
        unregister_test_model(name)


async def create_agent(client: httpx.AsyncClient, slug: str | None = None, **fields: Any) -> dict[str, Any]:
    body = {"slug": slug or unique("agent"), "model": "test", **fields}
    resp = await client.post("/v1/agents", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def create_thread(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    resp = await client.post("/v1/threads", json=fields)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def run_sync(
    client: httpx.AsyncClient, agent: str, prompt: str = "hi", **fields: Any
) -> dict[str, Any]:
    resp = await client.post("/v1/runs", json={"agent": agent, "prompt": prompt, **fields})
    assert resp.status_code == 200, resp.text
    return resp.json()


async def run_async(
    client: httpx.AsyncClient, agent: str, prompt: str = "hi", **fields: Any
) -> dict[str, Any]:
    resp = await client.post("/v1/runs", json={"agent": agent, "prompt": prompt, "mode": "async", **fields})
    assert resp.status_code == 202, resp.text
    return resp.json()


async def wait_run(client: httpx.AsyncClient, run_id: str, timeout: float = 20.0) -> dict[str, Any]:
    """Long-poll the run until it is terminal; fail the test if it is not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        resp = await client.get(f"/v1/runs/{run_id}", params={"wait_s": max(0.1, min(remaining, 10))})
        assert resp.status_code == 200, resp.text
        run = resp.json()
        if run["status"] in TERMINAL:
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']} after {timeout}s"


async def poll_until(
    fetch: Callable[[], Any], check: Callable[[Any], bool], timeout: float = 10.0, interval: float = 0.02
) -> Any:
    """Call ``fetch`` until ``check`` holds for its value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await fetch()
        if check(value):
            return value
        assert time.monotonic() < deadline, f"condition not met within {timeout}s; last value: {value!r}"
        await asyncio.sleep(interval)


async def wait_status(
    client: httpx.AsyncClient, run_id: str, statuses: set[str], timeout: float = 10.0
) -> dict:
    async def fetch() -> dict[str, Any]:
        return (await client.get(f"/v1/runs/{run_id}")).json()

    return await poll_until(fetch, lambda run: run["status"] in statuses, timeout)


async def events(client: httpx.AsyncClient, run_id: str) -> list[dict[str, Any]]:
    """The run's whole event log, following ``next_after`` across pages."""
    collected: list[dict[str, Any]] = []
    after = 0
    while True:
        resp = await client.get(f"/v1/runs/{run_id}/events", params={"after": after})
        assert resp.status_code == 200, resp.text
        page = resp.json()
        if not page["data"]:
            return collected
        collected.extend(page["data"])
        after = page["next_after"]


async def pages(client: httpx.AsyncClient, path: str, limit: int, **params: Any) -> AsyncIterator[list[dict]]:
    """Each page of a cursor-paged list, following ``next_cursor`` to the end."""
    cursor = None
    for _ in range(1000):
        query = {"limit": limit, **params}
        if cursor is not None:
            query["cursor"] = cursor
        resp = await client.get(path, params=query)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert set(body) == {"data", "next_cursor"}
        assert len(body["data"]) <= limit
        yield body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return
    raise AssertionError("cursor paging did not end")


async def all_pages(client: httpx.AsyncClient, path: str, limit: int, **params: Any) -> list[list[dict]]:
    return [page async for page in pages(client, path, limit, **params)]


def parse_sse(text: str) -> list[dict[str, Any]]:
    """SSE messages as dicts with ``id``, ``event`` and the JSON-decoded ``data``; comments skipped."""
    messages = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, Any] = {}
        data_lines = []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data_lines.append(value)
            else:
                fields[name] = value
        if data_lines:
            fields["data"] = json.loads("\n".join(data_lines))
        if fields:
            messages.append(fields)
    return messages


def assert_error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is ``status`` with exactly the standard error body carrying ``code``."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == ERROR_KEYS, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    return body["error"]


# --- scripted models -----------------------------------------------------------------------------


def _tool_parts(messages: list[Any]) -> list[Any]:
    """Tool results (returned or failed) in the newest request: what the model sees of its last calls."""
    from pydantic_ai.messages import ModelRequest

    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            return [
                p for p in message.parts if getattr(p, "part_kind", "") in ("tool-return", "retry-prompt")
            ]
    return []


class ToolThenAnswer:
    """A scripted model: the first request calls ``tool(args)``; the next answers with what it saw.

    ``requests`` keeps the messages of every request, so tests can check what the model received.
    With ``forever=True`` it never stops calling the tool (for turn limits).
    """

    def __init__(self, tool: str, args: dict[str, Any], *, forever: bool = False) -> None:
        self.tool = tool
        self.args = args
        self.forever = forever
        self.requests: list[list[Any]] = []

    def model(self) -> Model:
        from pydantic_ai.models.function import FunctionModel

        return FunctionModel(self._respond, stream_function=self._stream)

    def _plan(self, messages: list[Any]) -> str | None:
        self.requests.append(list(messages))
        seen = _tool_parts(messages)
        if self.forever or not seen:
            return None
        return "saw: " + " | ".join(p.model_response_str() for p in seen)

    async def _respond(self, messages: list[Any], info: Any) -> Any:
        from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart

        answer = self._plan(messages)
        if answer is None:
            call_id = f"call-{len(self.requests)}"
            return ModelResponse(parts=[ToolCallPart(self.tool, self.args, tool_call_id=call_id)])
        return ModelResponse(parts=[TextPart(answer)])

    async def _stream(self, messages: list[Any], info: Any) -> AsyncIterator[Any]:
        from pydantic_ai.models.function import DeltaToolCall

        answer = self._plan(messages)
        if answer is None:
            call_id = f"call-{len(self.requests)}"
            yield {0: DeltaToolCall(name=self.tool, json_args=json.dumps(self.args), tool_call_id=call_id)}
            return
        for start in range(0, len(answer), 8):
            yield answer[start : start + 8]


class Recorder:
    """A scripted model that answers ``reply(n)`` to its n-th request and records each request's messages."""

    def __init__(self, reply: Callable[[int], str] = lambda n: f"answer {n}") -> None:
        self.reply = reply
        self.requests: list[list[Any]] = []

    def model(self) -> Model:
        from pydantic_ai.models.function import FunctionModel

        return FunctionModel(self._respond, stream_function=self._stream)

    async def _respond(self, messages: list[Any], info: Any) -> Any:
        from pydantic_ai.messages import ModelResponse, TextPart

        self.requests.append(list(messages))
        return ModelResponse(parts=[TextPart(self.reply(len(self.requests)))])

    async def _stream(self, messages: list[Any], info: Any) -> AsyncIterator[str]:
        self.requests.append(list(messages))
        yield self.reply(len(self.requests))
