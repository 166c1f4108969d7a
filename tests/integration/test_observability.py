"""Observability: request ids (honoured or generated, echoed, on every log line of the request)."""

from __future__ import annotations

import logging

import httpx

from agentrun.api.observability import RequestId, RequestIdFilter


async def test_request_id_is_honoured_and_echoed(api) -> None:  # type: ignore[no-untyped-def]
    answer = await api.client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert answer.headers["x-request-id"] == "abc-123"


async def test_request_id_is_generated_when_missing_or_unsafe(api) -> None:  # type: ignore[no-untyped-def]
    first = (await api.client.get("/healthz")).headers["x-request-id"]
    second = (await api.client.get("/healthz", headers={"X-Request-Id": "bad id\twith space"})).headers[
        "x-request-id"
    ]
    assert len(first) == 32 and len(second) == 32 and first != second


async def test_log_lines_of_one_request_share_its_id(caplog) -> None:  # type: ignore[no-untyped-def]
    log = logging.getLogger("agentrun.test.rid")

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        log.warning("first line")
        log.warning("second line")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    caplog.handler.addFilter(RequestIdFilter())
    transport = httpx.ASGITransport(app=RequestId(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        one = await client.get("/", headers={"X-Request-Id": "req-1"})
        two = await client.get("/")
    log.warning("outside")
    ids = [r.request_id for r in caplog.records if r.name == "agentrun.test.rid"]
    assert one.headers["x-request-id"] == "req-1"
    assert ids == ["req-1", "req-1", two.headers["x-request-id"], two.headers["x-request-id"], "-"]
