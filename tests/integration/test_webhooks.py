"""Webhooks on SQLite and PostgreSQL: signed deliveries (verified with the documented recipe),
retries with every attempt recorded, 410 Gone, the SSRF guard, project scoping."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import pytest

from tests.support.webhook_receiver import Receiver, documented_verify, wait_async

FAST = {"allow_hosts": ["127.0.0.1"], "backoff_s": [0.05], "retry_for_s": 5.0, "poll_s": 0.05}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"webhooks": dict(FAST)}


async def _run(api: Any, **extra: Any) -> dict[str, Any]:
    response = await api.client.post(
        "/v1/runs", json={"agent": "demo", "prompt": "hi", "mode": "sync", **extra}
    )
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "completed", run
    return run


async def _delivery(api: Any, path: str, until: set[str], timeout: float = 30) -> dict[str, Any]:
    """The single delivery listed at ``path`` once its state is one of ``until``."""
    deadline = time.monotonic() + timeout
    while True:
        page = (await api.client.get(path)).json()
        if page["data"] and page["data"][0]["state"] in until:
            assert len(page["data"]) == 1, page
            return page["data"][0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no delivery in {until} at {path}: {page}")
        await asyncio.sleep(0.05)


async def test_run_webhook_url_gets_a_signed_delivery(api) -> None:  # type: ignore[no-untyped-def]
    verify = documented_verify()
    with Receiver() as receiver:
        run = await _run(api, webhook_url=receiver.url)
        (got,) = await wait_async(receiver, 1)
        delivery = await _delivery(api, f"/v1/runs/{run['id']}/deliveries", {"delivered"})

    secret = (await api.client.get("/v1/webhooks/secret")).json()["secret"]
    assert secret == (await api.client.get("/v1/webhooks/secret")).json()["secret"]  # stable
    message = verify(secret, got.headers, got.body)
    assert message["type"] == "run.completed"
    assert message["data"]["id"] == run["id"]
    assert message["data"]["status"] == "completed"
    assert message["data"]["result"] == run["result"]
    assert message["timestamp"].startswith(run["finished_at"][:19])
    assert got.headers["webhook-id"] == delivery["id"]
    assert got.headers["content-type"] == "application/json"

    tampered = got.body.replace(b'"completed"', b'"failed"', 1)
    assert tampered != got.body
    with pytest.raises(ValueError, match="signature"):
        verify(secret, got.headers, tampered)
    with pytest.raises(ValueError, match="signature"):
        verify("whsec_" + base64.b64encode(b"x" * 32).decode(), got.headers, got.body)

    assert delivery["endpoint_id"] is None
    assert delivery["event_type"] == "run.completed"
    assert [(a["n"], a["status_code"], a["outcome"]) for a in delivery["attempts"]] == [(1, 200, "delivered")]


async def test_endpoint_retries_until_2xx_and_lists_every_attempt(api) -> None:  # type: ignore[no-untyped-def]
    verify = documented_verify()
    with Receiver([500, 500, 200]) as receiver:
        created = await api.client.post("/v1/webhooks", json={"url": receiver.url, "description": "ci"})
        assert created.status_code == 201, created.text
        endpoint = created.json()
        run = await _run(api)
        got = await wait_async(receiver, 3)
        delivery = await _delivery(api, f"/v1/webhooks/{endpoint['id']}/deliveries", {"delivered"})

    secret = endpoint["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) >= 24
    assert endpoint["events"] == ["run.completed", "run.failed", "run.cancelled", "run.timed_out"]
    shown = (await api.client.get(f"/v1/webhooks/{endpoint['id']}")).json()
    assert "secret" not in shown and shown["enabled"] is True
    assert [e["id"] for e in (await api.client.get("/v1/webhooks")).json()["data"]] == [endpoint["id"]]

    assert len({r.headers["webhook-id"] for r in got}) == 1  # one delivery id across retries
    for request in got:
        assert verify(secret, request.headers, request.body)["data"]["id"] == run["id"]
    attempts = delivery["attempts"]
    assert [(a["n"], a["status_code"], a["outcome"]) for a in attempts] == [
        (1, 500, "retry"),
        (2, 500, "retry"),
        (3, 200, "delivered"),
    ]
    assert all(a["duration_ms"] >= 0 and a["at"] and a["error"] is None for a in attempts)
    assert delivery["attempt_count"] == 3 and delivery["finished_at"] is not None
    by_run = (await api.client.get(f"/v1/runs/{run['id']}/deliveries")).json()["data"]
    assert [d["id"] for d in by_run] == [delivery["id"]]


async def test_410_gone_stops_and_disables_the_endpoint(api) -> None:  # type: ignore[no-untyped-def]
    with Receiver([410]) as receiver:
        endpoint = (await api.client.post("/v1/webhooks", json={"url": receiver.url})).json()
        await _run(api)
        delivery = await _delivery(api, f"/v1/webhooks/{endpoint['id']}/deliveries", {"gone", "delivered"})
        assert delivery["state"] == "gone"
        assert [(a["status_code"], a["outcome"]) for a in delivery["attempts"]] == [(410, "gone")]
        shown = (await api.client.get(f"/v1/webhooks/{endpoint['id']}")).json()
        assert shown["enabled"] is False and "410" in shown["disabled_reason"]
        later = await _run(api)  # a disabled endpoint gets nothing more
        assert (await api.client.get(f"/v1/runs/{later['id']}/deliveries")).json()["data"] == []
        assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    "settings_overrides", [{"webhooks": {**FAST, "backoff_s": [0.05], "retry_for_s": 0.1}}]
)
async def test_retries_end_as_failed_when_the_schedule_is_used_up(api) -> None:  # type: ignore[no-untyped-def]
    with Receiver([500] * 10) as receiver:
        run = await _run(api, webhook_url=receiver.url)
        delivery = await _delivery(api, f"/v1/runs/{run['id']}/deliveries", {"failed", "delivered"})
    # waits 0.05 + 0.05 reach retry_for_s=0.1: attempts 1, 2, 3, then give up.
    assert delivery["state"] == "failed"
    assert [(a["status_code"], a["outcome"]) for a in delivery["attempts"]] == [
        (500, "retry"),
        (500, "retry"),
        (500, "failed"),
    ]
    assert len(receiver.requests) == 3


async def test_endpoints_receive_only_subscribed_events(api) -> None:  # type: ignore[no-untyped-def]
    verify = documented_verify()
    with Receiver() as receiver:
        failed_only = (
            await api.client.post("/v1/webhooks", json={"url": receiver.url, "events": ["run.failed"]})
        ).json()
        everything = (await api.client.post("/v1/webhooks", json={"url": receiver.url})).json()
        completed = await _run(api)
        # One token is not enough for any answer: the run fails with limit_exceeded.
        response = await api.client.post(
            "/v1/runs",
            json={"agent": "demo", "prompt": "hi", "mode": "sync", "config": {"max_total_tokens": 1}},
        )
        failed = response.json()
        assert failed["status"] == "failed", failed
        await _delivery(api, f"/v1/runs/{completed['id']}/deliveries", {"delivered"})
        deadline = time.monotonic() + 30
        while True:
            page = (await api.client.get(f"/v1/runs/{failed['id']}/deliveries")).json()["data"]
            if len(page) == 2 and all(d["state"] == "delivered" for d in page):
                break
            assert time.monotonic() < deadline, page
            await asyncio.sleep(0.05)
        got = await wait_async(receiver, 3)

    assert {d["endpoint_id"] for d in page} == {failed_only["id"], everything["id"]}
    assert {d["event_type"] for d in page} == {"run.failed"}
    by_endpoint = (await api.client.get(f"/v1/webhooks/{failed_only['id']}/deliveries")).json()["data"]
    assert [d["run_id"] for d in by_endpoint] == [failed["id"]]
    to_failed_only = [r for r in got if r.headers["webhook-id"] == by_endpoint[0]["id"]]
    message = verify(failed_only["secret"], to_failed_only[0].headers, to_failed_only[0].body)
    assert message["type"] == "run.failed"
    assert message["data"]["error"]["code"] == failed["error"]["code"]
    bad = await api.client.post("/v1/webhooks", json={"url": receiver.url, "events": ["run.started"]})
    assert bad.status_code == 422


@pytest.mark.parametrize("settings_overrides", [{"webhooks": {**FAST, "allow_hosts": []}}])
async def test_ssrf_guard_refuses_internal_urls_at_creation(api) -> None:  # type: ignore[no-untyped-def]
    for url, reason in [
        ("http://10.0.0.1/x", "private"),
        ("http://169.254.169.254/", "metadata"),
        ("http://localhost/", "loopback"),
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://[::1]/", "loopback"),
        ("ftp://example.com/x", "http"),
    ]:
        response = await api.client.post("/v1/webhooks", json={"url": url})
        assert response.status_code == 422, (url, response.text)
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert reason in error["message"], error
        assert "AGENTRUN_WEBHOOKS__ALLOW_HOSTS" in error["message"] or reason == "http"

    refused = await api.client.post(
        "/v1/runs", json={"agent": "demo", "prompt": "hi", "mode": "async", "webhook_url": "http://10.1.2.3/"}
    )
    assert refused.status_code == 422, refused.text
    assert "webhook_url" in refused.json()["error"]["message"]
    assert (await api.client.get("/v1/webhooks")).json()["data"] == []

    # A name that does not resolve now is accepted: each attempt checks it again.
    later = await api.client.post("/v1/webhooks", json={"url": "https://hooks.agentrun.invalid/x"})
    assert later.status_code == 201, later.text


async def test_delivery_time_guard_records_a_refused_attempt(api) -> None:  # type: ignore[no-untyped-def]
    with Receiver() as receiver:
        endpoint = (await api.client.post("/v1/webhooks", json={"url": receiver.url})).json()
        # The allow-list changes after the endpoint was created: every attempt checks again.
        api.settings.webhooks.allow_hosts.clear()
        api.settings.webhooks.retry_for_s = 0.0
        await _run(api)
        delivery = await _delivery(api, f"/v1/webhooks/{endpoint['id']}/deliveries", {"failed", "delivered"})
        assert receiver.requests == []
    (attempt,) = delivery["attempts"]
    assert delivery["state"] == "failed"
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("refused:") and "loopback" in attempt["error"]


async def test_connection_errors_are_recorded_and_retried(api) -> None:  # type: ignore[no-untyped-def]
    with Receiver() as probe:
        dead_url = probe.url  # nothing listens there once the probe is closed
    api.settings.webhooks.retry_for_s = 0.05
    run = await _run(api, webhook_url=dead_url)
    delivery = await _delivery(api, f"/v1/runs/{run['id']}/deliveries", {"failed", "delivered"})
    assert [a["outcome"] for a in delivery["attempts"]] == ["retry", "failed"]
    assert all(a["status_code"] is None and a["error"] for a in delivery["attempts"])


async def test_webhooks_are_project_scoped(api) -> None:  # type: ignore[no-untyped-def]
    with Receiver() as receiver:
        endpoint = (await api.client.post("/v1/webhooks", json={"url": receiver.url})).json()
        run = await _run(api, webhook_url=receiver.url)
        await wait_async(receiver, 2)
    key = (await api.client.post("/v1/admin/keys", json={"project": "other", "name": "o"})).json()["key"]
    other = {"Authorization": f"Bearer {key}"}
    for method, path in [
        ("GET", f"/v1/webhooks/{endpoint['id']}"),
        ("DELETE", f"/v1/webhooks/{endpoint['id']}"),
        ("GET", f"/v1/webhooks/{endpoint['id']}/deliveries"),
        ("GET", f"/v1/runs/{run['id']}/deliveries"),
    ]:
        response = await api.client.request(method, path, headers=other)
        assert response.status_code == 404, (method, path, response.text)
    assert (await api.client.get("/v1/webhooks", headers=other)).json()["data"] == []
    mine = (await api.client.get("/v1/webhooks/secret")).json()["secret"]
    theirs = (await api.client.get("/v1/webhooks/secret", headers=other)).json()["secret"]
    assert mine != theirs

    assert (await api.client.delete(f"/v1/webhooks/{endpoint['id']}")).status_code == 204
    assert (await api.client.get(f"/v1/webhooks/{endpoint['id']}")).status_code == 404
    assert (await api.client.delete(f"/v1/webhooks/{endpoint['id']}")).status_code == 404


async def test_payload_is_the_native_run(api) -> None:  # type: ignore[no-untyped-def]
    with Receiver() as receiver:
        run = await _run(api, webhook_url=receiver.url, metadata={"order": 7})
        (got,) = await wait_async(receiver, 1)
    data = json.loads(got.body)["data"]
    native = (await api.client.get(f"/v1/runs/{run['id']}")).json()
    assert data == native


async def test_a_restart_mid_backoff_resumes_the_delivery(backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Graceful stop while a delivery waits between attempts: the next process finishes it."""
    import httpx

    from agentrun.api.app import create_app
    from tests.integration.conftest import make_settings, running_lifespan
    from tests.support.backends import backend_env

    with backend_env(backend, tmp_path) as env, Receiver([500]) as receiver:
        # The second attempt is due 2 s after the first: the first process is stopped before.
        settings = make_settings(env, webhooks={**FAST, "backoff_s": [2.0], "retry_for_s": 60.0})
        app = create_app(settings)
        async with running_lifespan(app):
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")
            async with client:
                run = (
                    await client.post(
                        "/v1/runs",
                        json={"agent": "demo", "prompt": "hi", "mode": "sync", "webhook_url": receiver.url},
                    )
                ).json()
                await wait_async(receiver, 1)
                holder = type("A", (), {"client": client})
                first = await _delivery(holder, f"/v1/runs/{run['id']}/deliveries", {"delivering"})
                while not first["attempts"]:  # recorded, and now in its durable sleep
                    await asyncio.sleep(0.05)
                    first = await _delivery(holder, f"/v1/runs/{run['id']}/deliveries", {"delivering"})
                await asyncio.sleep(0.3)  # let DBOS checkpoint the finished step (it would re-run)
        assert len(receiver.requests) == 1

        app = create_app(settings)
        async with running_lifespan(app):
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")
            async with client:
                await wait_async(receiver, 2)
                holder = type("A", (), {"client": client})
                delivery = await _delivery(holder, f"/v1/runs/{run['id']}/deliveries", {"delivered"})
    assert [(a["status_code"], a["outcome"]) for a in delivery["attempts"]] == [
        (500, "retry"),
        (200, "delivered"),
    ]
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1


async def test_compat_001_webhook_url_is_delivered(api) -> None:  # type: ignore[no-untyped-def]
    with Receiver() as receiver:
        body = {"prompt": "What is 2 + 2?", "wait_for_completion": True, "webhook_url": receiver.url}
        response = await api.client.post("/api/runs", json=body)
        assert response.status_code == 200, response.text
        (got,) = await wait_async(receiver, 1)
    secret = (await api.client.get("/v1/webhooks/secret")).json()["secret"]
    message = documented_verify()(secret, got.headers, got.body)
    # A 001 caller's webhook gets the 001 response shape, not the native run.
    assert message["status"] == "success" and message["task_id"] == response.json()["task_id"]
    refused = await api.client.post("/api/runs", json={**body, "webhook_url": "http://169.254.169.254/"})
    assert refused.status_code == 422, refused.text
