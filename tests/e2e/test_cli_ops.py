"""Operator CLI: `agentrun db upgrade`, `agentrun keys create|list|revoke` against a live server's data."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from tests.support.live import LiveServer


def _cli(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentrun.cli.main", *args, "--data-dir", str(server.data_dir)],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_keys_created_by_the_cli_work_and_revoking_stops_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = LiveServer(tmp_path / "data", extra_env={"AGENTRUN_AUTH_MODE": "required"}).start()
    try:
        assert httpx.get(f"{server.url}/v1/agents").status_code == 401
        created = _cli(server, "keys", "create", "--project", "acme", "--name", "ci")
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        assert key.startswith("ar_") and "store it now" in created.stderr
        assert httpx.get(f"{server.url}/v1/agents", headers={"X-API-Key": key}).status_code == 200

        listed = json.loads(_cli(server, "keys", "list", "--json").stdout)
        mine = [k for k in listed if k["project_id"] == "acme"]
        assert len(mine) == 1 and "key" not in mine[0] and key.startswith(mine[0]["prefix"])

        revoked = _cli(server, "keys", "revoke", mine[0]["id"])
        assert revoked.returncode == 0, revoked.stderr
        assert httpx.get(f"{server.url}/v1/agents", headers={"X-API-Key": key}).status_code == 401
        assert _cli(server, "keys", "revoke", "key_missing").returncode == 3
    finally:
        server.stop()


def test_db_upgrade_reports_the_head_revision(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = LiveServer(tmp_path / "data")
    result = _cli(server, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    from agentrun.store.db import head_revision

    head = head_revision()
    assert f"schema at {head} (head {head})" in result.stdout


def test_a_setting_that_is_not_json_is_one_clear_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = LiveServer(tmp_path / "data")
    env = {**server.env, "AGENTRUN_PROVIDERS__COMPATIBLE": "{bad json"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentrun.cli.main",
            "serve",
            "--data-dir",
            str(server.data_dir),
            "--port",
            "0",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "invalid settings" in result.stderr and '"providers"' in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 3, result.stderr
