"""The sandbox's exceptions: one base class so callers can map all of them to one error code."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentrun.sandbox.limits import CommandResult


class SandboxError(Exception):
    """Base of every error this package raises on purpose."""


class SandboxUnavailable(SandboxError):
    """bubblewrap is missing or cannot create a sandbox here; the message says what to fix."""


class SandboxLimitExceeded(SandboxError):
    """A limit or a confinement rule was hit: workspace too big, path escaping, file too big.

    `result` is set when a command ran to the end but left the workspace over its size limit,
    so the caller still sees what the command printed.
    """

    def __init__(self, message: str, *, result: CommandResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class InvalidArchive(SandboxLimitExceeded):
    """An uploaded or restored archive is unreadable or has a member the safety rules refuse."""
