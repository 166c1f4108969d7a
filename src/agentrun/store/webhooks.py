"""Webhook endpoints, per-project signing secrets, deliveries and their attempts.

:func:`enqueue_for_run` is called by ``RunRepo.finish`` inside the transaction that finishes a
run: the delivery rows commit with the run's terminal status or not at all, so a process that
dies right after a run ends cannot lose its webhooks. A worker then claims each pending
delivery (a conditional update, so one process wins) and delivers it as a durable workflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agentrun.domain.errors import not_found
from agentrun.domain.models import HTTP_URL_PATTERN, Page, Run, Strict
from agentrun.store.common import aware, decode_cursor, encode_cursor, new_id, now, whole
from agentrun.store.tables import (
    RunRow,
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
    WebhookSecretRow,
    table_of,
)

endpoints_t = table_of(WebhookEndpointRow)
secrets_t = table_of(WebhookSecretRow)
deliveries_t = table_of(WebhookDeliveryRow)
attempts_t = table_of(WebhookAttemptRow)
runs_t = table_of(RunRow)

WebhookEvent = Literal["run.completed", "run.failed", "run.cancelled", "run.timed_out", "run.requires_action"]
# What an endpoint gets when it names no events: the run's end, once per run.
WEBHOOK_EVENTS: tuple[str, ...] = ("run.completed", "run.failed", "run.cancelled", "run.timed_out")
# Opt-in (an endpoint lists it): the run waits for a person; not terminal, and it may fire again
# after a resume. A run's own webhook_url gets only its end.
WAITING_EVENT = "run.requires_action"
SUBSCRIBABLE_EVENTS: tuple[str, ...] = (*WEBHOOK_EVENTS, WAITING_EVENT)
FINISHED_STATES = ("delivered", "failed", "gone", "cancelled")


# --- public shapes -----------------------------------------------------------------------------


class WebhookEndpointCreate(Strict):
    url: str = Field(
        max_length=2000,
        description="http(s) URL that receives a POST per event.",
        json_schema_extra={"pattern": HTTP_URL_PATTERN},  # the SSRF guard checks it, with a clearer message
    )
    events: list[WebhookEvent] | None = Field(
        None, min_length=1, description="Events to send; default: all four run.* terminal events."
    )
    description: str = Field("", max_length=500)


class WebhookEndpoint(BaseModel):
    id: str
    project_id: str
    url: str
    events: list[str]
    description: str
    enabled: bool = Field(description="False once the receiver answered 410 Gone (deliveries stop).")
    disabled_reason: str | None = None
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpoint):
    secret: str = Field(description="Signing secret (`whsec_...`), shown only in this answer.")


class WebhookSecret(BaseModel):
    secret: str = Field(description="Signs deliveries to runs' own `webhook_url` in this project.")
    created_at: datetime


class WebhookAttempt(BaseModel):
    n: int = Field(description="1 for the first attempt.")
    at: datetime
    duration_ms: float
    status_code: int | None = Field(None, description="HTTP status of the answer; null when none came.")
    error: str | None = Field(None, description="Why no answer came (refused address, timeout, ...).")
    outcome: str = Field(description="delivered | retry | gone | failed (the last retry failed).")


class WebhookDelivery(BaseModel):
    id: str = Field(description="Also the `webhook-id` header: stable across retries.")
    project_id: str
    run_id: str
    endpoint_id: str | None = Field(description="null: the run's own webhook_url.")
    url: str
    event_type: str
    state: str = Field(description="pending | delivering | delivered | failed | gone | cancelled")
    attempt_count: int
    next_attempt_at: datetime | None = None
    created_at: datetime
    finished_at: datetime | None = None
    attempts: list[WebhookAttempt] = Field(default_factory=list)


@dataclass(slots=True)
class DeliveryWork:
    """What one delivery attempt needs."""

    id: str
    project_id: str
    endpoint_id: str | None
    url: str
    payload: dict[str, Any]
    state: str


# --- the transactional outbox ------------------------------------------------------------------


async def enqueue_for_run(conn: AsyncConnection, run: Run, event_type: str) -> int:
    """Add the deliveries for ``run``'s terminal ``event_type``, inside the caller's transaction.

    One to the run's own ``webhook_url`` (if any) and one per enabled project endpoint
    subscribed to the event. The payload is frozen now: ``{"type", "timestamp", "data": Run}``.
    """
    if event_type not in SUBSCRIBABLE_EVENTS:
        return 0
    targets: list[tuple[str | None, str]] = []
    run_url = await conn.scalar(sa.select(runs_t.c.webhook_url).where(runs_t.c.id == run.id))
    if run_url and event_type in WEBHOOK_EVENTS:
        targets.append((None, run_url))
    rows = (
        await conn.execute(
            sa.select(endpoints_t.c.id, endpoints_t.c.url, endpoints_t.c.events).where(
                endpoints_t.c.project_id == run.project_id, endpoints_t.c.enabled.is_(True)
            )
        )
    ).all()
    targets.extend((row.id, row.url) for row in rows if event_type in (row.events or WEBHOOK_EVENTS))
    if not targets:
        return 0
    created = now()
    payload = {
        "type": event_type,
        "timestamp": (run.finished_at or created).isoformat(),
        "data": run.model_dump(mode="json"),
    }
    await conn.execute(
        sa.insert(deliveries_t),
        [
            {
                "id": new_id("msg"),
                "project_id": run.project_id,
                "run_id": run.id,
                "endpoint_id": endpoint_id,
                "url": url,
                "event_type": event_type,
                "payload": payload,
                "state": "pending",
                "attempt_count": 0,
                "created_at": created,
            }
            for endpoint_id, url in targets
        ],
    )
    return len(targets)


# --- mapping ------------------------------------------------------------------------------------


def _endpoint(row: Any) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row.id,
        project_id=row.project_id,
        url=row.url,
        events=list(row.events or WEBHOOK_EVENTS),
        description=row.description,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
    )


def _attempt(row: Any) -> WebhookAttempt:
    return WebhookAttempt(
        n=row.n,
        at=aware(row.started_at),
        duration_ms=row.duration_ms,
        status_code=row.status_code,
        error=row.error,
        outcome=row.outcome,
    )


_DELIVERY_COLUMNS = [c for c in deliveries_t.c if c.name not in ("payload", "claimed_by")]


class WebhookRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # --- endpoints --------------------------------------------------------------------------

    @whole
    async def create_endpoint(
        self, project_id: str, body: WebhookEndpointCreate, secret: str
    ) -> WebhookEndpointCreated:
        created = now()
        values = {
            "id": new_id("whe"),
            "project_id": project_id,
            "url": body.url,
            "description": body.description,
            "events": list(body.events or WEBHOOK_EVENTS),
            "secret": secret,
            "enabled": True,
            "created_at": created,
            "updated_at": created,
        }
        async with self._engine.begin() as conn:
            await conn.execute(sa.insert(endpoints_t).values(**values))
            row = (await conn.execute(sa.select(endpoints_t).where(endpoints_t.c.id == values["id"]))).one()
        return WebhookEndpointCreated(**_endpoint(row).model_dump(), secret=secret)

    async def list_endpoints(self, project_id: str, cursor: str | None, limit: int) -> Page[WebhookEndpoint]:
        query = sa.select(endpoints_t).where(endpoints_t.c.project_id == project_id)
        after = decode_cursor(cursor)
        if after:
            query = query.where(endpoints_t.c.id > after)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(endpoints_t.c.id).limit(limit + 1))).all()
        page = rows[:limit]
        return Page[WebhookEndpoint](
            data=[_endpoint(r) for r in page],
            next_cursor=encode_cursor(page[-1].id) if len(rows) > limit else None,
        )

    async def get_endpoint(self, project_id: str, endpoint_id: str) -> WebhookEndpoint:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(endpoints_t).where(
                        endpoints_t.c.id == endpoint_id, endpoints_t.c.project_id == project_id
                    )
                )
            ).first()
        if row is None:
            raise not_found("webhook", endpoint_id)
        return _endpoint(row)

    @whole
    async def delete_endpoint(self, project_id: str, endpoint_id: str) -> None:
        """Delete the endpoint; its unfinished deliveries end as ``cancelled`` at their next attempt."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                sa.delete(endpoints_t).where(
                    endpoints_t.c.id == endpoint_id, endpoints_t.c.project_id == project_id
                )
            )
        if result.rowcount != 1:
            raise not_found("webhook", endpoint_id)

    async def endpoint_secret(self, endpoint_id: str) -> tuple[str, bool] | None:
        """(secret, enabled) of an endpoint, or None once it was deleted."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(endpoints_t.c.secret, endpoints_t.c.enabled).where(
                        endpoints_t.c.id == endpoint_id
                    )
                )
            ).first()
        return (row.secret, row.enabled) if row is not None else None

    @whole
    async def project_secret(self, project_id: str, candidate: str) -> WebhookSecret:
        """The project's secret for runs' own webhook_url; ``candidate`` becomes it if none exists yet."""
        for _ in range(2):
            async with self._engine.connect() as conn:
                row = (
                    await conn.execute(sa.select(secrets_t).where(secrets_t.c.project_id == project_id))
                ).first()
            if row is not None:
                return WebhookSecret(secret=row.secret, created_at=aware(row.created_at))
            try:
                async with self._engine.begin() as conn:
                    await conn.execute(
                        sa.insert(secrets_t).values(project_id=project_id, secret=candidate, created_at=now())
                    )
            except IntegrityError:
                continue  # another process made it first: read theirs
        raise RuntimeError(f"could not create the webhook secret of project {project_id}")

    # --- deliveries: reads ------------------------------------------------------------------

    async def deliveries(
        self,
        project_id: str,
        *,
        run_id: str | None = None,
        endpoint_id: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[WebhookDelivery]:
        """Newest first, each with all of its attempts in order."""
        query = sa.select(*_DELIVERY_COLUMNS).where(deliveries_t.c.project_id == project_id)
        if run_id is not None:
            query = query.where(deliveries_t.c.run_id == run_id)
        if endpoint_id is not None:
            query = query.where(deliveries_t.c.endpoint_id == endpoint_id)
        before = decode_cursor(cursor)
        if before:
            query = query.where(deliveries_t.c.id < before)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(deliveries_t.c.id.desc()).limit(limit + 1))).all()
            page = rows[:limit]
            attempts: dict[str, list[WebhookAttempt]] = {r.id: [] for r in page}
            if page:
                for a in (
                    await conn.execute(
                        sa.select(attempts_t)
                        .where(attempts_t.c.delivery_id.in_(list(attempts)))
                        .order_by(attempts_t.c.delivery_id, attempts_t.c.n)
                    )
                ).all():
                    attempts[a.delivery_id].append(_attempt(a))
        return Page[WebhookDelivery](
            data=[
                WebhookDelivery(
                    id=r.id,
                    project_id=r.project_id,
                    run_id=r.run_id,
                    endpoint_id=r.endpoint_id,
                    url=r.url,
                    event_type=r.event_type,
                    state=r.state,
                    attempt_count=r.attempt_count,
                    next_attempt_at=aware(r.next_attempt_at),
                    created_at=aware(r.created_at),
                    finished_at=aware(r.finished_at),
                    attempts=attempts[r.id],
                )
                for r in page
            ],
            next_cursor=encode_cursor(page[-1].id) if len(rows) > limit else None,
        )

    async def work(self, delivery_id: str) -> DeliveryWork | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        deliveries_t.c.id,
                        deliveries_t.c.project_id,
                        deliveries_t.c.endpoint_id,
                        deliveries_t.c.url,
                        deliveries_t.c.payload,
                        deliveries_t.c.state,
                    ).where(deliveries_t.c.id == delivery_id)
                )
            ).first()
        if row is None:
            return None
        return DeliveryWork(row.id, row.project_id, row.endpoint_id, row.url, row.payload, row.state)

    # --- deliveries: the dispatcher ---------------------------------------------------------

    async def pending(self, limit: int = 100) -> list[str]:
        async with self._engine.connect() as conn:
            return list(
                (
                    await conn.scalars(
                        sa.select(deliveries_t.c.id)
                        .where(deliveries_t.c.state == "pending")
                        .order_by(deliveries_t.c.id)
                        .limit(limit)
                    )
                ).all()
            )

    @whole
    async def claim(self, delivery_id: str, executor_id: str) -> bool:
        """pending -> delivering for this executor; False when another process claimed it first."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                sa.update(deliveries_t)
                .where(deliveries_t.c.id == delivery_id, deliveries_t.c.state == "pending")
                .values(state="delivering", claimed_by=executor_id)
            )
            return result.rowcount == 1

    async def claimed_by(self, executor_id: str) -> list[str]:
        """Unfinished deliveries this executor claimed (to re-attach after a restart)."""
        async with self._engine.connect() as conn:
            return list(
                (
                    await conn.scalars(
                        sa.select(deliveries_t.c.id).where(
                            deliveries_t.c.claimed_by == executor_id, deliveries_t.c.state == "delivering"
                        )
                    )
                ).all()
            )

    @whole
    async def record_attempt(
        self,
        delivery_id: str,
        n: int,
        *,
        started_at: datetime,
        duration_ms: float,
        status_code: int | None,
        error: str | None,
        outcome: str,
        next_attempt_at: datetime | None,
        disable_endpoint: str | None = None,
    ) -> None:
        """Record attempt ``n`` and move the delivery on, in one transaction.

        Re-recording the same ``n`` (a step re-run after a crash) replaces the earlier row.
        ``disable_endpoint``: the reason to disable the delivery's endpoint (410 Gone).
        """
        state = {"delivered": "delivered", "gone": "gone", "failed": "failed"}.get(outcome, "delivering")
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.delete(attempts_t).where(attempts_t.c.delivery_id == delivery_id, attempts_t.c.n == n)
            )
            await conn.execute(
                sa.insert(attempts_t).values(
                    delivery_id=delivery_id,
                    n=n,
                    started_at=started_at,
                    duration_ms=duration_ms,
                    status_code=status_code,
                    error=error,
                    outcome=outcome,
                )
            )
            await conn.execute(
                sa.update(deliveries_t)
                .where(deliveries_t.c.id == delivery_id)
                .values(
                    state=state,
                    attempt_count=n,
                    next_attempt_at=next_attempt_at,
                    finished_at=now() if state in FINISHED_STATES else None,
                )
            )
            if disable_endpoint is not None:
                endpoint_id = await conn.scalar(
                    sa.select(deliveries_t.c.endpoint_id).where(deliveries_t.c.id == delivery_id)
                )
                if endpoint_id is not None:
                    await conn.execute(
                        sa.update(endpoints_t)
                        .where(endpoints_t.c.id == endpoint_id)
                        .values(enabled=False, disabled_reason=disable_endpoint, updated_at=now())
                    )

    @whole
    async def cancel(self, delivery_id: str) -> None:
        """End an unfinished delivery whose endpoint was deleted or disabled."""
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(deliveries_t)
                .where(deliveries_t.c.id == delivery_id, deliveries_t.c.state.notin_(FINISHED_STATES))
                .values(state="cancelled", next_attempt_at=None, finished_at=now())
            )

    @whole
    async def delete_finished_before(self, cutoff: datetime, batch: int = 500) -> list[str]:
        """Delete up to ``batch`` finished deliveries (with attempts) that ended before ``cutoff``."""
        async with self._engine.begin() as conn:
            ids = list(
                (
                    await conn.scalars(
                        sa.select(deliveries_t.c.id)
                        .where(deliveries_t.c.state.in_(FINISHED_STATES), deliveries_t.c.finished_at < cutoff)
                        .limit(batch)
                    )
                ).all()
            )
            if ids:
                await conn.execute(sa.delete(attempts_t).where(attempts_t.c.delivery_id.in_(ids)))
                await conn.execute(sa.delete(deliveries_t).where(deliveries_t.c.id.in_(ids)))
        return ids
