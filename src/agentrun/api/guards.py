"""Request guards that apply to every route (native, compat, MCP, console), as ASGI middleware.

- ``HostGuard``: while the server accepts requests without a key on loopback, only loopback host
  names may address it (DNS-rebinding protection: a web page whose name resolves to 127.0.0.1
  must not drive a developer's keyless server), and a browser ``Origin``, when sent, must be
  local too. With keys required the key is the protection and any Host (a proxy's) is fine.
- ``StrictJsonBody``: JSON bodies must be JSON: ``NaN``/``Infinity`` (which Python's parser
  accepts and the stores then keep as null or refuse) and lone UTF-16 surrogates (which no
  database can store) are refused with 422 before a route sees them.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.services.keys import is_loopback
from agentrun.settings import Settings

LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")


async def send_error(send: Send, exc: AgentrunError, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    """The standard error body as a raw ASGI response (for middleware, before any route)."""
    body = json.dumps(exc.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": exc.http_status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})


def _split_host(value: str) -> tuple[str, str | None]:
    """``name[:port]`` -> (lowercased name, port); IPv6 names keep their brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value.partition("]")
        return name + "]", rest[1:] if rest.startswith(":") else None
    name, sep, port = value.rpartition(":")
    return (name, port) if sep and port.isdigit() else (value, None)


def host_allowed(value: str, extra: list[str]) -> bool:
    """Is ``value`` (a Host header: ``name[:port]``) a loopback name, or one the operator allowed?

    Loopback is ``localhost`` and loopback IP literals (``127.0.0.1``, ``[::1]``) with any port;
    ``extra`` entries are names (any port) or ``name:port``.
    """
    name, port = _split_host(value)
    if name == "localhost":
        return True
    try:
        if ipaddress.ip_address(name.strip("[]")).is_loopback:
            return True
    except ValueError:
        pass
    for entry in extra:
        allowed_name, allowed_port = _split_host(entry)
        if allowed_name == name and (allowed_port is None or allowed_port == port):
            return True
    return False


def origin_allowed(origin: str, extra: list[str]) -> bool:
    scheme, sep, rest = origin.strip().partition("://")
    if not sep or scheme.lower() not in ("http", "https") or "/" in rest:
        return False  # includes "null" (sandboxed frames, file:// pages)
    return host_allowed(rest, extra)


class HostGuard:
    """403 ``forbidden`` for a foreign Host or Origin while keyless loopback access is on."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.extra = list(settings.security.allowed_hosts)
        self._active: bool | None = None

    def _is_active(self, scope: Scope) -> bool:
        if self._active is None:
            keys = scope["app"].state.services.keys
            self._active = keys.keyless_allowed and is_loopback(self.settings.host)
        return self._active

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self._is_active(scope):
            await self.app(scope, receive, send)
            return
        headers = {k: v.decode("latin-1") for k, v in scope.get("headers", []) if k in (b"host", b"origin")}
        host, origin = headers.get(b"host"), headers.get(b"origin")
        if host is not None and not host_allowed(host, self.extra):
            name = _split_host(host)[0]
            await send_error(
                send,
                AgentrunError(
                    ErrorCode.forbidden,
                    f"Host {name!r} is not a local name. While this server takes requests without an "
                    f"API key it answers only to {', '.join(LOCAL_NAMES)} (DNS-rebinding protection); "
                    "add the name to AGENTRUN_SECURITY__ALLOWED_HOSTS, or require keys.",
                    {"reason": "host_not_allowed", "host": host},
                ),
            )
            return
        if origin is not None and not origin_allowed(origin, self.extra):
            await send_error(
                send,
                AgentrunError(
                    ErrorCode.forbidden,
                    f"Origin {origin!r} may not call this server: while it takes requests without an "
                    "API key, only pages served from a local name may.",
                    {"reason": "origin_not_allowed", "origin": origin},
                ),
            )
            return
        await self.app(scope, receive, send)


# Only bodies with one of these bytes sequences can hold what json.loads accepts and JSON does
# not; the rest (nearly every body) pass after one regex scan, without a second parse.
_SUSPECT = re.compile(rb"NaN|Infinity|\\[uU][dD][89a-fA-F]|\xed[\xa0-\xbf]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class _NotJson(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotJson(name)


def _lone_surrogate(value: Any, path: tuple[str, ...] = ()) -> tuple[tuple[str, ...], str] | None:
    if isinstance(value, str):
        found = _SURROGATE.search(value)
        return (path, found.group()) if found else None
    if isinstance(value, dict):
        for key, item in value.items():
            hit = _lone_surrogate(key, path) or _lone_surrogate(item, (*path, str(key)))
            if hit:
                return hit
    if isinstance(value, list):
        for index, item in enumerate(value):
            hit = _lone_surrogate(item, (*path, str(index)))
            if hit:
                return hit
    return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


def check_json(body: bytes) -> AgentrunError | None:
    """Why ``body`` is not strict JSON (NaN/Infinity, a lone surrogate), or None."""
    if not _SUSPECT.search(body):
        return None
    try:
        parsed = json.loads(body, parse_constant=_reject_constant)
    except _NotJson as exc:
        return AgentrunError(
            ErrorCode.validation_error,
            f"The request body is not valid JSON: {exc} is not a JSON number; send a number or null.",
            [{"field": "(body)", "message": f"{exc} is not valid JSON", "type": "json_invalid"}],
        )
    except ValueError:
        return None  # invalid in another way: the route reports it as usual
    hit = _lone_surrogate(parsed)
    if hit is None:
        return None
    field = ".".join(hit[0]) or "(body)"
    message = (
        f"{field}: contains a lone UTF-16 surrogate (\\u{ord(hit[1]):04x}); strings must be valid "
        "Unicode (write characters beyond U+FFFF as a surrogate pair, or as UTF-8)."
    )
    return AgentrunError(
        ErrorCode.validation_error,
        message,
        [{"field": field, "message": message, "type": "string_surrogate"}],
    )


class StrictJsonBody:
    """422 for a JSON body with NaN/Infinity or a lone surrogate; other bodies pass untouched.

    Installed inside ``BodySizeLimit``, so the body it buffers has been counted against the limit.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replaying([message], receive), send)  # the client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = check_json(body) if body else None
        if problem is not None:
            await send_error(send, problem)
            return
        replay = _replaying([{"type": "http.request", "body": body, "more_body": False}], receive)

        await self.app(scope, replay, send)


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that first returns ``messages``, then reads on."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
