"""Registered stdio MCP servers that run inside the run's sandbox (``"in_sandbox": true``).

The toolset an agent is built with is shared by all its runs; :meth:`SandboxedMCPToolset.for_run`
gives each run its own, whose server process is started (lazily, at the first tool listing) by
the run's sandbox handle: bubblewrap around the run's workspace, the sandbox's identity and
rlimits, no network unless the agent's sandbox has it. The process ends with the run. After every
tool call the workspace is archived, so files the server wrote follow the run to any worker, as a
``shell`` command's do. Each call is a durable step like a function tool's (the worker wraps this
toolset with the same interceptor).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastmcp.client.transports import StdioTransport
from pydantic_ai import RunContext
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.toolsets import AbstractToolset, ToolsetTool

from agentrun.settings import RegisteredMCPServer

_HOST_ENV = {"PATH": "/usr/bin:/bin"}  # for setpriv and bwrap; the sandbox clears its own


@dataclass
class SandboxedMCPToolset(AbstractToolset[Any]):
    """Stands in for one registered server in every run; each run gets a :class:`_RunServer`."""

    name: str
    server: RegisteredMCPServer
    toolset_id: str
    timeout_s: float

    @property
    def id(self) -> str:
        return self.toolset_id

    @property
    def label(self) -> str:
        return f"MCP server {self.name!r} (in the sandbox)"

    async def for_run(self, ctx: RunContext[Any]) -> AbstractToolset[Any]:
        return _RunServer(self)

    async def get_tools(self, ctx: RunContext[Any]) -> dict[str, ToolsetTool[Any]]:
        raise RuntimeError(f"{self.label} is used only through a run's own instance (for_run)")

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        raise RuntimeError(f"{self.label} is used only through a run's own instance (for_run)")


@dataclass
class _RunServer(AbstractToolset[Any]):
    spec: SandboxedMCPToolset
    _inner: MCPToolset[Any] | None = field(default=None, init=False)

    @property
    def id(self) -> str:
        return self.spec.toolset_id

    @property
    def label(self) -> str:
        return self.spec.label

    async def _started(self, ctx: RunContext[Any]) -> MCPToolset[Any]:
        if self._inner is None:
            handle = getattr(ctx.deps, "sandbox", None)
            if handle is None:
                raise RuntimeError(f"{self.label} runs in the run's sandbox, and this run has none")
            server = self.spec.server
            argv = await handle.server_argv([server.command or "", *server.args], dict(server.env))
            inner: MCPToolset[Any] = MCPToolset(
                StdioTransport(command=argv[0], args=argv[1:], env=dict(_HOST_ENV), keep_alive=False),
                id=self.spec.toolset_id,
                tool_error_behavior="failed",
                init_timeout=self.spec.timeout_s,
                read_timeout=self.spec.timeout_s,
            )
            await inner.__aenter__()
            self._inner = inner
        return self._inner

    async def get_tools(self, ctx: RunContext[Any]) -> dict[str, ToolsetTool[Any]]:
        return await (await self._started(ctx)).get_tools(ctx)

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        inner = await self._started(ctx)
        try:
            return await inner.call_tool(name, tool_args, ctx, tool)
        finally:
            await ctx.deps.sandbox.commit()  # what the server wrote is archived before the step ends

    async def __aexit__(self, *args: Any) -> bool | None:
        inner, self._inner = self._inner, None
        if inner is not None:
            await inner.__aexit__(*args)
        return None
