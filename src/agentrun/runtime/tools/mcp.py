"""MCP tool sources: ``ToolSpec(kind="mcp", command=..., args=..., env=...)`` or ``url=...``.

A stdio spec starts ``command args...`` as a subprocess (its environment is the server's default
environment plus ``env``); a ``url`` spec connects over streamable HTTP. Both are pydantic-ai
``MCPToolset``s, connected lazily when a run first lists tools, with ``tools.mcp_timeout_s`` as
the connect and per-request timeout.

Errors a server reports for a tool call reach the model as a failed tool result
(``tool_error_behavior="failed"``, i.e. ``ToolFailed``); a server that cannot be started or
reached fails the run with that error.

Each toolset gets a stable ``id`` derived from the spec: DBOS names an MCP toolset's durable
steps after it, so it must be the same in every process and unique within an agent.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastmcp.client.transports import StdioTransport
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.toolsets import AbstractToolset

from agentrun.domain.models import ToolSpec
from agentrun.settings import ToolSettings


def mcp_toolset(spec: ToolSpec, settings: ToolSettings) -> AbstractToolset[Any]:
    """The MCP toolset for ``spec`` (prefixed with ``spec.prefix`` when set); does not connect."""
    client: Any
    if spec.url:
        client = spec.url
    else:
        assert spec.command, "ToolSpec validation guarantees command or url"
        # keep_alive=False: the subprocess ends with the session instead of outliving the run.
        client = StdioTransport(
            command=spec.command, args=list(spec.args), env=dict(spec.env) or None, keep_alive=False
        )
    toolset: AbstractToolset[Any] = MCPToolset(
        client,
        id=mcp_toolset_id(spec),
        tool_error_behavior="failed",
        init_timeout=settings.mcp_timeout_s,
        read_timeout=settings.mcp_timeout_s,
    )
    return toolset.prefixed(spec.prefix) if spec.prefix else toolset


def mcp_toolset_id(spec: ToolSpec) -> str:
    """A stable id from what identifies the server (not from its secrets in ``env``)."""
    identity = json.dumps([spec.url, spec.command, spec.args, spec.prefix, sorted(spec.env)])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return f"mcp-{spec.prefix}-{digest}" if spec.prefix else f"mcp-{digest}"
