"""Fixtures for the compat surfaces: the real app, in-process, on SQLite and on PostgreSQL.

Same app as ``tests/integration/conftest.py``'s ``api`` (real services, real worker, real store),
but started once per module and backend, since starting it costs ~0.5 s (SQLite) to ~2 s
(PostgreSQL). Tests of one module share it: they use unique agent slugs and thread ids, and
leave no run active. A module changes the app's settings by overriding ``compat_settings``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import pytest_asyncio

from agentrun.api.app import create_app
from tests.integration.conftest import AppUnderTest, make_settings
from tests.support.backends import backend_env, pg_available
from tests.support.openapi_check import OpenAPIResponseCheck, document_of

TERMINAL_NATIVE = {"completed", "failed", "cancelled", "timed_out"}


@pytest.fixture(scope="module")
def compat_settings() -> dict[str, Any]:
    """Settings overrides for the module's app (override in a test module)."""
    return {}


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
async def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, compat_settings: dict[str, Any]
) -> AsyncIterator[AppUnderTest]:
    if request.param == "postgres" and not pg_available():
        pytest.fail("PostgreSQL is not reachable; start it (see .ci/run) or set AGENTRUN_TEST_PG_URL")
    with backend_env(request.param, tmp_path_factory.mktemp(request.param)) as env:
        settings = make_settings(env, **compat_settings)
        app = create_app(settings)
        # The lifespan is entered and exited in one task of its own: pytest-asyncio finalizes a
        # module fixture in another task, and anyio task groups in the lifespan refuse that.
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()

        async def serve() -> None:
            try:
                async with app.router.lifespan_context(app):
                    started.set_result(None)
                    await stop.wait()
            except BaseException as exc:
                if not started.done():
                    started.set_exception(exc)
                raise

        server = asyncio.create_task(serve())
        await started
        try:
            transport = httpx.ASGITransport(app=app)
            # Every JSON answer of every compat test is checked against the published document.
            check = OpenAPIResponseCheck(document_of(app))
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://localhost",
                timeout=30,
                event_hooks={"response": [check]},
            ) as client:
                yield AppUnderTest(client, settings, app)
        finally:
            stop.set()
            await server
    # DBOS makes its thread pool the loop's default executor and shuts it down on destroy; the
    # next app in this module's loop needs a live one.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor())


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def create_agent(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """Register an agent through the native API (what the vendor's console would do)."""
    body = {"model": "test", "instructions": "Answer briefly.", **fields}
    resp = await client.post("/v1/agents", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def poll(client: httpx.AsyncClient, path: str, done: Any, tries: int = 200) -> dict[str, Any]:
    """GET ``path`` until ``done(body)``; fails (never hangs) after ``tries`` polls."""
    body: dict[str, Any] = {}
    for _ in range(tries):
        resp = await client.get(path)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        if done(body):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} did not reach the expected state: {body}")


async def new_api_key(client: httpx.AsyncClient, project: str = "default") -> str:
    """A project API key, created keyless (the test server listens on loopback only)."""
    resp = await client.post("/v1/admin/keys", json={"project": project, "name": unique("compat")})
    assert resp.status_code == 201, resp.text
    return resp.json()["key"]
