"""A worker SIGKILLed while a sandboxed multi-step run's command executes.

After a restart (SQLite: same data dir, same executor) or a takeover by another worker
(PostgreSQL) the run completes; finished commands are not run again, the files they wrote are
there, and the model is not asked again for the turns it had already answered.

The command in flight at the kill runs again (at least once), but its killed execution was never
archived: the resumed run starts from the files the finished steps left, so its effect is in the
workspace exactly once.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentrun.settings import Settings
from tests.distributed.conftest import pg_url, start_cluster  # noqa: F401 - pg_url is a fixture
from tests.e2e.test_crash_recovery import _position, _server, _wait_for
from tests.support.fake_openai import FakeOpenAI, ToolCall, Turn

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

STEP1 = "echo one >> log.txt; date +%s%N >> runs-of-step1.txt"
# Killed during its sleep on the first execution; its second execution shows what it started from.
STEP2 = "echo two >> log.txt; date +%s%N >> runs-of-step2.txt; sleep 3; cat log.txt"
STEP3 = "echo three >> log.txt; date +%s%N >> runs-of-step3.txt"
SCRIPT = [
    Turn(tool_calls=[ToolCall("shell", {"command": STEP1})]),
    Turn(tool_calls=[ToolCall("shell", {"command": STEP2})]),
    Turn(tool_calls=[ToolCall("shell", {"command": STEP3})]),
    Turn(text="all three steps ran"),
]
AGENT = {
    "slug": "boxed",
    "model": "openai:gpt-4o-mini",
    "instructions": "Run the commands.",
    "sandbox": {},
    "publish": True,
}


@pytest.fixture
def sandbox_dirs() -> Iterator[list[Path]]:
    """Local sandbox copies of the processes a test starts, removed afterwards (they live in /tmp)."""
    dirs: list[Path] = []
    yield dirs
    for folder in dirs:
        shutil.rmtree(folder, ignore_errors=True)


def _local_copy(data_dir: Path, sandbox_dirs: list[Path]) -> Path:
    """Where the process with ``data_dir`` keeps its local copies of sandboxes."""
    workdir = Settings(data_dir=data_dir).sandbox_workdir
    sandbox_dirs.append(workdir)
    return workdir


def _start_run(client: httpx.Client) -> str:
    assert client.put("/v1/agents/boxed", json=AGENT).status_code in (200, 201)
    resp = client.post("/v1/runs", json={"agent": "boxed", "prompt": "do the steps", "mode": "async"})
    assert resp.status_code in (200, 201, 202), resp.text
    return resp.json()["id"]  # type: ignore[no-any-return]


def _events(client: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    return client.get(f"/v1/runs/{run_id}/events", params={"limit": 200}).json()["data"]  # type: ignore[no-any-return]


def _step2_executing(
    client: httpx.Client, run_id: str, workdirs: dict[str, Path]
) -> tuple[str, dict[str, Any]]:
    """Wait until step 2's command runs: its tool_call event is out and its first line is written.

    Returns which process runs it (a key of ``workdirs``) and the run as it was then.
    """

    def step2_called() -> bool:
        return any(
            e["type"] == "tool_call" and e["data"]["args"] == {"command": STEP2}
            for e in _events(client, run_id)
        )

    _wait_for(step2_called, 30, "the tool_call event of step 2")
    run = client.get(f"/v1/runs/{run_id}").json()
    assert run["sandbox_id"], run
    found: list[str] = []

    def two_written() -> bool:
        for name, workdir in workdirs.items():
            log = workdir / run["sandbox_id"] / "workspace" / "log.txt"
            if log.exists() and "two" in log.read_text():
                found.append(name)
                return True
        return False

    _wait_for(two_written, 10, "step 2's command to write its first line")
    return found[0], run


def _left_by_killed(local_copy: Path) -> list[str]:
    """log.txt in the killed process's local copy of the sandbox, right after the kill."""
    return (local_copy / "workspace" / "log.txt").read_text().split()


