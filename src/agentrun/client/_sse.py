"""A Server-Sent Events decoder (WHATWG "event stream interpretation"), incremental, sync and async.

Lines are split on CR, LF and CRLF only; ``str.splitlines`` (and so ``httpx.iter_lines``) also
splits on U+2028 and friends, which may appear raw inside a JSON ``data:`` line. An event is
dispatched only at its blank line, so a connection cut mid-event yields nothing partial: the
reconnect (``Last-Event-ID``) fetches that event again, whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ServerSentEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class _LineSplitter:
    """Bytes in, complete lines out; a CR at a chunk's end may be the first half of CRLF."""

    def __init__(self) -> None:
        self._buffer = b""
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[str]:
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._pending_cr = False
        data = self._buffer + chunk
        lines: list[str] = []
        start = 0
        index = 0
        length = len(data)
        while index < length:
            byte = data[index]
            if byte == 0x0A or byte == 0x0D:  # LF or CR
                lines.append(data[start:index].decode("utf-8", errors="replace"))
                if byte == 0x0D:
                    if index + 1 < length and data[index + 1] == 0x0A:
                        index += 1
                    elif index + 1 == length:
                        self._pending_cr = True
                start = index + 1
            index += 1
        self._buffer = data[start:]
        return lines


class SSEDecoder:
    """Feed it lines; it returns an event at each blank line that ends one."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._retry: int | None = None
        self._last_id: str | None = None

    def decode(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):  # a comment, e.g. the server's ": ping" heartbeat
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry":
            if value.isdigit():
                self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if self._id is not None:
            self._last_id = self._id
        if not self._data:  # per the spec, an event without data lines is not dispatched
            self._event, self._id, self._retry = "", None, None
            return None
        sse = ServerSentEvent(
            event=self._event or "message", data="\n".join(self._data), id=self._last_id, retry=self._retry
        )
        self._event, self._data, self._id, self._retry = "", [], None, None
        return sse


def iter_sse(chunks: Iterable[bytes]) -> Iterator[ServerSentEvent]:
    splitter, decoder = _LineSplitter(), SSEDecoder()
    for chunk in chunks:
        for line in splitter.feed(chunk):
            sse = decoder.decode(line)
            if sse is not None:
                yield sse


async def aiter_sse(chunks: AsyncIterator[bytes]) -> AsyncIterator[ServerSentEvent]:
    splitter, decoder = _LineSplitter(), SSEDecoder()
    async for chunk in chunks:
        for line in splitter.feed(chunk):
            sse = decoder.decode(line)
            if sse is not None:
                yield sse
