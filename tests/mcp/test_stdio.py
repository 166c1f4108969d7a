"""The MCP tools over stdio: the official client spawns ``python -m agentrun.mcp.stdio``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from mcp.client.stdio import stdio_client

from mcp import Client, StdioServerParameters
from tests.mcp.test_http import TOOLS, error_text, ok, wait_done
from tests.support.live import REPO

pytestmark = pytest.mark.slow


def stdio_params(data_dir: Path, **env: str) -> StdioServerParameters:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AGENTRUN_")}
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "agentrun.mcp.stdio"],
        env={
            **base,
            "AGENTRUN_DATA_DIR": str(data_dir),
            "PYTHONPATH": str(REPO) + os.pathsep + base.get("PYTHONPATH", ""),
            **env,
        },
        cwd=REPO,
    )


@pytest.mark.parametrize("auth_mode", ["auto", "required"])
async def test_stdio_serves_the_tools_end_to_end(tmp_path: Path, auth_mode: str) -> None:
    # In "required" mode the process prints a bootstrap key notice at start: it must not reach
    # stdout, or the client would read garbage instead of MCP messages.
    params = stdio_params(tmp_path / "data", AGENTRUN_AUTH_MODE=auth_mode)
    stderr = tmp_path / "stderr.log"
    with stderr.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
            agents = {a["slug"] for a in (await ok(client, "list_agents", {}))["agents"]}
            assert "demo" in agents
            started = await ok(client, "run_agent", {"agent_id": "demo", "prompt": "over stdio"})
            assert started["status"] == "queued"
            done = await wait_done(client, started["execution_id"])
            assert done["status"] == "completed" and "over stdio" in done["result"]
            logs = await ok(client, "get_run_logs", {"execution_id": started["execution_id"]})
            assert logs["events"][-1]["type"] == "run.completed"
            text = await error_text(client, "get_run_status", {"execution_id": "run_nope"})
            assert "No run with id 'run_nope'" in text
    if auth_mode == "required":
        assert "created admin API key" in stderr.read_text()
