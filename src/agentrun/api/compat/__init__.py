"""Compat surfaces: one router per vendor document (docs/compat/), thin adapters over the services.

See docs/compat/ for each surface's mapping to native concepts.
"""

from __future__ import annotations

from fastapi import APIRouter

from agentrun.api.compat import acp, run_threads, task_api, versioned_agents

routers: list[APIRouter] = [task_api.router, versioned_agents.router, acp.router, run_threads.router]

__all__ = ["routers"]
