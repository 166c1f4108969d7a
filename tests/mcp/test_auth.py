"""/mcp takes the API's keys: 401 without one when keys are required; every call is project-scoped."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.mcp.conftest import bootstrap_key, create_agent, mcp_client
from tests.mcp.test_http import error_text, ok, wait_done
from tests.support.live import LiveServer

pytestmark = pytest.mark.slow

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def project_key(server: LiveServer, project: str) -> str:
    resp = httpx.post(
        f"{server.url}/v1/admin/keys",
        json={"project": project, "name": "mcp test"},
        headers={"Authorization": f"Bearer {bootstrap_key(server)}"},
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["key"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer ar_not-a-key"},
        {"X-API-Key": "ar_not-a-key"},
        {"Authorization": "Basic x"},
    ],
    ids=["none", "bad-bearer", "bad-x-api-key", "not-bearer"],
)
def test_missing_or_bad_key_is_401_with_the_native_error_body(keyed_server: LiveServer, headers) -> None:  # type: ignore[no-untyped-def]
    resp = httpx.post(f"{keyed_server.url}/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **headers})
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "unauthorized"
    assert resp.headers["www-authenticate"] == "Bearer"


async def test_official_client_without_a_key_cannot_connect(keyed_server: LiveServer) -> None:
    # The SDK reports the 401 as a generic error response (the status itself is checked above).
    with pytest.raises(Exception):  # noqa: B017, PT011 - the SDK's exception type is its own business
        async with mcp_client(keyed_server) as client:
            await client.list_tools()


@pytest.mark.parametrize("header", ["Authorization", "X-API-Key"])
async def test_a_valid_key_works_in_either_header(keyed_server: LiveServer, header: str) -> None:
    key = bootstrap_key(keyed_server)
    value = f"Bearer {key}" if header == "Authorization" else key
    async with mcp_client(keyed_server, headers={header: value}) as client:
        started = await ok(client, "run_agent", {"agent_id": "demo", "prompt": "with a key"})
        done = await wait_done(client, started["execution_id"])
    assert done["status"] == "completed"


async def test_calls_are_scoped_to_the_key_project(keyed_server: LiveServer) -> None:
    default_headers = {"Authorization": f"Bearer {bootstrap_key(keyed_server)}"}
    other_headers = {"Authorization": f"Bearer {project_key(keyed_server, 'mcp-other')}"}
    own_slug = create_agent(keyed_server, "test", headers=other_headers)

    async with mcp_client(keyed_server, headers=default_headers) as client:
        started = await ok(client, "run_agent", {"agent_id": "demo", "prompt": "mine"})
        await wait_done(client, started["execution_id"])
        default_agents = {a["slug"] for a in (await ok(client, "list_agents", {}))["agents"]}
        assert "demo" in default_agents and own_slug not in default_agents

    run_id = started["execution_id"]
    async with mcp_client(keyed_server, headers=other_headers) as client:
        for tool in ("get_run_status", "get_run_logs", "cancel_run"):
            text = await error_text(client, tool, {"execution_id": run_id})
            assert f"No run with id {run_id!r}" in text, (tool, text)
        text = await error_text(client, "run_agent", {"agent_id": "demo", "prompt": "not yours"})
        assert "'demo'" in text
        assert {a["slug"] for a in (await ok(client, "list_agents", {}))["agents"]} == {own_slug}
        own = await ok(client, "run_agent", {"agent_id": own_slug, "prompt": "ours"})
        assert (await wait_done(client, own["execution_id"]))["status"] == "completed"


async def test_a_thread_id_of_another_project_is_a_thread_of_its_own(keyed_server: LiveServer) -> None:
    # Thread ids are scoped per project: the same id elsewhere is neither refused (an existence
    # oracle) nor shared; it starts this project's own thread.
    default_headers = {"Authorization": f"Bearer {bootstrap_key(keyed_server)}"}
    other_headers = {"Authorization": f"Bearer {project_key(keyed_server, 'mcp-threads')}"}
    thread_id = str(uuid.uuid4())
    async with mcp_client(keyed_server, headers=default_headers) as client:
        first = await ok(client, "run_agent", {"agent_id": "demo", "prompt": "a", "thread_id": thread_id})
        await wait_done(client, first["execution_id"])
    other_slug = create_agent(keyed_server, "test", headers=other_headers)
    async with mcp_client(keyed_server, headers=other_headers) as client:
        args = {"agent_id": other_slug, "prompt": "b", "thread_id": thread_id}
        second = await ok(client, "run_agent", args)
        assert second["thread_id"] == thread_id
        assert (await wait_done(client, second["execution_id"]))["status"] == "completed"
    thread = httpx.get(f"{keyed_server.url}/v1/threads/{thread_id}", headers=default_headers).json()
    assert thread["run_count"] == 1
    theirs = httpx.get(f"{keyed_server.url}/v1/threads/{thread_id}", headers=other_headers).json()
    assert theirs["run_count"] == 1 and [m["content"] for m in theirs["messages"]][0] == "b"
