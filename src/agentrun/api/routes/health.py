"""Liveness and readiness."""

from __future__ import annotations

import asyncio
import secrets

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from agentrun.api.deps import ServicesDep, api_key_of
from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.status import RunStatus
from agentrun.services.container import Services
from agentrun.services.metrics import CONTENT_TYPE
from agentrun.store.db import current_revision, head_revision

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _require_operator(request: Request, services: Services) -> None:
    """Server-wide numbers are the operator's: with keys required, an admin key or the
    ``security.metrics_token`` (for scrapers) is needed; keyless local servers stay open."""
    if services.keys.keyless_allowed:
        return
    credential = api_key_of(request)
    token = services.settings.security.metrics_token
    if credential and token is not None and secrets.compare_digest(credential, token.get_secret_value()):
        return
    principal = await services.keys.authenticate(credential)  # 401 without a valid key
    if not principal.admin:
        raise AgentrunError(
            ErrorCode.forbidden,
            "Server-wide metrics need an admin key or the metrics token (AGENTRUN_SECURITY__METRICS_TOKEN).",
        )


async def _operator(request: Request, services: Services) -> bool:
    try:
        await _require_operator(request, services)
    except AgentrunError:
        return False
    return True


@router.get("/readyz", operation_id="readyz")
async def readyz(request: Request, services: ServicesDep) -> JSONResponse:
    """200 or 503 for anyone (load balancers and probes send no key); the reasons (database
    error, migration state, worker) only for the operator when keys are required."""
    detailed = await _operator(request, services)
    try:
        async with services.store.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # report, don't raise: readiness is an answer, not an error
        body = {"status": "unavailable", "database": str(exc)}
        return JSONResponse(body if detailed else {"status": "unavailable"}, status_code=503)
    current, head = await asyncio.to_thread(_migration_state, services.settings.store_url)
    if current != head:
        body = {"status": "unavailable", "migrations": {"current": current, "head": head}}
        return JSONResponse(body if detailed else {"status": "unavailable"}, status_code=503)
    if not detailed:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "ready", "worker": services.worker is not None, "migration": current})


def _migration_state(url: str) -> tuple[str | None, str | None]:
    return current_revision(url), head_revision()


@router.get("/metrics", operation_id="metrics", response_class=PlainTextResponse)
async def metrics(request: Request, services: ServicesDep) -> PlainTextResponse:
    """Prometheus text format: this process's counters and histograms, the store's gauges.

    With keys required: an admin key, or ``Authorization: Bearer <security.metrics_token>``."""
    await _require_operator(request, services)
    counts = await services.store.runs.counts_by_status()
    alive = await services.store.workers.alive(services.settings.dead_after_s)
    services.metrics.set_store_gauges(counts, [status.value for status in RunStatus], len(alive))
    return Response(services.metrics.render(), media_type=CONTENT_TYPE)
