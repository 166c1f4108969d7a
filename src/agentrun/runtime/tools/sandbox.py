"""The sandbox tools: run a command, read, write and list files in the run's sandbox.

An agent gets them when its runs have a sandbox (the agent's ``sandbox`` setting, or a run that
asks for one). They reach the sandbox through ``RunDeps.sandbox``, which the worker sets per run
to an object with the :class:`SandboxHandle` methods; commands and files never touch the server's
own filesystem. Each call is a durable step like any function tool: a finished command is not run
again after a crash.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic_ai import RunContext

from agentrun.runtime.events import RunDeps

SANDBOX_TOOL_NAMES = ("shell", "read_file", "write_file", "list_files")


class SandboxHandle(Protocol):
    async def run_command(self, command: str) -> str: ...

    async def read_file(self, path: str) -> str: ...

    async def write_file(self, path: str, content: str) -> str: ...

    async def list_files(self, path: str) -> list[dict[str, Any]]: ...

    async def server_argv(self, argv: list[str], env: dict[str, str]) -> list[str]:
        """The host command line that starts ``argv`` (an MCP stdio server) inside the sandbox."""
        ...

    async def commit(self) -> None:
        """Archive the workspace now (after a sandboxed MCP server's tool call)."""
        ...


def _sandbox(ctx: RunContext[RunDeps]) -> SandboxHandle:
    handle = ctx.deps.sandbox
    if handle is None:
        raise RuntimeError("this run has no sandbox")
    return handle  # type: ignore[no-any-return]


async def shell(ctx: RunContext[RunDeps], command: str) -> str:
    """Run a shell command (sh -c) in the sandbox's workspace, /workspace, and return its exit code,
    stdout and stderr. The sandbox has no network unless the agent allows it; time, memory,
    processes and output are limited.

    Args:
        command: The command line, e.g. "python3 -m pytest -q".
    """
    return await _sandbox(ctx).run_command(command)


async def read_file(ctx: RunContext[RunDeps], path: str) -> str:
    """Read a text file of the sandbox's workspace (long files are cut).

    Args:
        path: Path relative to the workspace, e.g. "src/app.py".
    """
    return await _sandbox(ctx).read_file(path)


async def write_file(ctx: RunContext[RunDeps], path: str, content: str) -> str:
    """Create or replace a file in the sandbox's workspace (parent directories are created).

    Args:
        path: Path relative to the workspace.
        content: The whole new content of the file.
    """
    return await _sandbox(ctx).write_file(path, content)


async def list_files(ctx: RunContext[RunDeps], path: str = ".") -> list[dict[str, Any]]:
    """List the files under a directory of the sandbox's workspace, recursively, with their sizes.

    Args:
        path: Directory relative to the workspace; "." is the whole workspace.
    """
    return await _sandbox(ctx).list_files(path)


SANDBOX_FUNCTIONS = {
    "shell": shell,
    "read_file": read_file,
    "write_file": write_file,
    "list_files": list_files,
}
