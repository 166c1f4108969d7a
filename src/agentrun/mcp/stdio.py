"""MCP over stdio: the agentrun tools in a process that opens the services itself.

For MCP clients that launch their servers as subprocesses (desktop apps, IDEs, other agents).
The process opens the same store (and, unless ``AGENTRUN_RUN_WORKER=false``, an in-process
worker) as ``agentrun serve`` would, and every tool call acts on one project: ``default`` unless
told otherwise. Whoever can start this process can read the data dir anyway, so there is no key.

stdout carries only MCP messages: the SDK's stdio transport diverts file descriptor 1 to stderr
while it serves, and the services are opened inside it, so anything else printed (the bootstrap
key notice, logs) goes to stderr.

``python -m agentrun.mcp.stdio`` serves with settings from the environment (``AGENTRUN_*``).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import anyio
from mcp.server.mcpserver import Context, MCPServer

from agentrun.logs import configure as configure_logs
from agentrun.mcp.server import Caller, build_server
from agentrun.services.container import open_services
from agentrun.services.keys import DEFAULT_PROJECT
from agentrun.settings import Settings


def _caller_from_lifespan(ctx: Context) -> Caller:
    return cast(Caller, ctx.request_context.lifespan_context)


def build_stdio_server(settings: Settings, project_id: str = DEFAULT_PROJECT) -> MCPServer[Any]:
    """The MCP server whose lifespan opens (and closes) the services of this process."""

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[Caller]:
        services = await open_services(settings)
        port = settings.observability.metrics_port  # runs execute here too: their metrics
        stop_metrics = services.metrics.serve(settings.observability.metrics_host, port) if port else None
        try:
            yield Caller(services, project_id)
        finally:
            if stop_metrics is not None:
                stop_metrics()
            await services.close()

    return build_server(_caller_from_lifespan, lifespan=lifespan)


async def serve(settings: Settings, project_id: str = DEFAULT_PROJECT) -> None:
    """Serve MCP on stdin/stdout until the client closes stdin."""
    await build_stdio_server(settings, project_id).run_stdio_async()


def main(settings: Settings) -> None:
    """Entry point of ``agentrun mcp``: serve the tools over stdio. Blocks."""
    configure_logs(
        settings.log_level, settings.observability.log_format, stream=sys.stderr
    )  # stdout is MCP's
    anyio.run(serve, settings)


if __name__ == "__main__":
    main(Settings())
