"""Which tools an agent definition may use on this server (docs/tools.md, "Who may run code").

Checked in full when an agent is created, applied or changed (a broken tool is a 422 then, not a
failing run), and the trust part again when a run is created and when a worker executes it: a
definition stored while unregistered tools were allowed does not run after the operator turned
that off.
"""

from __future__ import annotations

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.models import AgentDefinition
from agentrun.runtime.tools import build_toolsets
from agentrun.runtime.tools.registry import ToolRegistry, check_tools
from agentrun.settings import Settings


class ToolPolicy:
    def __init__(self, settings: Settings, registry: ToolRegistry | None = None) -> None:
        self._settings = settings
        self.registry = registry if registry is not None else ToolRegistry.from_settings(settings.tools)

    def check_trust(self, definition: AgentDefinition) -> None:
        """``tool_not_allowed`` for what an API caller may not put on this server (cheap)."""
        check_tools(
            definition.tools, self.registry, allow_unregistered=self._settings.unregistered_tools_allowed
        )
        sandbox = definition.sandbox
        if sandbox is not None and sandbox.network and not self._settings.sandbox.allow_network:
            raise AgentrunError(
                ErrorCode.tool_not_allowed,
                "sandbox.network: this server does not let sandboxed commands reach the network; the "
                "operator can allow it with AGENTRUN_SANDBOX__ALLOW_NETWORK=true.",
                {"setting": "sandbox.allow_network"},
            )

    def needs_sandbox(self, definition: AgentDefinition) -> bool:
        """Whether the definition uses a registered MCP server that runs in the run's sandbox."""
        for spec in definition.tools:
            server = self.registry.mcp_servers.get(spec.server or "") if spec.kind == "mcp" else None
            if server is not None and server.in_sandbox:
                return True
        return False

    def check(self, definition: AgentDefinition) -> None:
        """Trust, then every tool resolvable: built-ins exist, Python tools import, names unique."""
        self.check_trust(definition)
        build_toolsets(definition.tools, self._settings.tools, self.registry)
