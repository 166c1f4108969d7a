"""MCP over streamable HTTP at ``/mcp`` on the API server, with the API's keys.

``mount_mcp(app, settings)`` adds the ``/mcp`` route and chains the MCP session manager into the
app's lifespan (a mounted or routed ASGI app's own lifespan never runs under FastAPI). The
manager is stateless: every HTTP request is served on its own, so any API node behind a load
balancer answers any request, and there are no sessions to lose on a restart.

Every request authenticates like the native API (``Authorization: Bearer KEY`` or
``X-API-Key: KEY``); a missing or bad key is refused with HTTP 401 and the native error body
before MCP sees the request, unless keyless local access is allowed. The key's project is put on
the request scope, where the tools read it: every tool call is scoped to that project.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.mcp.server import Caller, build_server
from agentrun.settings import Settings

MCP_PATH = "/mcp"
SCOPE_KEY = "agentrun.mcp.caller"


def api_key_of(scope: Scope) -> str | None:
    """The key from ``Authorization: Bearer KEY`` or ``X-API-Key: KEY`` (as the native API reads it)."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return headers.get("x-api-key") or None


def caller_of(ctx: Context) -> Caller:
    """The caller the HTTP endpoint authenticated for this tool call's request."""
    request = ctx.request_context.request
    caller = getattr(request, "scope", {}).get(SCOPE_KEY)
    if not isinstance(caller, Caller):  # pragma: no cover - every request passes the endpoint
        raise ToolError("This request was not authenticated.")
    return caller


def transport_security(keyless_allowed: bool, host: str) -> TransportSecuritySettings:
    """The MCP library's own Host/Origin check stays off: the app-wide ``HostGuard``
    (``api/guards.py``) does DNS-rebinding protection for every route, ``/mcp`` included, with
    the same rule (local names only while keyless on loopback) and the native error body."""
    return TransportSecuritySettings(enable_dns_rebinding_protection=False)


class McpEndpoint:
    """The ASGI endpoint at ``/mcp``: authenticate, then hand the request to the session manager."""

    def __init__(self, app: Starlette, settings: Settings) -> None:
        self._app = app
        self._settings = settings
        self.server = build_server(caller_of)
        self._manager: StreamableHTTPSessionManager | None = None
        # One "Terminating session: None" INFO line per stateless request is noise.
        logging.getLogger("mcp.server.streamable_http").setLevel(logging.WARNING)

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Run the MCP session manager; a fresh one per app lifespan (a manager runs only once)."""
        self.server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            stateless_http=True,
            json_response=True,
            transport_security=transport_security(
                self._app.state.services.keys.keyless_allowed, self._settings.host
            ),
            max_request_body_size=self._settings.limits.max_body_bytes,
        )
        manager = self.server.session_manager
        # The manager's task group must be entered and exited by one task. A lifespan may start
        # in one task and end in another (test harnesses that drive lifespan_context from async
        # fixtures do), so a task of its own hosts the manager for the app's lifetime.
        started, stop = asyncio.Event(), asyncio.Event()

        async def host() -> None:
            async with manager.run():
                self._manager = manager
                started.set()
                try:
                    await stop.wait()
                finally:
                    self._manager = None

        task = asyncio.create_task(host(), name="agentrun-mcp-session-manager")
        ready = asyncio.create_task(started.wait())
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not started.is_set():
            ready.cancel()
            await task  # raises what stopped the manager from starting
            raise RuntimeError("the MCP session manager stopped before it started")
        try:
            yield
        finally:
            stop.set()
            await task

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        manager = self._manager
        if manager is None:
            await _error(send, AgentrunError(ErrorCode.unavailable, "The MCP endpoint is not running."))
            return
        services = self._app.state.services
        try:
            principal = await services.keys.authenticate(api_key_of(scope))
        except AgentrunError as exc:
            await _error(send, exc)
            return
        if scope.get("method") != "POST":
            # Stateless: no session, so no server-initiated SSE stream (GET) and nothing to end
            # (DELETE). The MCP spec's answer is 405.
            await _error(
                send,
                AgentrunError(
                    ErrorCode.invalid_request,
                    f"{scope.get('method')} {MCP_PATH}: this MCP endpoint is stateless; POST JSON-RPC messages.",
                ),
                status=405,
                extra=[(b"allow", b"POST")],
            )
            return
        scope = dict(scope)
        scope[SCOPE_KEY] = Caller(services, principal.project_id)
        await manager.handle_request(scope, receive, send)


async def _error(
    send: Send, exc: AgentrunError, status: int | None = None, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    """The native error body (``{"error": {"code", "message", "details"}}``) as a raw ASGI response."""
    body = json.dumps(exc.body()).encode()
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    if exc.code is ErrorCode.unauthorized:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status or exc.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def mount_mcp(app: Any, settings: Settings) -> McpEndpoint:
    """Serve MCP at ``/mcp`` on ``app`` and run its session manager inside the app's lifespan.

    Call once from the app factory, after the app (with its own lifespan) exists. The MCP
    manager starts after the app's lifespan has opened the services and stops before they
    close.
    """
    endpoint = McpEndpoint(app, settings)
    app.add_route(MCP_PATH, endpoint, include_in_schema=False)
    app_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(inner_app: Any) -> AsyncIterator[Any]:
        async with app_lifespan(inner_app) as state, endpoint.run():
            yield state

    app.router.lifespan_context = lifespan
    return endpoint
