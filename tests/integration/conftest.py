"""Integration fixtures: the real app with real services on SQLite and on PostgreSQL.

The app runs in-process (httpx's ASGI transport) with its lifespan, so the worker, DBOS and the
store are the real ones; only the model is scripted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from agentrun.api.app import create_app
from agentrun.settings import Settings
from tests.support.backends import backend_env, pg_available
from tests.support.openapi_check import OpenAPIResponseCheck, document_of

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres" and not pg_available():
        pytest.fail("PostgreSQL is not reachable; start it (see .ci/run) or set AGENTRUN_TEST_PG_URL")
    return request.param


@dataclass
class AppUnderTest:
    client: httpx.AsyncClient
    settings: Settings
    app: object

    @property
    def services(self):  # type: ignore[no-untyped-def]
        return self.app.state.services  # type: ignore[attr-defined]


def make_settings(env: dict[str, str], **overrides: object) -> Settings:
    values: dict[str, object] = {"data_dir": env["AGENTRUN_DATA_DIR"], "executor_id": "test-executor"}
    if "AGENTRUN_DATABASE_URL" in env:
        values["database_url"] = env["AGENTRUN_DATABASE_URL"]
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Override in a test module to change settings for its app."""
    return {}


@pytest.fixture
async def api(backend: str, tmp_path, settings_overrides) -> AsyncIterator[AppUnderTest]:  # type: ignore[no-untyped-def]
    with backend_env(backend, tmp_path) as env:
        settings = make_settings(env, **settings_overrides)
        app = create_app(settings)
        async with running_lifespan(app):
            transport = httpx.ASGITransport(app=app)
            # Every JSON answer is checked against the published document (tests/support/openapi_check.py).
            check = OpenAPIResponseCheck(document_of(app))
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://localhost",
                timeout=30,
                event_hooks={"response": [check]},
            ) as client:
                yield AppUnderTest(client, settings, app)


@asynccontextmanager
async def running_lifespan(app: Any) -> AsyncIterator[None]:
    """Run the app's lifespan in a task of its own, as a server does.

    pytest-asyncio may finalize a fixture in another task than the one that set it up; anyio
    task groups in the lifespan (the MCP session manager's) must be entered and exited in one.
    """
    started = asyncio.Event()
    stop = asyncio.Event()

    async def hold() -> None:
        async with app.router.lifespan_context(app):
            started.set()
            await stop.wait()

    task = asyncio.create_task(hold())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # raises the startup error
    try:
        yield
    finally:
        stop.set()
        await task
