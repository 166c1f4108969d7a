"""Open agent protocols: one router per protocol (A2A, Agent Protocol), thin over the services.

See docs/compat/ for each protocol's mapping to native concepts.
"""

from __future__ import annotations

from fastapi import APIRouter

from agentrun.api.protocols import a2a, agent_protocol

routers: list[APIRouter] = [a2a.router, agent_protocol.router]

__all__ = ["routers"]
