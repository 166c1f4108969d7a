"""A local OpenAI-compatible HTTP server, scripted by the test.

Implements ``POST /v1/chat/completions`` (plain JSON and ``stream: true`` SSE, with a final usage
chunk when ``stream_options.include_usage`` is set), counts requests and records their bodies, so
a test can assert what the model was sent. The real ``openai`` provider talks to it.

A script is a list of turns; each turn is text, tool calls, or an HTTP error, with an optional
delay. Which turn answers a request:

- ``select="position"`` (default): the number of assistant messages after the last user message
  in the request. The first request of a run gets turn 0, the request after one tool round trip
  gets turn 1, and so on. Concurrent runs, and a request re-sent after a crash, get the same turn
  as the original: the answer depends on the conversation, not on arrival order.
- ``select="sequential"``: the n-th request received gets turn n.

Past the end of the script the last turn repeats.

In-process::

    with FakeOpenAI([Turn(tool_calls=[ToolCall("add", {"a": 1})]), Turn(text="done")]) as fake:
        ProviderSettings(openai_api_key="sk-test", openai_base_url=fake.url)

Standalone (the crash-recovery test runs it in a subprocess it can SIGKILL)::

    python -m tests.support.fake_openai --port 8123 --script script.json

``script.json`` is ``{"turns": [...], "select": "position"}`` or just the list of turns; a turn
is ``{"text": "..."}`` or ``{"tool_calls": [{"name": "...", "args": {...}}]}`` plus optional
``delay_s``, ``chunk_delay_s``, ``usage``, ``error_status``. It prints ``READY <url>`` once it
listens. ``GET /_stats`` returns ``{"requests": n}``; ``GET /_requests`` the recorded bodies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass(frozen=True)
class ToolCall:
    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Turn:
    """One scripted answer: ``text`` or ``tool_calls`` (or ``error_status``, an HTTP error).

    ``usage`` is ``(prompt_tokens, completion_tokens)``; by default both are derived from the
    request and the answer. ``delay_s`` waits before answering; ``chunk_delay_s`` between SSE
    chunks.
    """

    text: str | None = None
    tool_calls: Sequence[ToolCall] = ()
    delay_s: float = 0.0
    chunk_delay_s: float = 0.0
    usage: tuple[int, int] | None = None
    error_status: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Turn:
        calls = tuple(ToolCall(c["name"], c.get("args", {})) for c in data.get("tool_calls", []))
        usage = tuple(data["usage"]) if data.get("usage") else None
        return cls(
            text=data.get("text"),
            tool_calls=calls,
            delay_s=float(data.get("delay_s", 0)),
            chunk_delay_s=float(data.get("chunk_delay_s", 0)),
            usage=usage,  # type: ignore[arg-type]
            error_status=data.get("error_status"),
        )


@dataclass(frozen=True)
class Reply:
    """What the server answered to one request (for asserting usage)."""

    turn_index: int
    prompt_tokens: int
    completion_tokens: int
    stream: bool


Select = Literal["position", "sequential"]


class FakeOpenAI:
    """The scripted server; use as a context manager (starts on enter, stops on exit)."""

    def __init__(self, turns: Sequence[Turn], *, select: Select = "position", port: int = 0) -> None:
        if not turns:
            raise ValueError("a script needs at least one turn")
        self.turns = list(turns)
        self.select = select
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._replies: list[Reply] = []
        self._arrivals: list[float] = []
        self._server = ThreadedServer(self.app(), port=port)

    # -- what tests read ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL for ``openai_base_url`` (ends in ``/v1``)."""
        return f"{self._server.url}/v1"

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON bodies received, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def arrivals(self) -> list[float]:
        """When each request arrived (``time.time()``), in the order of ``requests``."""
        with self._lock:
            return list(self._arrivals)

    @property
    def replies(self) -> list[Reply]:
        with self._lock:
            return list(self._replies)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the app --------------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/_stats", self._stats, methods=["GET"]),
                Route("/_requests", self._recorded, methods=["GET"]),
            ]
        )

    async def _stats(self, request: Request) -> Response:
        return JSONResponse({"requests": self.request_count})

    async def _recorded(self, request: Request) -> Response:
        return JSONResponse(self.requests)

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        with self._lock:
            sequence = len(self._requests)
            self._requests.append(body)
            self._arrivals.append(time.time())
        index = self._turn_index(body, sequence)
        turn = self.turns[min(index, len(self.turns) - 1)]
        if turn.delay_s:
            await asyncio.sleep(turn.delay_s)
        if turn.error_status:
            return JSONResponse(
                {"error": {"message": f"scripted error {turn.error_status}", "type": "server_error"}},
                status_code=turn.error_status,
            )
        prompt_tokens, completion_tokens = turn.usage or _default_usage(body, turn)
        stream = bool(body.get("stream"))
        with self._lock:
            self._replies.append(Reply(index, prompt_tokens, completion_tokens, stream))
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        model = body.get("model", "fake")
        if not stream:
            return JSONResponse(_completion(turn, model, sequence, usage))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        chunks = _chunks(turn, model, sequence, usage if include_usage else None)
        return StreamingResponse(_sse(chunks, turn.chunk_delay_s), media_type="text/event-stream")

    def _turn_index(self, body: dict[str, Any], sequence: int) -> int:
        if self.select == "sequential":
            return sequence
        count = 0
        for message in body.get("messages", []):
            if message.get("role") == "user":
                count = 0
            elif message.get("role") == "assistant":
                count += 1
        return count


