"""run_agent as seed 000 documents it: an agent's UUID, free-form params; and `agentrun mcp` beside a server."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from mcp.client.stdio import stdio_client

from mcp import Client, StdioServerParameters
from tests.mcp.conftest import mcp_client
from tests.mcp.test_http import ok, wait_done
from tests.support.live import REPO, LiveServer


def agent_id(server: LiveServer, slug: str) -> str:
    return httpx.get(f"{server.url}/v1/agents/{slug}").json()["id"]


async def test_agent_id_in_uuid_form_starts_a_run(open_server: LiveServer) -> None:
    native_id = agent_id(open_server, "demo")
    as_uuid = str(uuid.UUID(native_id.removeprefix("agt_")))
    async with mcp_client(open_server) as client:
        started = await ok(client, "run_agent", {"agent_id": as_uuid, "prompt": "by uuid"})
        assert started["agent_id"] == native_id and started["agent_slug"] == "demo"
        assert (await wait_done(client, started["execution_id"]))["status"] == "completed"


async def test_tool_descriptions_say_what_an_agent_id_looks_like(open_server: LiveServer) -> None:
    async with mcp_client(open_server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    run_agent = tools["run_agent"]
    described = run_agent.description + str(run_agent.input_schema["properties"]["agent_id"])
    assert "agt_" in described and "UUID" in described and "slug" in described


async def test_unknown_params_reach_the_run_and_known_ones_its_config(open_server: LiveServer) -> None:
    params = {"temperature": 0.3, "max_turns": 3, "style": "terse", "mode": "sync", "top_k": 5}
    async with mcp_client(open_server) as client:
        started = await ok(
            client, "run_agent", {"agent_id": "demo", "prompt": "with params", "params": params}
        )
        done = await wait_done(client, started["execution_id"])
    assert done["status"] == "completed"
    native = httpx.get(f"{open_server.url}/v1/runs/{started['execution_id']}").json()
    assert native["config"]["temperature"] == 0.3 and native["config"]["max_turns"] == 3
    assert native["metadata"]["params"] == {"style": "terse", "mode": "sync", "top_k": 5}
    assert native["mode"] == "async"  # the tool is asynchronous whatever `mode` says


async def test_explicit_config_wins_over_a_top_level_shortcut(open_server: LiveServer) -> None:
    params = {"max_turns": 3, "config": {"max_turns": 7}, "metadata": {"who": "me"}}
    async with mcp_client(open_server) as client:
        started = await ok(client, "run_agent", {"agent_id": "demo", "prompt": "both", "params": params})
    native = httpx.get(f"{open_server.url}/v1/runs/{started['execution_id']}").json()
    assert native["config"]["max_turns"] == 7 and native["metadata"] == {"who": "me"}


@pytest.mark.slow
async def test_agentrun_mcp_honours_run_worker_false(tmp_path: Path) -> None:
    # Beside a running server (docs/compat/000-mcp.md), `agentrun mcp` must only queue runs.
    base = {k: v for k, v in os.environ.items() if not k.startswith("AGENTRUN_")}
    params = StdioServerParameters(
        command=str(Path(sys.executable).parent / "agentrun"),
        args=["mcp"],
        env={
            **base,
            "AGENTRUN_DATA_DIR": str(tmp_path / "data"),
            "AGENTRUN_RUN_WORKER": "false",
            "PYTHONPATH": str(REPO) + os.pathsep + base.get("PYTHONPATH", ""),
        },
        cwd=REPO,
    )
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            started = await ok(client, "run_agent", {"agent_id": "demo", "prompt": "queue only"})
            await asyncio.sleep(3)  # an in-process worker would have finished it by now
            status = await ok(client, "get_run_status", {"execution_id": started["execution_id"]})
    assert status["status"] == "queued", status
