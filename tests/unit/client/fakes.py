"""Fakes for SDK tests against ``httpx.MockTransport``: API-shaped payloads and SSE bodies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

BASE = "http://agentrun.test"
RUN_ID = "run_01"
TERMINAL = {"run.completed", "run.failed", "run.cancelled", "run.timed_out"}


def run_payload(run_id: str = RUN_ID, status: str = "completed", **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": run_id,
        "project_id": "p",
        "agent_id": "agent_1",
        "agent_slug": "demo",
        "revision": 1,
        "thread_id": None,
        "status": status,
        "mode": "sync",
        "durability": "steps",
        "prompt": "hi",
        "input": None,
        "messages": None,
        "config": {},
        "output_schema": None,
        "metadata": {},
        "model": "test",
        "offline": True,
        "result": "[offline test model] hi" if status == "completed" else None,
        "result_type": "text" if status == "completed" else None,
        "usage": {"input_tokens": 3, "output_tokens": 5, "requests": 1, "tool_calls": 0},
        "iterations": 1,
        "error": None,
        "last_seq": 0,
        "created_at": "2025-01-01T00:00:00Z",
    }
    payload.update(extra)
    return payload


def event_payload(seq: int, type_: str | None = None, run_id: str = RUN_ID, **extra: Any) -> dict[str, Any]:
    payload = {
        "run_id": run_id,
        "seq": seq,
        "type": type_ or "message.delta",
        "role": "assistant",
        "content": f"chunk {seq}",
        "data": None,
        "level": "info",
        "created_at": "2025-01-01T00:00:00Z",
    }
    payload.update(extra)
    return payload


def sse_event(seq: int, type_: str | None = None, run_id: str = RUN_ID) -> bytes:
    payload = event_payload(seq, type_, run_id)
    return f"id: {seq}\nevent: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()


def sse_run(run: dict[str, Any]) -> bytes:
    return f"event: run\ndata: {json.dumps(run)}\n\n".encode()


def events_body(seqs: range | list[int], terminal: str | None = None) -> list[bytes]:
    """One chunk per event; the last seq gets the ``terminal`` type when given."""
    seqs = list(seqs)
    return [sse_event(s, terminal if (terminal and s == seqs[-1]) else None) for s in seqs]


class DroppingStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Sends its chunks, then fails the way a reset connection does (unless ``drop`` is False)."""

    def __init__(self, chunks: list[bytes], drop: bool = True) -> None:
        self.chunks = chunks
        self.drop = drop

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        if self.drop:
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.drop:
            raise httpx.ReadError("connection reset by peer")


def sse_response(
    chunks: list[bytes], drop: bool = False, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(
        200,
        headers={"content-type": "text/event-stream", **(headers or {})},
        stream=DroppingStream(chunks, drop=drop),
    )
