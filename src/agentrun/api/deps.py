"""Dependency aliases shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.services.container import Services
from agentrun.services.keys import Principal


def get_services(request: Request) -> Services:
    return request.app.state.services


def api_key_of(request: Request) -> str | None:
    """The key from ``Authorization: Bearer KEY`` or ``X-API-Key: KEY`` (every surface takes both)."""
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.headers.get("x-api-key") or None


async def get_principal(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:
        principal = await get_services(request).keys.authenticate(api_key_of(request))
        request.state.principal = principal
    return principal


async def get_project(principal: Annotated[Principal, Depends(get_principal)]) -> str:
    return principal.project_id


def page_limit(request: Request, limit: Annotated[int | None, Query(ge=1)] = None) -> int:
    limits = get_services(request).settings.limits
    if limit is None:
        return limits.default_page_size
    if limit > limits.max_page_size:
        raise AgentrunError(
            ErrorCode.validation_error,
            f"limit: at most {limits.max_page_size} per page; follow next_cursor for more.",
            {"field": "limit", "max": limits.max_page_size},
        )
    return limit


ServicesDep = Annotated[Services, Depends(get_services)]
ProjectDep = Annotated[str, Depends(get_project)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
LimitDep = Annotated[int, Depends(page_limit)]
CursorDep = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
