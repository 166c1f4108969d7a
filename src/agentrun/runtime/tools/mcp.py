"""MCP tool sources: a registered server (``server=NAME``), a ``url``, or a raw stdio ``command``.

A stdio server is started as a subprocess (its environment is the server's default environment
plus ``env``); a ``url`` server is reached over streamable HTTP. Both are pydantic-ai
``MCPToolset``s, connected lazily when a run first lists tools, with the server's ``timeout_s``
(default ``tools.mcp_timeout_s``) as the connect and per-request timeout.

A ``url`` given in an agent definition is the caller's choice, so every request to it passes the
SSRF guard, pinned to the checked address (``tools.mcp_allow_hosts`` lists exceptions). Servers
the operator registered are trusted as configured.

Errors a server reports for a tool call reach the model as a failed tool result
(``tool_error_behavior="failed"``). A server that cannot be started or reached fails the run
with an error that names the server and the exception type, never the remote response: an
internal service's error page must not leak to a caller who could not fetch it.

Each toolset gets a stable ``id`` derived from the spec: DBOS names an MCP toolset's durable
steps after it, so it must be the same in every process and unique within an agent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx2
from fastmcp.client.transports import StdioTransport, StreamableHttpTransport
from pydantic_ai import RunContext
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.toolsets import AbstractToolset, ToolsetTool, WrapperToolset

from agentrun.domain.models import ToolSpec
from agentrun.runtime.tools.registry import ToolRegistry
from agentrun.runtime.tools.ssrf import UnsafeURLError, pinned_request, resolve_url_async
from agentrun.settings import RegisteredMCPServer, ToolSettings

_USER_AGENT = "agentrun-mcp/1"
_HTTP_GET_HINT = "tools.http_allow_hosts (AGENTRUN_TOOLS__HTTP_ALLOW_HOSTS)"


class MCPServerError(RuntimeError):
    """An MCP server could not be started, reached or listed (the message names no remote content)."""


def mcp_toolset(
    spec: ToolSpec, settings: ToolSettings, registry: ToolRegistry | None = None
) -> AbstractToolset[Any]:
    """The MCP toolset for ``spec`` (prefixed with ``spec.prefix`` when set); does not connect."""
    server = _server_of(spec, registry)
    timeout_s = server.timeout_s or settings.mcp_timeout_s
    if server.in_sandbox:
        from agentrun.runtime.tools.sandbox_mcp import SandboxedMCPToolset

        sandboxed = _SanitizedErrors(
            SandboxedMCPToolset(spec.server or "", server, mcp_toolset_id(spec), timeout_s),
            label=_label(spec, server),
        )
        return sandboxed.prefixed(spec.prefix) if spec.prefix else sandboxed
    client: Any
    if server.url:
        guard = spec.server is None  # a caller's URL: guarded; the operator's: as configured
        client = StreamableHttpTransport(
            server.url,
            httpx_client_factory=_client_factory(settings.mcp_allow_hosts if guard else None, timeout_s),
        )
    else:
        assert server.command, "validation guarantees command or url"
        # keep_alive=False: the subprocess ends with the session instead of outliving the run.
        client = StdioTransport(
            command=server.command, args=list(server.args), env=dict(server.env) or None, keep_alive=False
        )
    toolset: AbstractToolset[Any] = MCPToolset(
        client,
        id=mcp_toolset_id(spec),
        tool_error_behavior="failed",
        init_timeout=timeout_s,
        read_timeout=timeout_s,
    )
    toolset = _SanitizedErrors(toolset, label=_label(spec, server))
    return toolset.prefixed(spec.prefix) if spec.prefix else toolset


def mcp_toolset_id(spec: ToolSpec) -> str:
    """A stable id from what identifies the server (not from its secrets in ``env``)."""
    identity = json.dumps([spec.url, spec.command, spec.args, spec.prefix, sorted(spec.env)])
    if spec.server is not None:
        identity = json.dumps(["server", spec.server, spec.prefix])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return f"mcp-{spec.prefix}-{digest}" if spec.prefix else f"mcp-{digest}"


def _server_of(spec: ToolSpec, registry: ToolRegistry | None) -> RegisteredMCPServer:
    if spec.server is not None:
        registered = (registry.mcp_servers if registry else {}).get(spec.server)
        if registered is None:
            raise MCPServerError(f"no MCP server named {spec.server!r} is registered on this server")
        return registered
    return RegisteredMCPServer(command=spec.command, args=spec.args, env=spec.env, url=spec.url)


def _label(spec: ToolSpec, server: RegisteredMCPServer) -> str:
    if spec.server is not None:
        return f"MCP server {spec.server!r}"
    return f"MCP server at {server.url}" if server.url else f"MCP server {server.command!r}"


def _client_factory(allow_hosts: Sequence[str] | None, timeout_s: float) -> Any:
    def factory(
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
        **options: Any,  # e.g. follow_redirects: every hop goes through the transport, so is checked
    ) -> httpx2.AsyncClient:
        kwargs: dict[str, Any] = {**options, "timeout": timeout or httpx2.Timeout(timeout_s)}
        if allow_hosts is not None:
            kwargs["transport"] = _PinnedTransport(tuple(allow_hosts))
            kwargs["trust_env"] = False  # an environment proxy would bypass the address check
        if headers is not None:
            kwargs["headers"] = headers
        if auth is not None:
            kwargs["auth"] = auth
        return httpx2.AsyncClient(**kwargs)

    return factory


class _PinnedTransport(httpx2.AsyncHTTPTransport):
    """Checks every request's address with the SSRF guard and connects to that checked address."""

    def __init__(self, allow_hosts: tuple[str, ...]) -> None:
        super().__init__()
        self._allow_hosts = allow_hosts

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        checked = await resolve_url_async(str(request.url), self._allow_hosts)
        url, headers, extensions = pinned_request(checked, _USER_AGENT)
        request.url = httpx2.URL(url)
        request.headers["Host"] = headers["Host"]
        request.extensions = {**request.extensions, **extensions}
        return await super().handle_async_request(request)


@dataclass
class _SanitizedErrors(WrapperToolset[Any]):
    """Turns a failure to start, reach or list an MCP server into :class:`MCPServerError`."""

    label: str = "MCP server"

    async def __aenter__(self) -> _SanitizedErrors:
        try:
            await self.wrapped.__aenter__()
        except Exception as exc:
            raise self._error(exc) from None
        return self

    async def get_tools(self, ctx: RunContext[Any]) -> dict[str, ToolsetTool[Any]]:
        try:
            return await self.wrapped.get_tools(ctx)
        except Exception as exc:
            raise self._error(exc) from None

    def _error(self, exc: BaseException) -> MCPServerError:
        cause = _root_cause(exc)
        if isinstance(cause, UnsafeURLError):  # our own guard's words, with this tool's setting
            hint = str(cause).replace(
                _HTTP_GET_HINT, "tools.mcp_allow_hosts (AGENTRUN_TOOLS__MCP_ALLOW_HOSTS)"
            )
            return MCPServerError(f"{self.label} refused: {hint}")
        return MCPServerError(f"{self.label} could not be started or reached ({type(cause).__name__}).")


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception of a chain or exception group (what actually went wrong)."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]
        elif exc.__cause__ is not None:
            exc = exc.__cause__
        elif exc.__context__ is not None and not exc.__suppress_context__:
            exc = exc.__context__
        else:
            break
    return exc
