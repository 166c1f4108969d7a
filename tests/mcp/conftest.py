"""MCP fixtures: real agentrun server processes (streamable HTTP at /mcp) and MCP clients.

The servers are module-scoped (each start costs a DBOS launch); every test makes its own
agents, runs and threads, so tests do not depend on each other.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.streamable_http import streamable_http_client

from mcp import Client
from tests.support.live import LiveServer

# Generous: a server start launches DBOS, slow when other suites load the machine.
START_TIMEOUT_S = 90
BOOTSTRAP_KEY_RE = re.compile(r"created admin API key .*: (ar_\S+)")


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server on loopback in the default ``auto`` auth mode: keyless local access."""
    server = LiveServer(tmp_path_factory.mktemp("mcp-open") / "data").start(timeout=START_TIMEOUT_S)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that requires API keys (it prints one bootstrap admin key at start)."""
    server = LiveServer(
        tmp_path_factory.mktemp("mcp-keyed") / "data", extra_env={"AGENTRUN_AUTH_MODE": "required"}
    ).start(timeout=START_TIMEOUT_S)
    try:
        yield server
    finally:
        server.stop()


def bootstrap_key(server: LiveServer) -> str:
    match = BOOTSTRAP_KEY_RE.search(server.log())
    assert match, f"no bootstrap key in the server log:\n{server.log()}"
    return match.group(1)


@asynccontextmanager
async def mcp_client(
    server: LiveServer, headers: dict[str, str] | None = None, mode: str = "auto"
) -> AsyncIterator[Client]:
    """An official MCP client over streamable HTTP to the server's /mcp, sending ``headers``."""
    url = f"{server.url}/mcp"
    async with httpx2.AsyncClient(headers=headers or {}, timeout=httpx2.Timeout(30, read=60)) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode) as client:  # type: ignore[arg-type]
            yield client


def create_agent(server: LiveServer, model: str, headers: dict[str, str] | None = None, **extra: Any) -> str:
    """A new agent through the native API; returns its slug."""
    slug = f"mcp-{uuid.uuid4().hex[:10]}"
    resp = httpx.post(
        f"{server.url}/v1/agents", json={"slug": slug, "model": model, **extra}, headers=headers or {}
    )
    assert resp.status_code == 201, resp.text
    return slug
