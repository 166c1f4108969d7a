"""End-to-end fixtures: a real agentrun server process on a free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.live import LiveServer


@pytest.fixture
def live_server(tmp_path) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    server = LiveServer(tmp_path / "data").start()
    try:
        yield server
    finally:
        server.stop()