def _default_usage(body: dict[str, Any], turn: Turn) -> tuple[int, int]:
    prompt = 10 * len(body.get("messages", [])) + 3
    answer = turn.text or json.dumps([[c.name, c.args] for c in turn.tool_calls])
    return prompt, 5 + len(answer) // 4


def _call_id(sequence: int, index: int) -> str:
    return f"call_{sequence}_{index}"


def _completion(turn: Turn, model: str, sequence: int, usage: dict[str, int]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": turn.text if not turn.tool_calls else None}
    if turn.tool_calls:
        message["tool_calls"] = [
            {
                "id": _call_id(sequence, i),
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.args)},
            }
            for i, c in enumerate(turn.tool_calls)
        ]
    return {
        "id": f"chatcmpl-{sequence}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if turn.tool_calls else "stop"}
        ],
        "usage": usage,
    }


def _chunks(turn: Turn, model: str, sequence: int, usage: dict[str, int] | None) -> list[dict[str, Any]]:
    base = {
        "id": f"chatcmpl-{sequence}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    if turn.tool_calls:
        for i, call in enumerate(turn.tool_calls):
            header = {
                "index": i,
                "id": _call_id(sequence, i),
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            chunks.append(chunk({"tool_calls": [header]}))
            arguments = json.dumps(call.args)
            middle = len(arguments) // 2
            for piece in (arguments[:middle], arguments[middle:]):
                chunks.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}))
        chunks.append(chunk({}, "tool_calls"))
    else:
        words = (turn.text or "").split(" ")
        for i, word in enumerate(words):
            chunks.append(chunk({"content": word if i == len(words) - 1 else word + " "}))
        chunks.append(chunk({}, "stop"))
    if usage is not None:
        chunks.append({**base, "choices": [], "usage": usage})
    return chunks


async def _sse(chunks: list[dict[str, Any]], delay_s: float) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield f"data: {json.dumps(chunk)}\n\n".encode()
        if delay_s:
            await asyncio.sleep(delay_s)
    yield b"data: [DONE]\n\n"


class ThreadedServer:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a background thread (a free port by default)."""

    def __init__(self, app: Any, *, port: int = 0) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test HTTP server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> ThreadedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def load_script(path: Path) -> tuple[list[Turn], Select]:
    data = json.loads(path.read_text())
    if isinstance(data, list):
        return [Turn.from_json(t) for t in data], "position"
    return [Turn.from_json(t) for t in data["turns"]], data.get("select", "position")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--script", type=Path, required=True)
    args = parser.parse_args(argv)
    turns, select = load_script(args.script)
    fake = FakeOpenAI(turns, select=select, port=args.port)
    fake.start()
    print(f"READY {fake.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()
