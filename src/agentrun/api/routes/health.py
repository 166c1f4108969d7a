"""Liveness and readiness."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from agentrun.api.deps import ServicesDep
from agentrun.domain.status import RunStatus
from agentrun.store.db import current_revision, head_revision

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    try:
        async with services.store.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # report, don't raise: readiness is an answer, not an error
        return JSONResponse({"status": "unavailable", "database": str(exc)}, status_code=503)
    current, head = await asyncio.to_thread(_migration_state, services.settings.store_url)
    if current != head:
        return JSONResponse(
            {"status": "unavailable", "migrations": {"current": current, "head": head}}, status_code=503
        )
    return JSONResponse({"status": "ready", "worker": services.worker is not None, "migration": current})


def _migration_state(url: str) -> tuple[str | None, str | None]:
    return current_revision(url), head_revision()


@router.get("/metrics", operation_id="metrics", response_class=PlainTextResponse)
async def metrics(services: ServicesDep) -> PlainTextResponse:
    """Prometheus text format: runs by status, queue depth, live workers, latency histograms."""
    counts = await services.store.runs.counts_by_status()
    alive = await services.store.workers.alive(services.settings.dead_after_s)
    gauges = [
        ("agentrun_runs", "Runs by status.", {"status": status.value}, float(counts.get(status.value, 0)))
        for status in RunStatus
    ]
    gauges.append(("agentrun_queue_depth", "Queued runs.", {}, float(counts.get("queued", 0))))
    gauges.append(("agentrun_workers_alive", "Workers that heartbeated recently.", {}, float(len(alive))))
    active = services.worker.active_count if services.worker else 0
    gauges.append(("agentrun_worker_active_runs", "Runs executing in this process.", {}, float(active)))
    return PlainTextResponse(services.metrics.render(gauges), media_type="text/plain; version=0.0.4")
