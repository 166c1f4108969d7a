"""Attack suite, part 2: what an agent's commands can reach inside its sandbox.

Each command is driven through the public API as a cached workflow (recorded tool calls replayed
without a model), with an ordinary project key, on SQLite and PostgreSQL, in real bubblewrap.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.slow

SECRET_ENV = "AGENTRUN_TEST_SECRET_IN_SERVER_ENV"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {
        "auth_mode": "required",
        "sandbox": {"wall_s": 5, "cpu_s": 3, "memory_mb": 256, "max_processes": 32, "max_output_bytes": 8192},
    }


@pytest.fixture
async def tenant(api) -> dict[str, str]:  # type: ignore[no-untyped-def]
    headers = {"X-API-Key": (await api.services.keys.create("acme", "tenant", False)).key}
    body = {"slug": "box", "model": "test", "sandbox": {}}
    assert (await api.client.post("/v1/agents", json=body, headers=headers)).status_code == 201
    return headers


async def _shell(
    api: Any, headers: dict[str, str], *commands: str, **run: Any
) -> tuple[dict[str, Any], list[dict]]:
    steps = [{"name": "shell", "params": {"command": c}} for c in commands]
    resp = await api.client.post(
        "/v1/runs",
        json={"agent": "box", "prompt": "go", "cached_workflow": {"steps": steps}, **run},
        headers=headers,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    events = (await api.client.get(f"/v1/runs/{body['id']}/events", headers=headers)).json()["data"]
    return body, [e for e in events if e["type"] == "tool_result"]


async def test_the_run_reports_its_sandbox_and_files_stay_inside(api, tenant) -> None:  # type: ignore[no-untyped-def]
    run, results = await _shell(api, tenant, "echo hello > note.txt && cat note.txt && id -u")
    assert run["sandbox_id"], run
    assert results[0]["data"]["ok"] and "hello" in results[0]["content"], results[0]["content"]
    assert "exit code: 0" in results[0]["content"]
    assert results[0]["content"].split()[-1] != "0"  # not root inside
    listed = await api.client.get(f"/v1/sandboxes/{run['sandbox_id']}/files", headers=tenant)
    assert [f["path"] for f in listed.json()] == ["note.txt"]


async def test_no_view_of_server_files_env_or_secrets(api, tenant, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(SECRET_ENV, "s3cr3t-value")
    data_dir = str(api.settings.data_dir.resolve())
    _, results = await _shell(
        api,
        tenant,
        f"ls {data_dir} 2>&1; echo rc=$?",
        "cat /etc/shadow 2>&1; echo rc=$?",
        "ls /root 2>&1; echo rc=$?",
        "env",
        f"cat /proc/1/environ 2>&1 | tr '\\0' '\\n' | grep {SECRET_ENV}; echo rc=$?",
    )
    assert [r["data"]["ok"] for r in results] == [True] * 5
    listing, shadow, root, env, proc = (r["content"] for r in results)
    assert "agentrun.sqlite" not in listing and "rc=0" not in listing
    assert "root:" not in shadow and "rc=0" not in shadow
    assert "rc=0" not in root
    assert "s3cr3t-value" not in env and "OPENAI" not in env and SECRET_ENV not in env
    assert "s3cr3t-value" not in proc


async def test_cannot_write_outside_the_workspace(api, tenant) -> None:  # type: ignore[no-untyped-def]
    _, results = await _shell(
        api, tenant, "touch /usr/pwned 2>&1; echo rc=$?", "touch /etc/pwned 2>&1; echo rc=$?"
    )
    assert all("rc=0" not in r["content"] for r in results)
    assert not os.path.exists("/usr/pwned") and not os.path.exists("/etc/pwned")


@pytest.fixture
def host_listener() -> Iterator[int]:
    accepted: list[Any] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()
    assert accepted == []  # nothing inside a sandbox reached it


async def test_no_network_by_default(api, tenant, host_listener) -> None:  # type: ignore[no-untyped-def]
    probe = (
        'python3 -c "import socket; s=socket.socket(); s.settimeout(2); '
        f"s.connect(('127.0.0.1', {host_listener})); print('CONNECTED')\" 2>&1; echo rc=$?"
    )
    _, results = await _shell(api, tenant, probe)
    assert "CONNECTED" not in results[0]["content"] and "rc=0" not in results[0]["content"]


async def test_network_needs_the_operators_consent(api, tenant) -> None:  # type: ignore[no-untyped-def]
    body = {"slug": "netbox", "model": "test", "sandbox": {"network": True}}
    resp = await api.client.post("/v1/agents", json=body, headers=tenant)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "tool_not_allowed"
    assert "AGENTRUN_SANDBOX__ALLOW_NETWORK" in resp.json()["error"]["message"]


async def test_sandboxes_do_not_see_each_other(api, tenant) -> None:  # type: ignore[no-untyped-def]
    first, _ = await _shell(api, tenant, "echo mine > private.txt")
    _, results = await _shell(api, tenant, "ls -a / /workspace; find / -name private.txt 2>/dev/null | head")
    assert "private.txt" not in results[0]["content"]
    assert first["sandbox_id"]


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("bash -c ':(){ :|:& };:; wait'", "process"),  # dash has no ':' functions: bash's classic
        ("python3 -c \"x = bytearray(2 << 30); print('allocated')\"", "memory"),
        ("while :; do :; done", "cpu"),
        ("sleep 30", "wall"),
        ("yes | head -c 10000000000", "output"),
    ],
    ids=["fork-bomb", "memory-hog", "endless-loop", "sleeper", "10GB-output"],
)
async def test_limits_stop_runaway_commands(api, tenant, command, why) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    run, results = await _shell(api, tenant, command)
    elapsed = time.monotonic() - started
    result = results[0]
    # A stopped command is a failed tool call the model sees, not a failed run or a dead server.
    assert result["data"]["ok"] is False, result
    assert "the command was stopped" in result["content"], result["content"]
    assert "allocated" not in result["content"]
    assert len(result["content"]) < 20_000
    assert elapsed < 60
    assert run["status"] == "completed"
    assert (await api.client.get("/healthz")).status_code == 200
    _, after = await _shell(api, tenant, "echo still-fine")  # the next command runs normally
    assert "still-fine" in after[0]["content"]


async def test_cancel_kills_a_running_command_within_a_second(api, tenant) -> None:  # type: ignore[no-untyped-def]
    steps = [{"name": "shell", "params": {"command": "sleep 4; echo done > late.txt"}}]
    resp = await api.client.post(
        "/v1/runs",
        json={"agent": "box", "prompt": "go", "mode": "async", "cached_workflow": {"steps": steps}},
        headers=tenant,
    )
    run = resp.json()
    for _ in range(200):  # until the command is running
        events = (await api.client.get(f"/v1/runs/{run['id']}/events", headers=tenant)).json()["data"]
        if any(e["type"] == "tool_call" for e in events):
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    started = time.monotonic()
    cancel = await api.client.post(f"/v1/runs/{run['id']}/cancel", headers=tenant)
    assert cancel.status_code in (200, 202), cancel.text
    for _ in range(100):
        status = (await api.client.get(f"/v1/runs/{run['id']}", headers=tenant)).json()["status"]
        if status == "cancelled":
            break
        await asyncio.sleep(0.02)
    assert status == "cancelled"
    assert time.monotonic() - started < 1.0
    await asyncio.sleep(4.5)  # had the command survived, it would have written its file by now
    files = (await api.client.get(f"/v1/sandboxes/{run['sandbox_id']}/files", headers=tenant)).json()
    assert all(f["path"] != "late.txt" for f in files)
