"""A tiny MCP server for tests, run over stdio: ``python -m tests.support.mcp_server``.

Tools: ``add(a, b)``, ``shout(text)`` (upper-cases, and appends ``MCP_SUFFIX`` from the
environment so a test can see ``env`` reach the subprocess), ``fail(reason)`` (always raises).
"""

from __future__ import annotations

import os

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("agentrun-test-tools")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def shout(text: str) -> str:
    """Return the text in upper case."""
    return text.upper() + os.environ.get("MCP_SUFFIX", "")


@server.tool()
def fail(reason: str) -> str:
    """Always fails with the given reason."""
    raise ToolError(f"failed on purpose: {reason}")


if __name__ == "__main__":
    server.run("stdio")
