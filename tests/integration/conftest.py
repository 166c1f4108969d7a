"""Integration fixtures: the real app with real services on SQLite and on PostgreSQL.

The app runs in-process (httpx's ASGI transport) with its lifespan, so the worker, DBOS and the
store are the real ones; only the model is scripted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from agentrun.api.app import create_app
from agentrun.settings import Settings
from tests.support.backends import backend_env, pg_available

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
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://agentrun.test", timeout=30
            ) as client:
                yield AppUnderTest(client, settings, app)
