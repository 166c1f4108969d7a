"""uvicorn's httptools protocol with a request-head size limit and a header-read timeout.

What uvicorn (0.54, the version pinned in the venv) has and lacks, read from its source:

- ``timeout_keep_alive`` closes a connection idle *after* a response; its timer is cancelled by
  any byte received, and none runs before the first request. So a connection that sends nothing,
  or a partial request line, or one header byte every few seconds (slowloris), is held forever.
- ``limit_concurrency`` answers 503 to a request once that many connections (or tasks) exist; it
  does not close idle ones.
- ``h11_max_incomplete_event_size`` bounds the head, but only with ``http="h11"``. The httptools
  (llhttp) parser we use has no head limit: uvicorn's callbacks accumulate the URL and headers,
  so a 50 MB header is read into memory.

Switching to h11 would bound the head but not time it, and h11 parses in pure Python (slower
on every request; the benchmarks run on httptools). So this subclass keeps httptools and adds:

- a head timer armed when a connection opens and again after each response, cancelled only when
  a whole request head has arrived (``on_headers_complete``) - not by every byte as the
  keep-alive timer is - and closing the connection when it fires;
- a byte count of the head still being received; past ``max_header_bytes``: 431 and close.

A request whose head arrived may then take as long as it needs (long-polls, SSE streams, sync
runs): the timer covers reading the head only. Request *bodies* are bounded by size
(``BodySizeLimit``), not by time: a reverse proxy must time them (docs/deployment.md).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _HeadTooLarge(Exception):
    pass


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    max_header_bytes = 65_536
    header_timeout_s = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._reading_head = True  # bytes that arrive now belong to a request head
        self._head_bytes = 0  # bytes received while reading this head
        self._head_parsed = 0  # bytes of it the parser has handed over (URL, headers)
        self._head_too_large = False

    @classmethod
    def configured(cls, max_header_bytes: int, header_timeout_s: float) -> type[LimitedHttpToolsProtocol]:
        """A subclass with these limits (uvicorn instantiates the protocol class itself)."""
        return type(
            cls.__name__,
            (cls,),
            {"max_header_bytes": max_header_bytes, "header_timeout_s": header_timeout_s},
        )

    # --- the head timer -------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if (self.cycle is not None and not self.cycle.response_complete) or self.pipeline:
            return  # a request is being served; the timer is armed again after its response
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Always: also when the response came before the request body was read (a body still
        # trickling in then holds the connection only until the next head is due).
        if not self.transport.is_closing():
            self._arm_head_timer()

    # --- the head size --------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if (
            self._reading_head
            and self._head_bytes > self.max_header_bytes
            and not self.transport.is_closing()
        ):
            self._send_431()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head = True
        self._head_parsed = 0

    # A head that arrives in one chunk completes inside feed_data, before data_received can
    # look: the parser's callbacks count it as it is parsed, and raising stops the parser.
    # uvicorn turns the parser error into its 400 response, which send_400_response makes a 431.

    def _count(self, n: int) -> None:
        self._head_parsed += n
        if self._head_parsed > self.max_header_bytes:
            self._head_too_large = True
            raise _HeadTooLarge

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        if self._head_too_large:
            self._send_431()
        else:
            super().send_400_response(msg)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._head_bytes = 0
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_head = True  # what follows is the next request's head
        self._head_bytes = 0

    def _send_431(self) -> None:
        self._cancel_head_timer()
        body = json.dumps(
            {
                "error": {
                    "code": "header_too_large",
                    "message": f"The request line and headers exceed the limit of {self.max_header_bytes} bytes.",
                    "details": {"max_header_bytes": self.max_header_bytes},
                }
            }
        ).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()
