"""Webhooks: endpoints, signing (Standard Webhooks) and durable delivery with retries.

Flow (docs/webhooks.md):
1. ``RunRepo.finish`` writes the delivery rows in the run's final transaction (never lost).
2. In worker processes, :meth:`WebhookService._loop` claims pending rows (conditional update:
   one process wins on PostgreSQL) and starts one DBOS workflow per delivery, id = delivery id.
3. The workflow makes attempts (each a durable step that records the attempt row) with durable
   sleeps between them: a restarted process resumes it where it was, with the same schedule.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from agentrun import __version__
from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.models import Page
from agentrun.engine.durable import DurableEngine
from agentrun.runtime.tools.ssrf import UnsafeURLError, pinned_request, resolve_url_async
from agentrun.services import task_shape
from agentrun.services.metrics import Metrics
from agentrun.settings import Settings, WebhookSettings
from agentrun.store.common import now
from agentrun.store.store import Store
from agentrun.store.webhooks import (
    WEBHOOK_EVENTS,
    DeliveryWork,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookRepo,
    WebhookSecret,
)

__all__ = [
    "WEBHOOK_EVENTS",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEndpointCreate",
    "WebhookEndpointCreated",
    "WebhookSecret",
    "WebhookService",
    "check_webhook_url",
    "new_secret",
    "sign",
]

log = logging.getLogger(__name__)

WORKFLOW_NAME = "agentrun.webhook_delivery"
ATTEMPT_STEP_NAME = "agentrun.webhook_attempt"
SECRET_PREFIX = "whsec_"
RETENTION_EVERY_S = 600.0
_USER_AGENT = f"agentrun-webhooks/{__version__}"
_ALLOW_HINT = "To allow it, add the host or address to webhooks.allow_hosts (AGENTRUN_WEBHOOKS__ALLOW_HOSTS)."


# --- signing (Standard Webhooks) --------------------------------------------------------------


def new_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes, as Standard Webhooks secrets are."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,`` + base64(HMAC-SHA256(key, "id.timestamp.body"))."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


# --- the SSRF guard for webhook URLs ----------------------------------------------------------


async def check_webhook_url(url: str, allow_hosts: list[str], *, field: str = "url") -> None:
    """422 for a URL webhooks may not be sent to (bad scheme, loopback/private/metadata address).

    A host that does not resolve *now* is accepted: DNS may not be set up yet, and every
    delivery attempt checks the address again before it connects.
    """
    try:
        await resolve_url_async(url, allow_hosts)
    except UnsafeURLError as exc:
        if await _unresolvable(url):
            return
        raise AgentrunError(
            ErrorCode.validation_error,
            f"{field}: {_refusal(exc)}",
            {"field": field, "url": url},
        ) from None


async def _unresolvable(url: str) -> bool:
    """True only for a well-formed http(s) URL whose host name does not resolve."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return False
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme.lower() not in ("http", "https") or not host:
        return False
    try:
        ipaddress.ip_address(host)
        return False  # an address literal always "resolves"
    except ValueError:
        pass
    try:
        await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return True
    return False


def _refusal(exc: UnsafeURLError) -> str:
    # The guard's own hint names the http_get tool's allow-list; webhooks have their own.
    return str(exc).split(" To allow it,")[0] + (" " + _ALLOW_HINT if "To allow it," in str(exc) else "")


def retry_delay(settings: WebhookSettings, attempt: int, waited: float) -> float | None:
    """Seconds to wait after failed attempt ``attempt`` (1-based), or None to give up.

    The schedule's last delay repeats until ``retry_for_s`` seconds of waiting have passed.
    """
    if waited >= settings.retry_for_s:
        return None
    schedule = settings.backoff_s
    return float(schedule[min(attempt - 1, len(schedule) - 1)])


