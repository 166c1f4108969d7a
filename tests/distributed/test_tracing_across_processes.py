"""Traces across processes: a run created on an API node and executed by a worker process is one
trace: the caller's traceparent > the API node's request span > the worker's run span > its model
requests and tool call. Both processes export with the standard OTEL_* variables (console)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.distributed.conftest import start_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN = "b7ad6b7169203331"


def _spans(log: str) -> list[dict]:  # type: ignore[type-arg]
    """The spans a ConsoleSpanExporter wrote (indented JSON objects among other log lines)."""
    decoder = json.JSONDecoder()
    found, at = [], 0
    while (at := log.find('{\n    "name": ', at)) != -1:
        span, end = decoder.raw_decode(log, at)
        found.append(span)
        at = end
    return found


def _wait_for(proc, name: str) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    for _ in range(200):
        spans = _spans(proc.log())
        if any(s["name"] == name for s in spans):
            return spans
        time.sleep(0.1)
    raise AssertionError(f"no span {name!r} in:\n{proc.log()[-4000:]}")


def test_a_run_executed_by_a_worker_continues_the_create_requests_trace(tmp_path, pg_url) -> None:  # type: ignore[no-untyped-def]
    env = {
        "AGENTRUN_OBSERVABILITY__TRACING": "true",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    cluster = start_cluster(tmp_path, pg_url, apis=1, workers=1, env=env)
    try:
        (api,), (worker,) = cluster.apis, cluster.workers
        agent = {
            "slug": "tooly",
            "model": "test:tools",
            "tools": [{"kind": "builtin", "name": "calculator"}],
            "publish": True,
        }
        httpx.put(f"{api.url}/v1/agents/tooly", json=agent).raise_for_status()
        run = httpx.post(
            f"{api.url}/v1/runs",
            json={"agent": "tooly", "prompt": "2+2"},
            headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN}-01"},
            timeout=60,
        ).json()
        assert run["status"] == "completed", run
        assert run["executor_id"] == "worker-0"

        api_spans = _wait_for(api, "POST /v1/runs")
        worker_spans = _wait_for(worker, "invoke_agent tooly")
        (http,) = [s for s in api_spans if s["name"] == "POST /v1/runs"]
        (run_span,) = [s for s in worker_spans if s["name"] == "invoke_agent tooly"]
        chats = [s for s in worker_spans if s["name"].startswith("chat ")]
        tools = [s for s in worker_spans if s["name"] == "execute_tool calculator"]
        assert len(chats) == 2 and len(tools) == 1

        for span in [http, run_span, *chats, *tools]:
            assert span["context"]["trace_id"] == f"0x{TRACE_ID}"
        assert http["parent_id"] == f"0x{PARENT_SPAN}"
        assert run_span["parent_id"] == http["context"]["span_id"]  # across the process boundary
        for child in [*chats, *tools]:
            assert child["parent_id"] == run_span["context"]["span_id"]
        assert run_span["attributes"]["agentrun.run.id"] == run["id"]
        assert run_span["attributes"]["agentrun.executor.id"] == "worker-0"
        assert (
            sum(c["attributes"]["gen_ai.usage.input_tokens"] for c in chats) == run["usage"]["input_tokens"]
        )
    finally:
        cluster.stop()


def test_a_run_taken_over_continues_under_the_same_parent(tmp_path, pg_url) -> None:  # type: ignore[no-untyped-def]
    env = {
        "AGENTRUN_OBSERVABILITY__TRACING": "true",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    cluster = start_cluster(tmp_path, pg_url, apis=1, workers=2, env=env)
    try:
        (api,) = cluster.apis
        httpx.put(
            f"{api.url}/v1/agents/slow", json={"slug": "slow", "model": "test:sleep-3000", "publish": True}
        ).raise_for_status()
        run_id = httpx.post(
            f"{api.url}/v1/runs",
            json={"agent": "slow", "prompt": "go", "mode": "async"},
            headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN}-01"},
        ).json()["id"]
        owner = None
        for _ in range(200):
            shown = httpx.get(f"{api.url}/v1/runs/{run_id}").json()
            if shown["status"] == "running":
                owner = shown["executor_id"]
                break
            time.sleep(0.05)
        assert owner is not None
        victim = next(w for w in cluster.workers if w.extra_env["AGENTRUN_EXECUTOR_ID"] == owner)
        survivor = next(w for w in cluster.workers if w is not victim)
        time.sleep(0.5)  # mid model request
        victim.kill()  # its spans die with it: none of them was exported (they had not ended)
        final = httpx.get(f"{api.url}/v1/runs/{run_id}", params={"wait_s": 40}, timeout=50).json()
        assert final["status"] == "completed" and final["executor_id"] != owner, final

        (http,) = [s for s in _wait_for(api, "POST /v1/runs") if s["name"] == "POST /v1/runs"]
        spans = _wait_for(survivor, "invoke_agent slow")
        (run_span,) = [s for s in spans if s["name"] == "invoke_agent slow"]
        assert run_span["context"]["trace_id"] == f"0x{TRACE_ID}"
        assert run_span["parent_id"] == http["context"]["span_id"]  # the create request's, again
        assert run_span["attributes"]["agentrun.run.id"] == run_id
        assert run_span["attributes"]["agentrun.run.status"] == "completed"
        assert [
            s
            for s in spans
            if s["name"].startswith("chat ") and s["parent_id"] == run_span["context"]["span_id"]
        ]
    finally:
        cluster.stop()
