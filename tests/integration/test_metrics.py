"""Prometheus metrics: /metrics parsed with the Prometheus text parser moves by exactly the runs made."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agentrun.runtime.providers import register_test_model, unregister_test_model
from tests.support.scripted_models import calculator_then_answer
from tests.support.webhook_receiver import Receiver, wait_async

MODEL = "test:metrics-script"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"observability": {"prices": {MODEL: {"input": 2.0, "output": 10.0}}}}


@pytest.fixture
def scripted():  # type: ignore[no-untyped-def]
    """Calls calculator once, then answers: two model requests and one tool call per run."""
    register_test_model(MODEL, calculator_then_answer())
    yield
    unregister_test_model(MODEL)


async def _samples(api) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:  # type: ignore[no-untyped-def]
    answer = await api.client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def _value(samples, name: str, **labels: str) -> float:  # type: ignore[no-untyped-def]
    return samples.get((name, frozenset(labels.items())), 0.0)


def _sum(samples, name: str, **labels: str) -> float:  # type: ignore[no-untyped-def]
    """All samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


async def test_counters_move_by_exactly_the_runs_made(api, scripted) -> None:  # type: ignore[no-untyped-def]
    body = {
        "slug": "metered",
        "model": MODEL,
        "tools": [{"kind": "builtin", "name": "calculator"}],
        "publish": True,
    }
    assert (await api.client.put("/v1/agents/metered", json=body)).status_code in (200, 201)
    before = await _samples(api)
    runs = []
    for i in range(3):
        run = (await api.client.post("/v1/runs", json={"agent": "metered", "prompt": f"q{i}"})).json()
        assert run["status"] == "completed", run["error"]
        runs.append(run)
    failed = await api.client.post(
        "/v1/runs", json={"agent": "metered", "prompt": "x", "config": {"max_turns": 1}}
    )
    assert failed.json()["status"] == "failed", failed.json()
    after = await _samples(api)

    def moved(name: str, **labels: str) -> float:
        return _sum(after, name, **labels) - _sum(before, name, **labels)

    assert moved("agentrun_runs_started_total", agent="metered") == 4
    assert moved("agentrun_runs_finished_total", agent="metered", status="completed") == 3
    assert moved("agentrun_runs_finished_total", agent="metered", status="failed") == 1
    assert moved("agentrun_run_duration_seconds_count", agent="metered") == 4
    # Each completed run made two model requests and one tool call; the failed one made its one
    # allowed request, called the tool, and was stopped before a second request.
    assert moved("agentrun_model_requests_total", agent="metered", model=MODEL, outcome="ok") == 7
    assert moved("agentrun_model_request_duration_seconds_count", agent="metered", model=MODEL) == 7
    assert moved("agentrun_tool_calls_total", tool="calculator", outcome="ok") == 4
    assert moved("agentrun_tool_call_duration_seconds_count", tool="calculator") == 4
    # Tokens by direction equal the runs' own usage, and their price is the cost counter.
    used_in = sum(r["usage"]["input_tokens"] for r in runs) + failed.json()["usage"]["input_tokens"]
    used_out = sum(r["usage"]["output_tokens"] for r in runs) + failed.json()["usage"]["output_tokens"]
    assert used_in > 0 and used_out > 0
    assert moved("agentrun_tokens_total", agent="metered", model=MODEL, direction="input") == used_in
    assert moved("agentrun_tokens_total", agent="metered", model=MODEL, direction="output") == used_out
    assert moved("agentrun_cost_usd_total", agent="metered", model=MODEL) == pytest.approx(
        (used_in * 2.0 + used_out * 10.0) / 1_000_000
    )
    # Each run's usage carries its cost at the same prices, also the failed one's.
    for r in [*runs, failed.json()]:
        u = r["usage"]
        assert u["cost_usd"] == pytest.approx((u["input_tokens"] * 2.0 + u["output_tokens"] * 10.0) / 1e6)
    # HTTP requests by route template, not raw path.
    assert (
        _sum(after, "agentrun_http_requests_total", method="POST", route="/v1/runs")
        - _sum(before, "agentrun_http_requests_total", method="POST", route="/v1/runs")
        == 4
    )
    assert not any(
        n == "agentrun_http_requests_total" and runs[0]["id"] in dict(ls).get("route", "") for n, ls in after
    )
    assert _value(after, "agentrun_queue_depth") == 0
    assert _value(after, "agentrun_runs", status="completed") >= 3


async def test_unpriced_models_have_no_cost(api) -> None:  # type: ignore[no-untyped-def]
    run = (await api.client.post("/v1/runs", json={"agent": "demo", "prompt": "hi"})).json()
    assert run["usage"]["input_tokens"] > 0 and run["usage"]["cost_usd"] is None
    samples = await _samples(api)
    assert _sum(samples, "agentrun_cost_usd_total", agent="demo") == 0


async def test_http_routes_are_templates(api) -> None:  # type: ignore[no-untyped-def]
    await api.client.get("/v1/runs/run_doesnotexist")
    await api.client.get("/no/such/path")
    samples = await _samples(api)
    assert (
        _value(samples, "agentrun_http_requests_total", method="GET", route="/v1/runs/{run_id}", status="404")
        == 1
    )
    assert _value(samples, "agentrun_http_requests_total", method="GET", route="unmatched", status="404") == 1


@pytest.mark.parametrize(
    "settings_overrides",
    [{"webhooks": {"allow_hosts": ["127.0.0.1"], "backoff_s": [0.05], "retry_for_s": 5.0, "poll_s": 0.05}}],
)
async def test_webhook_attempts_by_outcome(api) -> None:  # type: ignore[no-untyped-def]
    before = await _samples(api)
    with Receiver([500, 200]) as receiver:
        run = (
            await api.client.post(
                "/v1/runs", json={"agent": "demo", "prompt": "hi", "webhook_url": receiver.url}
            )
        ).json()
        await wait_async(receiver, 2)
        for _ in range(200):  # the attempt is recorded (and counted) just after the receiver answered
            page = (await api.client.get(f"/v1/runs/{run['id']}/deliveries")).json()["data"]
            if page and page[0]["state"] == "delivered":
                break
            await asyncio.sleep(0.05)
    after = await _samples(api)
    moved = {
        o: _sum(after, "agentrun_webhook_delivery_attempts_total", outcome=o)
        - _sum(before, "agentrun_webhook_delivery_attempts_total", outcome=o)
        for o in ("retry", "delivered", "failed")
    }
    assert moved == {"retry": 1, "delivered": 1, "failed": 0}
