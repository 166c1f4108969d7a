"""The ``agentrun`` CLI as a subprocess against a real server process (``live_server``)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from agentrun.client import Client
from tests.support.live import free_port

pytestmark = pytest.mark.slow

OFFLINE = "[offline test model"
CLI = [sys.executable, "-m", "agentrun.cli.main"]

AGENTS_YAML = """\
slug: calc
name: Calculator
model: "test:tools"
instructions: Use the calculator.
tools:
  - kind: builtin
    name: calculator
---
slug: slow
model: "test:sleep-20000"
---
slug: tight
model: "test:sleep-5000"
config:
  timeout_s: 0.5
"""


def cli(live, *args: str, stdin: str | None = None, timeout: float = 90) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [*CLI, *args], env=live.env, input=stdin, capture_output=True, text=True, timeout=timeout
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


def as_json(result: subprocess.CompletedProcess[str]):  # type: ignore[no-untyped-def]
    return json.loads(ok(result).stdout)


class Background:
    """A CLI process whose stderr lines can be awaited (a condition, not a sleep)."""

    def __init__(self, live, *args: str) -> None:  # type: ignore[no-untyped-def]
        self.proc = subprocess.Popen(
            [*CLI, *args], env=live.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)

    def wait_for(self, marker: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.stderr.append(line)
            if marker in line:
                return
        self.proc.kill()
        raise AssertionError(f"{marker!r} never appeared on stderr:\n{''.join(self.stderr)}")

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        stdout = self.proc.stdout.read() if self.proc.stdout else ""
        code = self.proc.wait(timeout)
        while not self.lines.empty():
            self.stderr.append(self.lines.get())
        return code, stdout, "".join(self.stderr)


def test_run_streams_the_answer_and_the_run_can_be_inspected(live_server) -> None:  # type: ignore[no-untyped-def]
    streamed = ok(cli(live_server, "run", "demo", "hello from the cli"))
    assert streamed.stdout.startswith(OFFLINE) and "hello from the cli" in streamed.stdout
    assert "completed" in streamed.stderr and "offline test model" in streamed.stderr

    final = as_json(cli(live_server, "run", "demo", "json please", "--json"))
    assert final["status"] == "completed" and final["result"].startswith(OFFLINE)

    run_id = ok(cli(live_server, "run", "demo", "later", "--async")).stdout.strip()
    assert run_id and "\n" not in run_id
    followed = ok(cli(live_server, "logs", run_id, "--follow"))
    assert "run.queued" in followed.stdout and "run.completed" in followed.stdout
    seqs = [int(line.split()[0]) for line in followed.stdout.splitlines()]
    assert seqs == list(range(1, len(seqs) + 1))

    lines = ok(cli(live_server, "runs", "logs", run_id, "--json")).stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["seq"] for e in events] == seqs and events[-1]["type"] == "run.completed"
    tail = ok(cli(live_server, "runs", "logs", run_id, "--after", "2", "--json")).stdout.splitlines()
    assert [json.loads(line)["seq"] for line in tail] == seqs[2:]

    shown = as_json(cli(live_server, "runs", "show", run_id, "--json"))
    assert shown["id"] == run_id and shown["status"] == "completed"
    assert run_id in ok(cli(live_server, "runs", "show", run_id)).stdout
    listed = as_json(cli(live_server, "runs", "list", "--agent", "demo", "--status", "completed", "--json"))
    assert run_id in [r["id"] for r in listed] and {r["status"] for r in listed} == {"completed"}
    assert len(as_json(cli(live_server, "runs", "list", "--limit", "2", "--json"))) == 2
    assert run_id in ok(cli(live_server, "runs", "list")).stdout


def test_prompt_from_stdin(live_server) -> None:  # type: ignore[no-untyped-def]
    result = ok(cli(live_server, "run", "demo", "-", stdin="piped prompt"))
    assert "piped prompt" in result.stdout


def test_exit_codes_for_failures_and_errors(live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    agents_file = tmp_path / "agents.yaml"
    agents_file.write_text(AGENTS_YAML)
    ok(cli(live_server, "agents", "apply", "-f", str(agents_file)))

    timed_out = cli(live_server, "run", "tight", "too slow")
    assert timed_out.returncode == 1, timed_out.stderr
    assert "timed_out" in timed_out.stderr

    missing = cli(live_server, "run", "no-such-agent", "hi")
    assert missing.returncode == 3 and "agent_not_found" in missing.stderr
    assert missing.stdout == ""

    assert cli(live_server, "run", "demo").returncode == 3  # no prompt, no --input
    bad_input = cli(live_server, "run", "demo", "--input", "{not json")
    assert bad_input.returncode == 3 and "not valid JSON" in bad_input.stderr
    assert cli(live_server, "runs", "list", "--no-such-flag").returncode == 3
    assert cli(live_server, "runs", "show", "run_nope").returncode == 3

    unreachable = subprocess.run(
        [*CLI, "--url", "http://127.0.0.1:9", "agents", "list"], capture_output=True, text=True, timeout=60
    )
    assert unreachable.returncode == 3 and "Could not reach" in unreachable.stderr


def test_structured_input_and_tool_calls_show_live(live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    agents_file = tmp_path / "agents.yaml"
    agents_file.write_text(AGENTS_YAML)
    ok(cli(live_server, "agents", "apply", "-f", str(agents_file)))
    result = ok(cli(live_server, "run", "calc", "what is 2+2?"))
    assert "→ calculator(" in result.stderr and "← calculator" in result.stderr
    assert "tool results" in result.stdout

    input_file = tmp_path / "input.json"
    input_file.write_text(json.dumps({"question": "from a file"}))
    from_file = as_json(cli(live_server, "run", "demo", "--input", f"@{input_file}", "--json"))
    assert from_file["input"] == {"question": "from a file"} and from_file["status"] == "completed"


def test_cancelling_from_another_command_exits_2(live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    agents_file = tmp_path / "agents.yaml"
    agents_file.write_text(AGENTS_YAML)
    ok(cli(live_server, "agents", "apply", "-f", str(agents_file)))
    watcher = Background(live_server, "run", "slow", "wait for it")
    watcher.wait_for("▶")
    deadline = time.monotonic() + 30
    running: list = []
    while not running and time.monotonic() < deadline:  # the started event may precede the status write
        running = as_json(
            cli(live_server, "runs", "list", "--agent", "slow", "--status", "running", "--json")
        )
    assert len(running) == 1
    cancelled = ok(cli(live_server, "runs", "cancel", running[0]["id"]))
    assert "cancel" in cancelled.stdout
    code, _, stderr = watcher.finish()
    assert code == 2, stderr
    assert "cancelled" in stderr
    again = cli(live_server, "runs", "cancel", running[0]["id"])
    assert again.returncode == 3 and "run_finished" in again.stderr


def test_ctrl_c_cancels_the_run(live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    agents_file = tmp_path / "agents.yaml"
    agents_file.write_text(AGENTS_YAML)
    ok(cli(live_server, "agents", "apply", "-f", str(agents_file)))
    watcher = Background(live_server, "run", "slow", "interrupt me")
    watcher.wait_for("▶")
    watcher.proc.send_signal(signal.SIGINT)
    code, _, stderr = watcher.finish()
    assert code == 2, stderr
    assert "cancelling run" in stderr
    last = as_json(cli(live_server, "runs", "list", "--agent", "slow", "--limit", "1", "--json"))
    assert last[0]["status"] == "cancelled"


def test_agents_commands(live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    agents_file = tmp_path / "agents.yaml"
    agents_file.write_text(AGENTS_YAML)
    applied = ok(cli(live_server, "agents", "apply", "-f", str(agents_file)))
    assert applied.stdout.count("applied") == 3

    slugs = {a["slug"] for a in as_json(cli(live_server, "agents", "list", "--json"))}
    assert {"demo", "calc", "slow", "tight"} <= slugs
    assert "calc" in ok(cli(live_server, "agents", "list")).stdout
    shown = ok(cli(live_server, "agents", "show", "calc"))
    assert "builtin:calculator" in shown.stdout and "Use the calculator." in shown.stdout

    changed = tmp_path / "calc.json"
    changed.write_text(
        json.dumps(
            {
                "slug": "calc",
                "model": "test:tools",
                "instructions": "Changed.",
                "tools": [{"kind": "builtin", "name": "calculator"}],
            }
        )
    )
    after = as_json(cli(live_server, "agents", "apply", "-f", str(changed), "--no-publish", "--json"))
    assert after[0]["latest_revision"] == 2 and after[0]["published_revision"] == 1
    revisions = as_json(cli(live_server, "agents", "revisions", "calc", "--json"))
    assert sorted(r["number"] for r in revisions) == [1, 2]
    ok(cli(live_server, "agents", "publish", "calc", "2"))
    assert as_json(cli(live_server, "agents", "show", "calc", "--json"))["published_revision"] == 2

    ok(cli(live_server, "agents", "archive", "calc"))
    refused = cli(live_server, "run", "calc", "still there?")
    assert refused.returncode == 3 and "agent_archived" in refused.stderr
    assert "calc" not in {a["slug"] for a in as_json(cli(live_server, "agents", "list", "--json"))}
    assert "calc" in {a["slug"] for a in as_json(cli(live_server, "agents", "list", "--all", "--json"))}

    no_slug = tmp_path / "bad.yaml"
    no_slug.write_text("model: test\n")
    result = cli(live_server, "agents", "apply", "-f", str(no_slug))
    assert result.returncode == 3 and "slug" in result.stderr
    assert cli(live_server, "agents", "apply", "-f", str(tmp_path / "missing.yaml")).returncode == 3
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("slug: broken\nmodel: nonsense\n")
    rejected = cli(live_server, "agents", "apply", "-f", str(invalid))
    assert rejected.returncode == 3 and "validation_error" in rejected.stderr


def test_threads_commands(live_server) -> None:  # type: ignore[no-untyped-def]
    with Client(live_server.url) as client:
        thread = client.threads.create(agent="demo", title="cli thread")
    ok(cli(live_server, "run", "demo", "hello thread", "--thread", thread.id))
    shown = ok(cli(live_server, "threads", "show", thread.id))
    assert "hello thread" in shown.stdout and "cli thread" in shown.stdout
    detail = as_json(cli(live_server, "threads", "show", thread.id, "--json"))
    assert [m["role"] for m in detail["messages"]][:2] == ["user", "assistant"]
    assert thread.id in [t["id"] for t in as_json(cli(live_server, "threads", "list", "--json"))]
    assert thread.id in ok(cli(live_server, "threads", "list", "--agent", "demo")).stdout
    runs = as_json(cli(live_server, "runs", "list", "--thread", thread.id, "--json"))
    assert len(runs) == 1 and runs[0]["thread_id"] == thread.id
    ok(cli(live_server, "threads", "delete", thread.id))
    gone = cli(live_server, "threads", "show", thread.id)
    assert gone.returncode == 3 and "thread_not_found" in gone.stderr


def test_serve_flags_override_the_environment(tmp_path: Path) -> None:
    port, env_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTRUN_")}
    env.update({"AGENTRUN_PORT": str(env_port), "AGENTRUN_DATA_DIR": str(tmp_path / "ignored")})
    data_dir = tmp_path / "data"
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        ready = False
        while not ready and time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.1)  # polling a condition: the server is not listening yet
        assert ready, "agentrun serve did not become ready on the --port given"
        with Client(f"http://127.0.0.1:{port}") as client:
            assert client.runs.run("demo", "via serve").status == "completed"
        assert data_dir.is_dir() and not (tmp_path / "ignored").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    assert proc.stdout is not None
    assert f"listening on http://127.0.0.1:{port}" in proc.stdout.read()
