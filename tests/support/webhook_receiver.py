"""A local webhook receiver for tests: records each request, answers from a script.

Also loads the receiver verification recipe straight from docs/webhooks.md, so the tests check
the documented code, not a copy of it.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    path: str


class Receiver:
    """``statuses`` are answered in order, then 200 for every later request."""

    def __init__(self, statuses: list[int] | None = None, port: int = 0) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver._lock:
                    receiver.requests.append(
                        Received({k.lower(): v for k, v in self.headers.items()}, body, self.path)
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"receiver got {len(self.requests)} requests, expected {count}")


async def wait_async(receiver: Receiver, count: int, timeout: float = 30) -> list[Received]:
    """``wait_for`` for tests whose server shares the event loop (it must keep running)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(receiver.requests) >= count:
            return list(receiver.requests)
        await asyncio.sleep(0.02)
    raise AssertionError(f"receiver got {len(receiver.requests)} requests, expected {count}")


def documented_verify() -> Any:
    """``verify_webhook`` as written in docs/webhooks.md (the receiver recipe)."""
    text = (REPO / "docs" / "webhooks.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    source = next(b for b in blocks if "def verify_webhook" in b)
    namespace: dict[str, Any] = {}
    exec(compile(source, "docs/webhooks.md", "exec"), namespace)  # noqa: S102 - our own docs
    return namespace["verify_webhook"]
