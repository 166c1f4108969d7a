"""The operator's tools: Python functions and MCP servers registered by name.

Code that runs in the server process comes only from the operator: ``tools.python`` and
``tools.mcp_servers`` in settings, and the ``agentrun.tools`` entry-point group of installed
packages (``[project.entry-points."agentrun.tools"] lookup = "mycompany.tools:lookup"``).
Agents, which any API key may write, refer to these by name. Raw ``ref``s and stdio ``command``s
in a definition are "unregistered" and pass only where :func:`check_tools` is told they may.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.models import ToolSpec
from agentrun.settings import RegisteredMCPServer, ToolSettings

ENTRY_POINT_GROUP = "agentrun.tools"
UNREGISTERED_SETTING = "AGENTRUN_TOOLS__ALLOW_UNREGISTERED"


@dataclass(frozen=True)
class ToolRegistry:
    python: Mapping[str, str] = field(default_factory=dict)  # name -> "package.module:function"
    mcp_servers: Mapping[str, RegisteredMCPServer] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: ToolSettings) -> ToolRegistry:
        python: dict[str, str] = {}
        if settings.entry_points:
            for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                python[entry.name] = entry.value
        python.update(settings.python)  # settings name the tool explicitly: they win
        return cls(python, dict(settings.mcp_servers))


def check_tools(specs: Sequence[ToolSpec], registry: ToolRegistry, *, allow_unregistered: bool) -> None:
    """Refuse what an API caller may not put on the server, and names nobody registered.

    Raises ``tool_not_allowed`` for a raw Python ``ref`` or stdio ``command`` when unregistered
    tools are not allowed, ``validation_error`` for an unknown registered name. Importability and
    built-in names are checked by ``build_toolsets``.
    """
    for index, spec in enumerate(specs):
        where = f"tools[{index}]"
        if spec.unregistered and not allow_unregistered:
            what = "a raw Python `ref`" if spec.kind == "python" else "a raw stdio `command`"
            register = (
                'AGENTRUN_TOOLS__PYTHON=\'{"NAME": "package.module:function"}\''
                if spec.kind == "python"
                else 'AGENTRUN_TOOLS__MCP_SERVERS=\'{"NAME": {"command": ...}}\''
            )
            raise AgentrunError(
                ErrorCode.tool_not_allowed,
                f"{where}: {spec.label} is {what}, which would run code on the server; API callers may "
                f"only use tools the operator registered. The operator can register it ({register}, then "
                f'use {{"kind": "{spec.kind}", "{"name" if spec.kind == "python" else "server"}": "NAME"}}) '
                f"or allow unregistered tools with {UNREGISTERED_SETTING}=true.",
                {"tool": index, "label": spec.label, "setting": "tools.allow_unregistered"},
            )
        if spec.kind == "python" and spec.ref is None and spec.name not in registry.python:
            raise AgentrunError(
                ErrorCode.validation_error,
                f"{where}: no Python tool named {spec.name!r} is registered on this server; "
                f"registered: {', '.join(sorted(registry.python)) or 'none'}.",
                {"tool": index, "name": spec.name},
            )
        if spec.kind == "mcp" and spec.server is not None and spec.server not in registry.mcp_servers:
            raise AgentrunError(
                ErrorCode.validation_error,
                f"{where}: no MCP server named {spec.server!r} is registered on this server; "
                f"registered: {', '.join(sorted(registry.mcp_servers)) or 'none'}.",
                {"tool": index, "server": spec.server},
            )
        if (
            spec.kind == "mcp"
            and spec.url is not None
            and not spec.url.lower().startswith(("http://", "https://"))
        ):
            raise AgentrunError(
                ErrorCode.validation_error,
                f"{where}: an MCP `url` must be http:// or https://.",
                {"tool": index, "url": spec.url},
            )
