"""Dependency aliases shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.services.container import DEFAULT_PROJECT, Services


def get_services(request: Request) -> Services:
    return request.app.state.services


def get_project(request: Request) -> str:
    # One project until API keys arrive; every route already takes the project from here.
    return DEFAULT_PROJECT


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
LimitDep = Annotated[int, Depends(page_limit)]
CursorDep = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
