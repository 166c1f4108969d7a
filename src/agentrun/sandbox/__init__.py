"""Sandbox core: isolated workspaces whose commands run under bubblewrap.

Imports nothing of agentrun (it sits at the runtime layer). See
docs/decisions/0007-sandbox-bubblewrap.md for what is isolated, which limits apply and how.
"""

from agentrun.sandbox.errors import InvalidArchive, SandboxError, SandboxLimitExceeded, SandboxUnavailable
from agentrun.sandbox.limits import CommandResult, SandboxLimits
from agentrun.sandbox.workspace import Workspace, sandbox_available

__all__ = [
    "CommandResult",
    "InvalidArchive",
    "SandboxError",
    "SandboxLimitExceeded",
    "SandboxLimits",
    "SandboxUnavailable",
    "Workspace",
    "sandbox_available",
]
