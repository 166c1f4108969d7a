"""An operator-registered stdio MCP server marked ``in_sandbox`` runs inside the run's sandbox:
unprivileged, with the sandbox's view of the machine; the files it writes persist with the
sandbox; its process ends with the run."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

import pytest

from tests.support.plain_mcp_server import SOURCE

pytestmark = pytest.mark.slow

SECRET_ENV = "AGENTRUN_TEST_SECRET_FOR_MCP"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    server = {
        "command": "/usr/bin/python3",
        "args": ["-c", SOURCE],
        "env": {"NOTE_MODE": "test"},
        "in_sandbox": True,
    }
    return {"auth_mode": "required", "tools": {"mcp_servers": {"notes": server}}}


async def _run(
    api: Any, headers: dict[str, str], *steps: dict[str, Any], **extra: Any
) -> tuple[dict, list[dict]]:
    resp = await api.client.post(
        "/v1/runs",
        json={"agent": "noted", "prompt": "go", "cached_workflow": {"steps": list(steps)}, **extra},
        headers=headers,
    )
    assert resp.status_code == 200, resp.text
    run = resp.json()
    events = (await api.client.get(f"/v1/runs/{run['id']}/events", headers=headers)).json()["data"]
    return run, [e for e in events if e["type"] == "tool_result"]


async def test_the_server_runs_sandboxed_and_its_files_persist(api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(SECRET_ENV, "do-not-leak")
    headers = {"X-API-Key": (await api.services.keys.create("acme", "k", False)).key}
    agent = {"slug": "noted", "model": "test", "tools": [{"kind": "mcp", "server": "notes"}]}
    assert (await api.client.post("/v1/agents", json=agent, headers=headers)).status_code == 201

    run, results = await _run(
        api,
        headers,
        {"name": "whoami", "params": {}},
        {"name": "write_note", "params": {"text": "kept across runs"}},
    )
    assert run["status"] == "completed" and run["sandbox_id"], run  # the server's use gave it a sandbox
    seen = json.loads(results[0]["content"])
    assert seen["uid"] != 0 and seen["cwd"] == "/workspace"
    assert not seen["root"] and not seen["shadow"] and not seen["work"]
    assert SECRET_ENV not in seen["env"] and "NOTE_MODE" in seen["env"]
    assert results[1]["data"]["ok"], results[1]

    note = await api.client.get(f"/v1/sandboxes/{run['sandbox_id']}/files/note.txt", headers=headers)
    assert note.status_code == 200 and note.text == "kept across runs"

    # The server process ended with the run.
    for _ in range(50):
        alive = subprocess.run(["pgrep", "-f", "agentrun-plain-mcp-server"], capture_output=True).stdout
        if not alive:
            break
        await asyncio.sleep(0.1)
    assert not alive

    # The next run in the same sandbox starts a new server that sees the note.
    _, again = await _run(api, headers, {"name": "read_note", "params": {}}, sandbox_id=run["sandbox_id"])
    assert again[0]["content"] == "kept across runs"