def _assert_recovered(
    client: httpx.Client, run_id: str, fake: FakeOpenAI, left_by_killed: list[str], killed_at: float
) -> dict[str, Any]:
    """Wait for the run to finish and check what it did; returns the final run."""
    final = client.get(f"/v1/runs/{run_id}", params={"wait_s": 60}, timeout=70).json()
    recovered_s = time.monotonic() - killed_at
    events = _events(client, run_id)
    sandbox = final["sandbox_id"]

    def file(path: str) -> str:
        resp = client.get(f"/v1/sandboxes/{sandbox}/files/{path}")
        assert resp.status_code == 200, (path, resp.status_code, resp.text)
        return resp.text

    log = file("log.txt").split()
    runs = {step: len(file(f"runs-of-step{step}.txt").split()) for step in (1, 2, 3)}
    listed = sorted(f["path"] for f in client.get(f"/v1/sandboxes/{sandbox}/files").json())
    positions = [_position(body) for body in fake.requests]
    calls = [e["data"]["args"]["command"] for e in events if e["type"] == "tool_call"]
    results = [e for e in events if e["type"] == "tool_result"]
    print(
        f"recovered in {recovered_s:.1f}s after the kill; log.txt={log}; kept executions per step={runs}; "
        f"model requests by turn={positions}; the killed execution's local copy had {left_by_killed}; "
        f"executor={final['executor_id']} attempt={final['attempt']}"
    )

    assert final["status"] == "completed", final
    assert final["result"] == "all three steps ran"
    # The killed process had started step 2 (at least once) ...
    assert left_by_killed == ["one", "two"]
    # ... but only the completed execution's files were kept; steps 1 and 3 ran exactly once.
    assert log == ["one", "two", "three"], log
    assert runs == {1: 1, 2: 1, 3: 1}, runs
    assert listed == ["log.txt", "runs-of-step1.txt", "runs-of-step2.txt", "runs-of-step3.txt"]
    # Step 2's second execution started from what step 1 left, not from the killed execution's files.
    step2_result = next(r for r in results if r["data"]["tool_call_id"] == _call_id(events, STEP2))
    assert step2_result["data"]["ok"], step2_result
    assert step2_result["content"].split()[-2:] == ["one", "two"], step2_result["content"]
    # Turns 0 and 1 were answered before the kill: asked once each; the rest once each too
    # (the kill hit a command, not a model request).
    assert sorted(positions) == [0, 1, 2, 3], positions
    assert calls == [STEP1, STEP2, STEP3], calls
    assert [r["data"]["ok"] for r in results] == [True, True, True]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e["type"] for e in events].count("run.completed") == 1
    return final


def _call_id(events: list[dict[str, Any]], command: str) -> str:
    return next(
        e["data"]["tool_call_id"]
        for e in events
        if e["type"] == "tool_call" and e["data"]["args"] == {"command": command}
    )


def test_sigkill_mid_command_then_restart_on_sqlite(tmp_path, sandbox_dirs) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAI(SCRIPT) as fake:
        server = _server(tmp_path, fake)
        workdir = _local_copy(server.data_dir, sandbox_dirs)
        server.start()
        try:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                run_id = _start_run(client)
                _, run = _step2_executing(client, run_id, {"server": workdir})
                server.kill()
                killed_at = time.monotonic()
                left = _left_by_killed(workdir / run["sandbox_id"])
                server.start()  # same data dir: same executor id, DBOS resumes the workflow
                final = _assert_recovered(client, run_id, fake, left, killed_at)
        finally:
            server.stop()
    assert final["executor_id"] == run["executor_id"]


@pytest.mark.postgres
def test_sigkill_mid_command_then_takeover_on_postgres(tmp_path, pg_url, sandbox_dirs) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    with FakeOpenAI(SCRIPT) as fake:
        env = {
            "AGENTRUN_PROVIDERS__OPENAI_API_KEY": "sk-test",
            "AGENTRUN_PROVIDERS__OPENAI_BASE_URL": fake.url,
        }
        cluster = start_cluster(tmp_path, pg_url, apis=1, workers=2, env=env)
        try:
            workers = {w.extra_env["AGENTRUN_EXECUTOR_ID"]: w for w in cluster.workers}
            workdirs = {name: _local_copy(w.data_dir, sandbox_dirs) for name, w in workers.items()}
            _local_copy(cluster.apis[0].data_dir, sandbox_dirs)  # the API node's, for the file reads
            with httpx.Client(base_url=cluster.apis[0].url, timeout=30) as client:
                run_id = _start_run(client)
                victim, run = _step2_executing(client, run_id, workdirs)
                assert run["executor_id"] == victim, run
                workers[victim].kill()  # not restarted: the other worker must take the run over
                killed_at = time.monotonic()
                left = _left_by_killed(workdirs[victim] / run["sandbox_id"])
                final = _assert_recovered(client, run_id, fake, left, killed_at)
        finally:
            cluster.stop()
    assert final["executor_id"] != victim and final["executor_id"] in workers, final