class WebhookService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._repo = WebhookRepo(store.engine)
        self._settings = settings
        self._engine: DurableEngine | None = None
        self._executor_id: str | None = None
        self._workflow: Any = None
        self._attempt_step: Any = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._wake = asyncio.Event()
        self._last_retention = 0.0
        self._inflight: set[asyncio.Task[Any]] = set()
        self.metrics: Metrics | None = None  # set by the container

    @property
    def _config(self) -> WebhookSettings:
        return self._settings.webhooks

    # --- endpoints and secrets (API) ---------------------------------------------------------

    async def create_endpoint(self, project_id: str, body: WebhookEndpointCreate) -> WebhookEndpointCreated:
        await check_webhook_url(body.url, self._config.allow_hosts)
        return await self._repo.create_endpoint(project_id, body, new_secret())

    async def list_endpoints(self, project_id: str, cursor: str | None, limit: int) -> Page[WebhookEndpoint]:
        return await self._repo.list_endpoints(project_id, cursor, limit)

    async def get_endpoint(self, project_id: str, endpoint_id: str) -> WebhookEndpoint:
        return await self._repo.get_endpoint(project_id, endpoint_id)

    async def delete_endpoint(self, project_id: str, endpoint_id: str) -> None:
        await self._repo.delete_endpoint(project_id, endpoint_id)

    async def project_secret(self, project_id: str) -> WebhookSecret:
        return await self._repo.project_secret(project_id, new_secret())

    async def endpoint_deliveries(
        self, project_id: str, endpoint_id: str, cursor: str | None, limit: int
    ) -> Page[WebhookDelivery]:
        await self._repo.get_endpoint(project_id, endpoint_id)  # 404 for another project's id
        return await self._repo.deliveries(project_id, endpoint_id=endpoint_id, cursor=cursor, limit=limit)

    async def run_deliveries(
        self, project_id: str, run_id: str, cursor: str | None, limit: int
    ) -> Page[WebhookDelivery]:
        await self._store.runs.get(run_id, project_id)  # 404 for another project's run
        return await self._repo.deliveries(project_id, run_id=run_id, cursor=cursor, limit=limit)

    # --- delivery (worker processes) -----------------------------------------------------------

    def register(self, engine: DurableEngine, executor_id: str) -> None:
        """Declare the delivery workflow and its attempt step; before ``engine.launch()``."""
        self._engine = engine
        self._executor_id = executor_id

        async def attempt(delivery_id: str, n: int, retry_in: float | None) -> str:
            return await self._attempt(delivery_id, n, retry_in)

        async def deliver(delivery_id: str) -> str:
            task = asyncio.current_task()
            assert task is not None
            self._inflight.add(task)
            try:
                return await self._deliver(delivery_id)
            finally:
                self._inflight.discard(task)

        self._attempt_step = engine.register_step(ATTEMPT_STEP_NAME, attempt)
        self._workflow = engine.register_workflow(WORKFLOW_NAME, deliver)

    async def start(self) -> None:
        """After launch: re-attach deliveries this executor claimed, then poll for new ones."""
        assert self._engine is not None and self._executor_id is not None, "register() first"
        for delivery_id in await self._repo.claimed_by(self._executor_id):
            # DBOS resumed the workflows it had at launch; starting one again only re-attaches
            # (DurableEngine.start_workflow), and starts one lost between claim and start.
            await self._engine.start_workflow(self._workflow, delivery_id, delivery_id)
        self._task = asyncio.create_task(self._loop(), name="agentrun-webhooks")

    async def close(self) -> None:
        """Stop claiming and interrupt in-flight deliveries (before the engine goes): their
        workflows stay pending and resume, at the step they reached, when this executor restarts."""
        self._closing = True
        tasks = [t for t in (self._task, *self._inflight) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    def poke(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while not self._closing:
            try:
                await self.dispatch_pending()
                if time.monotonic() - self._last_retention > RETENTION_EVERY_S:
                    self._last_retention = time.monotonic()
                    await self._apply_retention()
            except Exception:  # a store hiccup must not stop deliveries for good
                log.exception("webhook dispatch pass failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._config.poll_s):
                    await self._wake.wait()
            self._wake.clear()

    async def dispatch_pending(self) -> int:
        """Claim pending deliveries and start their workflows; returns how many started here."""
        assert self._engine is not None and self._executor_id is not None
        started = 0
        while not self._closing:
            ids = await self._repo.pending(100)
            if not ids:
                return started
            for delivery_id in ids:
                if await self._repo.claim(delivery_id, self._executor_id):
                    await self._engine.start_workflow(self._workflow, delivery_id, delivery_id)
                    started += 1
        return started

    async def _apply_retention(self) -> None:
        cutoff = now() - timedelta(days=self._settings.limits.retention_days)
        while ids := await self._repo.delete_finished_before(cutoff):
            assert self._engine is not None
            await self._engine.delete(ids)

    async def _deliver(self, delivery_id: str) -> str:
        """The delivery workflow: attempt, durable sleep, attempt... until an outcome is final."""
        assert self._engine is not None
        waited = 0.0
        attempt = 1
        while True:
            delay = retry_delay(self._config, attempt, waited)
            outcome = await self._attempt_step(delivery_id, attempt, delay)
            if outcome != "retry" or delay is None:
                return outcome
            await self._engine.sleep(delay)
            waited += delay
            attempt += 1

    async def _message(self, work: DeliveryWork) -> dict[str, Any]:
        """What a delivery sends: the native message frozen at the run's end, except for a run's
        own ``webhook_url`` when the run was created in a vendor shape: a 001 run (``POST
        /api/runs``) gets the 001 response, as that document's caller expects. Rendered from the
        finished run and its events, which no longer change, so every attempt sends the same bytes.
        """
        run_data = work.payload.get("data") or {}
        shape = (run_data.get("metadata") or {}).get(task_shape.SHAPE_KEY)
        if work.endpoint_id is not None or shape != task_shape.SHAPE:
            return work.payload
        try:
            run = await self._store.runs.get(run_data["id"], work.project_id)
        except AgentrunError:
            return work.payload  # the run is gone (deleted with its thread): the frozen message
        events: list[Any] = []
        while True:
            page = await self._store.runs.events(run.id, events[-1].seq if events else 0, 500)
            events.extend(page)
            if len(page) < 500:
                break
        return task_shape.task_response(run, events)

    async def _attempt(self, delivery_id: str, n: int, retry_in: float | None) -> str:
        """One HTTP attempt (a durable step): sends, records the attempt, returns the outcome.

        Outcomes: ``delivered`` (2xx), ``gone`` (410: stop, endpoint disabled), ``retry``, ``failed``
        (no retry left), ``cancelled`` (endpoint deleted or disabled meanwhile).
        """
        work = await self._repo.work(delivery_id)
        if work is None:
            return "cancelled"  # deleted (retention)
        if work.state in ("delivered", "failed", "gone", "cancelled"):
            return work.state  # recorded before a crash: do not send again
        if work.endpoint_id is not None:
            found = await self._repo.endpoint_secret(work.endpoint_id)
            if found is None or not found[1]:
                await self._repo.cancel(delivery_id)
                return "cancelled"
            secret = found[0]
        else:
            secret = (await self._repo.project_secret(work.project_id, new_secret())).secret

        message = await self._message(work)
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
        started_at = now()
        t0 = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        try:
            checked = await resolve_url_async(work.url, self._config.allow_hosts)
            url, headers, extensions = pinned_request(checked, _USER_AGENT)
            timestamp = int(time.time())
            headers.update(
                {
                    "Content-Type": "application/json",
                    "webhook-id": delivery_id,
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": sign(secret, delivery_id, timestamp, body),
                }
            )
            # trust_env=False: a proxy from the environment would bypass the address check.
            async with httpx.AsyncClient(
                timeout=self._config.timeout_s, follow_redirects=False, trust_env=False
            ) as client:
                request = client.build_request(
                    "POST", url, content=body, headers=headers, extensions=extensions
                )
                response = await client.send(request, stream=True)
                status_code = response.status_code
                await response.aclose()  # the answer's body is not read
        except UnsafeURLError as exc:
            error = f"refused: {_refusal(exc)}"
        except httpx.TimeoutException:
            error = f"timeout: no answer in {self._config.timeout_s:g}s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        duration_ms = (time.monotonic() - t0) * 1000

        disable: str | None = None
        if status_code is not None and 200 <= status_code < 300:
            outcome = "delivered"
        elif status_code == 410:
            outcome = "gone"
            disable = f"the receiver answered 410 Gone at {started_at.isoformat()}"
        elif retry_in is None:
            outcome = "failed"
        else:
            outcome = "retry"
        if self.metrics is not None:  # before the record: whoever sees the attempt sees it counted
            self.metrics.on_webhook_attempt(outcome)
        await self._repo.record_attempt(
            delivery_id,
            n,
            started_at=started_at,
            duration_ms=round(duration_ms, 3),
            status_code=status_code,
            error=error,
            outcome=outcome,
            next_attempt_at=now() + timedelta(seconds=retry_in) if outcome == "retry" and retry_in else None,
            disable_endpoint=disable,
        )
        if outcome != "delivered":
            log.info("webhook %s attempt %d to %s: %s", delivery_id, n, work.url, error or status_code)
        return outcome
