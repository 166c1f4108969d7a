"""A minimal HTTP/1.1 keep-alive client for load generation (asyncio streams + httptools parser).

Why not httpx for the load itself: on this 2-core machine the client shares the CPU with the
server under test, so the client must be cheap. Measured against the bare-FastAPI baseline
(200 and 1000 runs created then long-polled, all at once), httpx.AsyncClient spent 5.4 s and
13.4 s of client CPU (~27 and ~13 ms per run: its connection pool scans every connection on each
request and release), and still ~4 ms per run with the pool sharded over 50 clients. That
would make the bench measure httpx, not the server. This client keeps idle connections in a
LIFO list (O(1) acquire/release) and parses with httptools (what uvicorn itself uses).

Only what the bench needs: GET/POST/PUT with a JSON body, Content-Length or chunked answers,
and streaming (SSE) answers with the time the first event line arrived. 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from typing import Any
from urllib.parse import urlencode

import httptools

_IDLE_MAX_S = 2.0  # never reuse a connection idle longer than this (uvicorn closes at 5 s)
_SSE_PREFIXES = (b"event:", b"data:", b"id:")


class HTTPError(Exception):
    pass


class Response:
    __slots__ = ("status_code", "headers", "content", "first_event_s")

    def __init__(
        self, status_code: int, headers: dict[str, str], content: bytes, first_event_s: float | None = None
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.first_event_s = first_event_s

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _Parser:
    """httptools callbacks for one response."""

    def __init__(self, sse: bool, t0: float) -> None:
        self.headers: dict[str, str] = {}
        self.body = bytearray()
        self.done = False
        self.sse, self.t0 = sse, t0
        self.first_event_s: float | None = None
        self._tail = b""  # partial last line, for SSE line detection across chunks

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body += body
        if self.sse and self.first_event_s is None:
            lines = (self._tail + body).split(b"\n")
            self._tail = lines.pop()
            if any(line.startswith(_SSE_PREFIXES) for line in lines):
                self.first_event_s = time.perf_counter() - self.t0

    def on_message_complete(self) -> None:
        self.done = True


class _Conn:
    __slots__ = ("reader", "writer", "last_used")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.last_used = time.monotonic()

    def close(self) -> None:
        self.writer.close()


class LoadClient:
    def __init__(self, host: str, port: int, timeout_s: float = 120.0) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._idle: deque[_Conn] = deque()
        self._host_header = f"{host}:{port}".encode()
        self.opened = 0

    async def _acquire(self) -> _Conn:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if now - conn.last_used < _IDLE_MAX_S and not conn.reader.at_eof():
                return conn
            conn.close()
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, limit=1 << 20), 30
        )
        self.opened += 1
        return _Conn(reader, writer)

    def _release(self, conn: _Conn, keep: bool) -> None:
        if keep:
            conn.last_used = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()

    async def request(
        self, method: str, path: str, *, json_body: Any = None, params: dict | None = None, sse: bool = False
    ) -> Response:
        if params:
            path = f"{path}?{urlencode(params)}"
        body = b"" if json_body is None else json.dumps(json_body).encode()
        head = [
            f"{method} {path} HTTP/1.1".encode(),
            b"Host: " + self._host_header,
            b"Accept: text/event-stream" if sse else b"Accept: application/json",
        ]
        if json_body is not None or method in ("POST", "PUT", "PATCH"):
            head += [b"Content-Type: application/json", b"Content-Length: " + str(len(body)).encode()]
        raw = b"\r\n".join(head) + b"\r\n\r\n" + body
        t0 = time.perf_counter()
        conn = await self._acquire()
        keep = False
        try:
            async with asyncio.timeout(self.timeout_s):
                conn.writer.write(raw)
                p = _Parser(sse, t0)
                parser = httptools.HttpResponseParser(p)
                while not p.done:
                    data = await conn.reader.read(65536)
                    if not data:
                        raise HTTPError(f"{method} {path}: connection closed before the answer was complete")
                    parser.feed_data(data)
            keep = parser.should_keep_alive()
            return Response(parser.get_status_code(), p.headers, bytes(p.body), p.first_event_s)
        except httptools.HttpParserError as e:
            raise HTTPError(f"{method} {path}: bad HTTP answer: {e}") from e
        except TimeoutError as e:
            raise HTTPError(f"{method} {path}: no complete answer within {self.timeout_s:.0f} s") from e
        finally:
            self._release(conn, keep)

    async def get(self, path: str, **kw: Any) -> Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, json_body: Any = None, **kw: Any) -> Response:
        return await self.request("POST", path, json_body=json_body, **kw)

    async def put(self, path: str, json_body: Any = None, **kw: Any) -> Response:
        return await self.request("PUT", path, json_body=json_body, **kw)

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop().close()
