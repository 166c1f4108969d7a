"""Per HTTP request: its id (``X-Request-Id`` honoured when sane, else generated; echoed, and on
every log record emitted while it is served: ``record.request_id``) and its metrics (by route
template and status)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentrun.logs import ACCESS_LOGGER, request_id_var

HEADER = b"x-request-id"
_SANE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")  # no spaces/newlines: safe to echo and to log

ACCESS = logging.getLogger(ACCESS_LOGGER)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (or ``-``) to every record; install on handlers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get() or "-"
        return True


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(HEADER, b"").decode("latin-1")
        rid = given if _SANE.match(given) else uuid.uuid4().hex
        token = request_id_var.set(rid)
        started = time.perf_counter()
        services = _services(scope)
        span = (
            services.tracing.start_request(scope.get("method", "GET"), scope.get("path", ""), _headers(scope))
            if services is not None and services.tracing.tracer is not None  # off: no work at all
            else None
        )
        status = 500  # no answer started: the server failed it

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, rid.encode("latin-1"))]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            try:
                if span is not None:
                    services.tracing.end_request(span, route_of(scope), status, rid)
                _observe(services, scope, status, time.perf_counter() - started)
            finally:
                request_id_var.reset(token)


def _services(scope: Scope) -> Any:
    """The app's services once its lifespan started them (None before, or for a bare ASGI app)."""
    return getattr(getattr(scope.get("app"), "state", None), "services", None)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}


def route_of(scope: Scope) -> str:
    """The route template (``/v1/runs/{run_id}``), never the raw path: bounded label values."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


def _observe(services: Any, scope: Scope, status: int, seconds: float) -> None:
    if services is None:
        return
    method, route = scope.get("method", "GET"), route_of(scope)
    services.metrics.on_http_request(method, route, status, seconds)
    if services.settings.observability.access_log:
        # The path without its query string (it may carry a token); the route template too.
        path = scope.get("path", "")
        ACCESS.info(
            "%s %s %d %.1fms",
            method,
            path,
            status,
            seconds * 1000,
            extra={
                "method": method,
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
            },
        )
