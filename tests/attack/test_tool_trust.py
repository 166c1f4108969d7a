"""Attack suite, part 1: an ordinary project key cannot put code or commands on the server.

Everything goes through the public HTTP API with keys required (the server is not the
single-user laptop), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from agentrun.api.app import create_app
from tests.integration.conftest import make_settings, running_lifespan
from tests.support.backends import backend_env

SAMPLE = "tests.support.sample_tools"

RAW_TOOLS = [
    {"kind": "python", "ref": "os:system"},
    {"kind": "python", "ref": "subprocess:getoutput"},
    {"kind": "python", "ref": "os:getenv"},
    {"kind": "python", "ref": "builtins:eval"},
    {"kind": "mcp", "command": "sh", "args": ["-c", "id > /tmp/pwned"]},
]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {
        "auth_mode": "required",
        "tools": {
            "python": {"double": f"{SAMPLE}:double", "broken": "nosuchmodule_xyz:fn"},
            "mcp_allow_hosts": [],
        },
    }


async def _project_key(api: Any, project: str = "acme") -> dict[str, str]:
    created = await api.services.keys.create(project, "tenant", False)
    return {"X-API-Key": created.key}


def _agent(slug: str, tools: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"slug": slug, "model": "test", "tools": tools, **extra}


@pytest.mark.parametrize("tool", RAW_TOOLS, ids=lambda t: t.get("ref") or t.get("command"))
async def test_raw_code_is_refused_on_create_apply_and_patch(api, tool) -> None:  # type: ignore[no-untyped-def]
    headers = await _project_key(api)
    created = await api.client.post("/v1/agents", json=_agent("evil", [tool]), headers=headers)
    assert created.status_code == 422, created.text
    error = created.json()["error"]
    assert error["code"] == "tool_not_allowed"
    assert "AGENTRUN_TOOLS__ALLOW_UNREGISTERED" in error["message"]
    assert (tool.get("ref") or tool["command"]) in error["message"]
    assert error["details"]["setting"] == "tools.allow_unregistered"

    applied = await api.client.put("/v1/agents/evil", json=_agent("evil", [tool]), headers=headers)
    assert applied.status_code == 422 and applied.json()["error"]["code"] == "tool_not_allowed"

    ok = await api.client.post("/v1/agents", json=_agent("plain", []), headers=headers)
    assert ok.status_code == 201, ok.text
    patched = await api.client.patch("/v1/agents/plain", json={"tools": [tool]}, headers=headers)
    assert patched.status_code == 422 and patched.json()["error"]["code"] == "tool_not_allowed"
    # Nothing was half-written: the agent still has its one clean revision.
    agent = (await api.client.get("/v1/agents/plain", headers=headers)).json()
    assert agent["latest_revision"] == 1 and agent["definition"]["tools"] == []
    assert (await api.client.get("/v1/agents/evil", headers=headers)).status_code == 404


async def test_registered_tool_runs_by_name(api) -> None:  # type: ignore[no-untyped-def]
    headers = await _project_key(api)
    created = await api.client.post(
        "/v1/agents", json=_agent("math", [{"kind": "python", "name": "double"}]), headers=headers
    )
    assert created.status_code == 201, created.text
    run = await api.client.post(
        "/v1/runs",
        json={
            "agent": "math",
            "prompt": "double 21",
            "cached_workflow": {"steps": [{"name": "double", "params": {"x": 21}}]},
        },
        headers=headers,
    )
    assert run.status_code == 200, run.text
    events = (await api.client.get(f"/v1/runs/{run.json()['id']}/events", headers=headers)).json()["data"]
    results = [e for e in events if e["type"] == "tool_result"]
    assert results and "42" in str(results[0]["content"] or results[0]["data"])


@pytest.mark.parametrize(
    ("tool", "fragment"),
    [
        ({"kind": "python", "name": "nope"}, "no Python tool named 'nope' is registered"),
        ({"kind": "python", "name": "broken"}, "cannot be loaded"),
        ({"kind": "builtin", "name": "no_such_builtin"}, "unknown builtin tool"),
        ({"kind": "mcp", "server": "nope"}, "no MCP server named 'nope' is registered"),
        ({"kind": "mcp", "url": "ftp://example.com/mcp"}, "http:// or https://"),
    ],
)
async def test_broken_tools_are_refused_when_applied(api, tool, fragment) -> None:  # type: ignore[no-untyped-def]
    headers = await _project_key(api)
    created = await api.client.post("/v1/agents", json=_agent("broken", [tool]), headers=headers)
    assert created.status_code == 422, created.text
    assert created.json()["error"]["code"] == "validation_error"
    assert fragment in created.json()["error"]["message"]


class _Secret(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        type(self).hits.append(self.path)
        body = b"INTERNAL-SECRET-BODY"
        self.send_response(500)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST  # noqa: N815

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def internal_service() -> Iterator[str]:
    _Secret.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Secret)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/mcp"
    server.shutdown()


async def test_mcp_url_passes_the_ssrf_guard(api, internal_service) -> None:  # type: ignore[no-untyped-def]
    headers = await _project_key(api)
    created = await api.client.post(
        "/v1/agents", json=_agent("probe", [{"kind": "mcp", "url": internal_service}]), headers=headers
    )
    assert created.status_code == 201, created.text
    run = await api.client.post("/v1/runs", json={"agent": "probe", "prompt": "hi"}, headers=headers)
    body = run.json()
    assert body["status"] == "failed", body
    assert "loopback" in body["error"]["message"]
    assert "INTERNAL-SECRET-BODY" not in run.text
    assert _Secret.hits == []  # never contacted


@asynccontextmanager
async def _app(env: dict[str, str], **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(env, **overrides))
    async with running_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost", timeout=30) as client:
            yield client


async def test_a_definition_stored_earlier_does_not_run_after_the_setting_changes(backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with backend_env(backend, tmp_path) as env:
        # The operator once allowed raw refs; an agent with one was stored and a run queued.
        async with _app(
            env, auth_mode="required", run_worker=False, tools={"allow_unregistered": True}
        ) as client:
            app_services = client._transport.app.state.services  # type: ignore[attr-defined]
            key = {"X-API-Key": (await app_services.keys.create("acme", "k", False)).key}
            tool = {"kind": "python", "ref": f"{SAMPLE}:double"}
            assert (
                await client.post("/v1/agents", json=_agent("old", [tool]), headers=key)
            ).status_code == 201
            queued = await client.post(
                "/v1/runs", json={"agent": "old", "prompt": "x", "mode": "async"}, headers=key
            )
            assert queued.status_code == 202, queued.text
        # Now it is off: new runs are refused, and the queued one fails without running the tool.
        async with _app(env, auth_mode="required") as client:
            refused = await client.post("/v1/runs", json={"agent": "old", "prompt": "x"}, headers=key)
            assert refused.status_code == 422 and refused.json()["error"]["code"] == "tool_not_allowed"
            run_id = queued.json()["id"]
            for _ in range(200):
                run = (await client.get(f"/v1/runs/{run_id}", headers=key)).json()
                if run["status"] not in ("queued", "running"):
                    break
                await asyncio.sleep(0.05)
            assert run["status"] == "failed" and run["error"]["code"] == "tool_not_allowed", run
