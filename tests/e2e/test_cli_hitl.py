"""The CLI and a run that waits for a person: ``agentrun run`` keeps waiting (and says how to
answer) when stdin is no terminal; ``agentrun runs answer`` answers it by id."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest

from tests.e2e.test_cli import CLI, as_json, cli

pytestmark = pytest.mark.slow

AGENT = {
    "slug": "asks-first",
    "model": "test:tools",  # the offline model calls every tool once, then reports the results
    "tools": [{"kind": "builtin", "name": "calculator", "requires_approval": True}],
    "publish": True,
}


def test_run_waits_and_runs_answer_approves_it(live_server) -> None:  # type: ignore[no-untyped-def]
    assert httpx.put(f"{live_server.url}/v1/agents/asks-first", json=AGENT).status_code in (200, 201)
    running = subprocess.Popen(
        [*CLI, "run", "asks-first", "add"],
        env=live_server.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        waiting: list[dict] = []  # type: ignore[type-arg]
        deadline = time.monotonic() + 60
        while not waiting and time.monotonic() < deadline:
            waiting = as_json(cli(live_server, "runs", "list", "--status", "requires_action", "--json"))
            time.sleep(0.2)
        assert waiting, "the run never waited"
        run = httpx.get(f"{live_server.url}/v1/runs/{waiting[0]['id']}").json()
        (pending,) = run["pending_actions"]
        assert pending["tool"] == "calculator"
        answered = as_json(cli(live_server, "runs", "answer", run["id"], pending["id"], "approve", "--json"))
        assert answered["status"] in ("queued", "running", "completed")
        stdout, stderr = running.communicate(timeout=60)
    finally:
        running.kill()
    assert running.returncode == 0, stderr
    assert "agentrun runs answer" in stderr  # it said how to answer
    final = httpx.get(f"{live_server.url}/v1/runs/{run['id']}").json()
    assert final["status"] == "completed"
    assert stdout.strip() == final["result"]
    again = cli(live_server, "runs", "answer", run["id"], pending["id"], "deny")
    assert again.returncode == 3 and "run_not_waiting" in (again.stderr + again.stdout)
    assert final["resumes"] == 1
