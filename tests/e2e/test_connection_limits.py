"""Connection-level limits of a real server (`python -m agentrun.api.server`, as `agentrun serve`
starts uvicorn): request-head size, header-read timeout, keep-alive timeout, connection cap.

Raw sockets on loopback only, and every loop is bounded (a few dozen connections, a deadline).
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.live import LiveServer

pytestmark = pytest.mark.slow

MAX_HEADER_BYTES = 16_384
HEADER_TIMEOUT_S = 1.0
KEEP_ALIVE_S = 1.0
MAX_CONNECTIONS = 30
SLACK_S = 3.0  # how much later than its timeout the server may close a connection


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(
        tmp_path_factory.mktemp("limits") / "data",
        extra_env={
            "AGENTRUN_LIMITS__MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
            "AGENTRUN_LIMITS__HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
            "AGENTRUN_LIMITS__KEEP_ALIVE_TIMEOUT_S": str(KEEP_ALIVE_S),
            "AGENTRUN_LIMITS__MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        },
    ).start()
    try:
        yield live
    finally:
        live.stop()


def _connect(server: LiveServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _request(path: str = "/healthz", extra: bytes = b"") -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + b"\r\n"


def _send_all(sock: socket.socket, data: bytes) -> bool:
    """Send ``data``; False when the server closed the connection while we were sending."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True


def _read_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, bool]:
    """Everything the server sends until it closes, and whether it closed within ``timeout``."""
    received = b""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return received, False
        except ConnectionResetError:
            return received, True
        if not chunk:
            return received, True
        received += chunk
    return received, False


def _closed_now(sock: socket.socket) -> bool:
    """Non-blocking: has the server closed this connection (EOF or reset)?"""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(65536) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def test_a_header_over_the_limit_is_refused_and_the_connection_closed(server: LiveServer) -> None:
    for size in (MAX_HEADER_BYTES + 4096, 1_000_000):
        with _connect(server) as sock:
            _send_all(sock, _request(extra=b"X-Big: " + b"a" * size + b"\r\n"))
            received, closed = _read_until_closed(sock, 10)
        assert closed, f"a {size}-byte header: the server kept the connection open"
        # The server may close before all of a large header is read: then the client sees a
        # reset and perhaps no response at all. What it must never see is the request served.
        assert b" 200 " not in received.split(b"\r\n", 1)[0], received[:200]
        if received:
            assert received.startswith(b"HTTP/1.1 431 "), received[:200]
            assert b"connection: close" in received.lower()
            assert b'"code":"header_too_large"' in received.replace(b" ", b"")
    # A header under the limit is served, and the server is still fine.
    with _connect(server) as sock:
        _send_all(sock, _request(extra=b"X-Big: " + b"a" * (MAX_HEADER_BYTES // 2) + b"\r\n"))
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200


def test_idle_partial_and_slowloris_connections_are_closed_within_the_header_timeout(
    server: LiveServer,
) -> None:
    idle = [_connect(server) for _ in range(10)]  # connect, send nothing
    partial = [_connect(server) for _ in range(20)]  # a partial request line, then nothing
    for sock in partial:
        assert _send_all(sock, b"GET /healthz HTT")
    slow = [_connect(server) for _ in range(5)]  # one header byte every 0.2 s, never finishing
    for sock in slow:
        assert _send_all(sock, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    started = time.monotonic()
    open_socks = {*idle, *partial, *slow}
    closed_at: dict[socket.socket, float] = {}
    deadline = started + HEADER_TIMEOUT_S + SLACK_S
    try:
        while open_socks and time.monotonic() < deadline:
            for sock in list(open_socks):
                if sock in slow and not _send_all(sock, b"a"):
                    closed_at[sock] = time.monotonic() - started
                elif _closed_now(sock):
                    closed_at[sock] = time.monotonic() - started
                else:
                    continue
                open_socks.discard(sock)
            time.sleep(0.2)
        assert not open_socks, (
            f"{len(open_socks)} of {len(idle) + len(partial) + len(slow)} connections still open "
            f"{HEADER_TIMEOUT_S + SLACK_S:.0f}s after connecting (header timeout {HEADER_TIMEOUT_S}s)"
        )
        assert min(closed_at.values()) >= HEADER_TIMEOUT_S * 0.8, "closed before the timeout"
    finally:
        for sock in (*idle, *partial, *slow):
            sock.close()
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(server: LiveServer) -> None:
    with _connect(server) as sock:
        _send_all(sock, _request())
        sock.settimeout(5)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        _, closed = _read_until_closed(sock, KEEP_ALIVE_S + SLACK_S)
        assert closed, "an idle keep-alive connection stayed open"
        assert time.monotonic() - started >= KEEP_ALIVE_S * 0.8


def test_requests_longer_than_the_header_timeout_are_not_cut(server: LiveServer) -> None:
    # The timeout covers reading the request head; a request whose head arrived may take longer
    # (here a sync run of a model that sleeps 2.5 s) and is answered on the same connection.
    resp = httpx.put(
        f"{server.url}/v1/agents/slow-limits",
        json={"slug": "slow-limits", "model": "test:sleep-2500", "publish": True},
        timeout=10,
    )
    assert resp.status_code in (200, 201), resp.text
    with httpx.Client(base_url=server.url, timeout=30) as client:
        run = client.post("/v1/runs", json={"agent": "slow-limits", "prompt": "x"})
        assert run.status_code == 200 and run.json()["status"] == "completed", run.text
        assert client.get("/healthz").status_code == 200  # the same keep-alive connection


def test_connections_over_the_cap_are_answered_503(server: LiveServer) -> None:
    held = [_connect(server) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.2)  # let the server accept them
        with _connect(server) as sock:
            _send_all(sock, _request())
            received, _ = _read_until_closed(sock, 5)
        assert received.startswith(b"HTTP/1.1 503 "), received[:200]
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while httpx.get(f"{server.url}/healthz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "the server did not recover once the connections closed"
        time.sleep(0.1)
