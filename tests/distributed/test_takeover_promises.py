"""Promises of API-only nodes and workers on one PostgreSQL: the worker that executes a run
resolves and records its model, whatever the API node that created it knows of providers."""

from __future__ import annotations

import httpx
import pytest

from tests.support.fake_openai import FakeOpenAI, Turn
from tests.support.live import LiveServer, live_worker

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_api_node_without_keys_leaves_the_model_label_to_the_worker(tmp_path, pg_url) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAI([Turn(text="the real model answered")]) as fake:
        shared = {"AGENTRUN_DATABASE_URL": pg_url}
        api = LiveServer(tmp_path / "api", extra_env={**shared, "AGENTRUN_RUN_WORKER": "false"}).start(60)
        worker = live_worker(
            tmp_path / "worker",
            "worker-0",
            {
                **shared,
                "AGENTRUN_PROVIDERS__OPENAI_API_KEY": "sk-test",
                "AGENTRUN_PROVIDERS__OPENAI_BASE_URL": fake.url,
                "AGENTRUN_PROVIDERS__COMPATIBLE": f'{{"corp": {{"base_url": "{fake.url}"}}}}',
            },
        ).start(60)
        try:
            finals = {}
            for slug, model in (("real", "openai:gpt-4o-mini"), ("corp", "corp:some-model")):
                agent = {"slug": slug, "model": model, "publish": True}
                httpx.put(f"{api.url}/v1/agents/{slug}", json=agent).raise_for_status()
                created = httpx.post(
                    f"{api.url}/v1/runs", json={"agent": slug, "prompt": "hi", "mode": "async"}
                )
                assert created.status_code in (200, 201, 202), created.text  # an API node knows no 'corp'
                run_id = created.json()["id"]
                final = httpx.get(f"{api.url}/v1/runs/{run_id}", params={"wait_s": 30}, timeout=40).json()
                events = httpx.get(f"{api.url}/v1/runs/{run_id}/events").json()["data"]
                finals[model] = (final, events)
        finally:
            worker.stop()
            api.stop()

    for model, (final, events) in finals.items():
        assert final["status"] == "completed", final
        assert final["result"] == "the real model answered"
        assert (final["model"], final["offline"]) == (model, False), final
        started = next(e for e in events if e["type"] == "run.started")
        assert (started["data"]["model"], started["data"]["offline"]) == (model, False), started


def test_usage_after_a_takeover_counts_every_provider_request(tmp_path, pg_url) -> None:  # type: ignore[no-untyped-def]
    import time

    from tests.distributed.conftest import start_cluster

    with FakeOpenAI([Turn(text="slow answer", delay_s=3.0)]) as fake:
        env = {
            "AGENTRUN_PROVIDERS__OPENAI_API_KEY": "sk-test",
            "AGENTRUN_PROVIDERS__OPENAI_BASE_URL": fake.url,
        }
        cluster = start_cluster(tmp_path, pg_url, apis=1, workers=2, env=env)
        api = cluster.apis[0]
        try:
            agent = {"slug": "slow", "model": "openai:gpt-4o-mini", "publish": True}
            httpx.put(f"{api.url}/v1/agents/slow", json=agent).raise_for_status()
            run_id = httpx.post(
                f"{api.url}/v1/runs", json={"agent": "slow", "prompt": "go", "mode": "async"}
            ).json()["id"]
            deadline = time.monotonic() + 20
            while fake.request_count < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            owner = httpx.get(f"{api.url}/v1/runs/{run_id}").json()["executor_id"]
            victim = next(w for w in cluster.workers if w.extra_env["AGENTRUN_EXECUTOR_ID"] == owner)
            victim.kill()  # the request is in flight: the provider has seen it
            final = httpx.get(f"{api.url}/v1/runs/{run_id}", params={"wait_s": 40}, timeout=50).json()
        finally:
            cluster.stop()
        requests = fake.request_count

    assert final["status"] == "completed", final
    assert final["executor_id"] != owner
    assert requests == 2
    assert final["usage"]["requests"] == requests, final["usage"]


def test_deltas_joined_after_a_takeover_give_the_final_text_once(tmp_path, pg_url) -> None:  # type: ignore[no-untyped-def]
    import time

    from agentrun.client import Event, join_deltas
    from tests.distributed.conftest import start_cluster

    text = " ".join(f"word{i}" for i in range(40))
    with FakeOpenAI([Turn(text=text, chunk_delay_s=0.1)]) as fake:
        env = {
            "AGENTRUN_PROVIDERS__OPENAI_API_KEY": "sk-test",
            "AGENTRUN_PROVIDERS__OPENAI_BASE_URL": fake.url,
        }
        cluster = start_cluster(tmp_path, pg_url, apis=1, workers=2, env=env)
        api = cluster.apis[0]
        try:
            agent = {"slug": "talky", "model": "openai:gpt-4o-mini", "publish": True}
            httpx.put(f"{api.url}/v1/agents/talky", json=agent).raise_for_status()
            run_id = httpx.post(
                f"{api.url}/v1/runs", json={"agent": "talky", "prompt": "go", "mode": "async"}
            ).json()["id"]

            def deltas() -> int:
                events = httpx.get(f"{api.url}/v1/runs/{run_id}/events").json()["data"]
                return sum(1 for e in events if e["type"] == "message.delta")

            deadline = time.monotonic() + 20
            while deltas() < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            owner = httpx.get(f"{api.url}/v1/runs/{run_id}").json()["executor_id"]
            next(w for w in cluster.workers if w.extra_env["AGENTRUN_EXECUTOR_ID"] == owner).kill()
            final = httpx.get(f"{api.url}/v1/runs/{run_id}", params={"wait_s": 40}, timeout=50).json()
            events = httpx.get(f"{api.url}/v1/runs/{run_id}/events", params={"limit": 200}).json()["data"]
        finally:
            cluster.stop()

    assert final["status"] == "completed", final
    assert final["result"] == text
    raw = "".join(e["content"] or "" for e in events if e["type"] == "message.delta")
    assert raw != text  # the first attempt's deltas are still in the log
    markers = [e for e in events if e["type"] == "log" and "superseded_from_seq" in (e["data"] or {})]
    assert len(markers) == 1, markers
    assert join_deltas([Event.model_validate(e) for e in events]) == text
