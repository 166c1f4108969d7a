"""End-to-end fixtures: a real agentrun server process on a free port.

``live_server`` runs on SQLite by default; a module can run every test on both databases with
``pytestmark = pytest.mark.parametrize("live_server", ["sqlite", "postgres"], indirect=True)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.backends import backend_env, pg_available
from tests.support.live import LiveServer


@pytest.fixture
def live_server(request: pytest.FixtureRequest, tmp_path) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    backend = getattr(request, "param", "sqlite")
    if backend == "postgres" and not pg_available():
        pytest.fail("PostgreSQL is not reachable; start it (see .ci/run) or set AGENTRUN_TEST_PG_URL")
    with backend_env(backend, tmp_path) as env:
        extra = {k: v for k, v in env.items() if k != "AGENTRUN_DATA_DIR"}
        server = LiveServer(tmp_path / "data", extra_env=extra).start()
        try:
            yield server
        finally:
            server.stop()
