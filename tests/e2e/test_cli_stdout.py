"""``agentrun run``: stdout holds exactly the run's result; everything else goes to stderr once.

The server is a real process whose scripted model (registered in that process by ``serve``)
writes a preamble, calls the built-in ``calculator``, then answers: in text, or, for an agent
with an ``output_schema``, with a second preamble next to the call of the output tool. The
preamble streams as ``message.delta`` events and then comes back whole as a ``planning`` event.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from agentrun.client import Client, Run
from tests.support.live import LiveServer

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "agentrun.cli.main"]
MODEL = "test:stdout-script"
PREAMBLE = "PREAMBLE-7f3 let me check that with the calculator first."
SECOND_PREAMBLE = "PREAMBLE-9c1 now the structured answer."
# Newlines, a tab, a long line, rich markup and an emoji code, no final newline: all kept as is.
ANSWER = (
    "The answer is 42.\n\tline two [bold]not markup[/bold] :smile: é\n"
    + "x" * 300
    + "\nend without a newline"
)
RESULT = {"answer": 42, "note": "six times seven [b]é"}
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}, "note": {"type": "string"}},
    "required": ["answer", "note"],
}
AGENTS = [
    {
        "slug": "preamble-text",
        "model": MODEL,
        "tools": [{"kind": "builtin", "name": "calculator"}],
    },
    {
        "slug": "preamble-json",
        "model": MODEL,
        "tools": [{"kind": "builtin", "name": "calculator"}],
        "output_schema": SCHEMA,
    },
    {"slug": "too-slow", "model": "test:sleep-5000", "config": {"timeout_s": 0.5}},
]
SERVE = ("-c", "from tests.e2e.test_cli_stdout import serve; serve()")


# -- the server process's side ------------------------------------------------------------------


def _script(messages: list[Any], info: Any) -> list[Any]:
    """What the model says now: text pieces and ``(tool, args)`` calls, in order."""
    from pydantic_ai.messages import ModelRequest, ToolReturnPart, UserPromptPart

    returned = False
    for message in reversed(messages):  # only this run's turns: after the last user prompt
        if isinstance(message, ModelRequest):
            if any(isinstance(p, ToolReturnPart) for p in message.parts):
                returned = True
            if any(isinstance(p, UserPromptPart) for p in message.parts):
                break
    if not returned:
        return [PREAMBLE[:20], PREAMBLE[20:], ("calculator", {"expression": "6 * 7"})]
    if info.output_tools:
        return [SECOND_PREAMBLE, (info.output_tools[0].name, RESULT)]
    return [ANSWER[:50], ANSWER[50:]]


def serve() -> None:
    """The server process: the scripted model registered, then the embedded server."""
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
    from pydantic_ai.models.function import DeltaToolCall, FunctionModel

    from agentrun.api.server import run_server
    from agentrun.runtime.providers import register_test_model
    from agentrun.settings import Settings

    def respond(messages: list[Any], info: Any) -> ModelResponse:
        steps = _script(messages, info)
        text = "".join(s for s in steps if isinstance(s, str))
        calls = [
            ToolCallPart(s[0], s[1], tool_call_id=f"c{i}")
            for i, s in enumerate(steps)
            if isinstance(s, tuple)
        ]
        return ModelResponse(parts=[TextPart(text), *calls])

    async def stream(messages: list[Any], info: Any) -> AsyncIterator[Any]:
        for i, step in enumerate(_script(messages, info)):
            if isinstance(step, str):
                yield step
            else:
                yield {0: DeltaToolCall(name=step[0], json_args=json.dumps(step[1]), tool_call_id=f"c{i}")}

    register_test_model(MODEL, FunctionModel(respond, stream_function=stream))
    run_server(Settings())


# -- the tests' side ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("cli-stdout") / "data", command=SERVE).start()
    try:
        agents = live.data_dir.parent / "agents.json"
        for agent in AGENTS:
            agents.write_text(json.dumps(agent))
            applied = cli(live, "agents", "apply", "-f", str(agents))
            assert applied.returncode == 0, applied.stderr
        yield live
    finally:
        live.stop()


def cli(live: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=live.env, capture_output=True, text=True, timeout=90)


def last_run(live: LiveServer, agent: str) -> Run:
    with Client(live.url) as client:
        run = next(iter(client.runs.list(agent=agent, page_size=1)))
        return client.runs.get(run.id)


def test_text_result_after_a_preamble_and_a_tool_call(server: LiveServer) -> None:
    done = cli(server, "run", "preamble-text", "what is 6 * 7?")
    assert done.returncode == 0, done.stderr
    run = last_run(server, "preamble-text")
    assert run.status == "completed" and run.result == ANSWER
    assert done.stdout == ANSWER  # exactly the result: no preamble, nothing added, nothing changed
    assert PREAMBLE not in done.stdout
    assert done.stderr.count(PREAMBLE) == 1, done.stderr  # shown once, not once per event
    assert "→ calculator(" in done.stderr and "completed" in done.stderr


def test_json_result_after_a_preamble(server: LiveServer) -> None:
    done = cli(server, "run", "preamble-json", "what is 6 * 7, as JSON?")
    assert done.returncode == 0, done.stderr
    run = last_run(server, "preamble-json")
    assert run.status == "completed" and run.result == RESULT
    assert json.loads(done.stdout) == RESULT
    for preamble in (PREAMBLE, SECOND_PREAMBLE):
        assert preamble not in done.stdout
        assert done.stderr.count(preamble) == 1, done.stderr


def test_plain_answer_is_exactly_the_result(server: LiveServer) -> None:
    done = cli(server, "run", "demo", "hello")
    assert done.returncode == 0, done.stderr
    assert done.stdout == last_run(server, "demo").result


def test_a_run_without_a_result_prints_nothing_on_stdout(server: LiveServer) -> None:
    done = cli(server, "run", "too-slow", "never mind")
    assert done.returncode == 1 and done.stdout == ""
    assert "timed_out" in done.stderr


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_a_terminal(live: LiveServer, *args: str) -> tuple[int, str, str]:
    """Run the CLI with stdout on a pseudo-terminal; returns (code, terminal text, stderr)."""
    master, slave = pty.openpty()
    env = {**live.env, "COLUMNS": "100", "TERM": "xterm"}
    proc = subprocess.Popen([*CLI, *args], env=env, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([master], [], [], 90)
        if not ready:
            proc.kill()
            raise AssertionError("the CLI went quiet on the terminal")
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.stderr is not None
    stderr = proc.stderr.read().decode()
    code = proc.wait(30)
    shown = ANSI.sub("", b"".join(chunks).decode().replace("\r\n", "\n"))
    return code, shown, ANSI.sub("", stderr)


def test_on_a_terminal_everything_is_shown_once(server: LiveServer) -> None:
    code, shown, stderr = on_a_terminal(server, "run", "preamble-text", "what is 6 * 7?")
    assert code == 0, stderr
    both = shown + stderr
    assert both.count(PREAMBLE) == 1, both
    assert shown.count(ANSWER) == 1 and ANSWER not in stderr, both

    code, shown, stderr = on_a_terminal(server, "run", "preamble-json", "as JSON?")
    assert code == 0, stderr
    both = shown + stderr
    assert both.count(PREAMBLE) == 1 and both.count(SECOND_PREAMBLE) == 1, both
    assert json.loads(shown[shown.index("{") :]) == RESULT, shown
