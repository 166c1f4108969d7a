"""Promises outside clients hold us to: apply keeps what it does not set, usage on every terminal
status, quiet cancels, heartbeats while draining, prompt webhook deliveries."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.support.native_api import (
    ToolThenAnswer,
    create_agent,
    registered_model,
    run_async,
    shared_api,
    unique,
    wait_run,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
WEBHOOK_POLL_S = 30.0  # so long that only a wake-up delivers within the tests' patience
api = shared_api(webhooks={"allow_hosts": ["127.0.0.1"], "poll_s": WEBHOOK_POLL_S})


# --- 1. apply keeps the fields its body does not set ------------------------------------------


async def test_apply_of_an_unchanged_file_keeps_fields_set_elsewhere(api) -> None:  # type: ignore[no-untyped-def]
    slug = unique("apply-keep")
    file = {"slug": slug, "model": "test", "instructions": "be brief"}
    created = await api.client.put(f"/v1/agents/{slug}", json=file)
    assert created.status_code == 201, created.text
    patched = await api.client.patch(
        f"/v1/agents/{slug}", json={"description": "set by PATCH", "max_concurrency": 2}
    )
    assert patched.status_code == 200, patched.text

    again = await api.client.put(f"/v1/agents/{slug}", json=file)
    assert again.status_code == 200, again.text
    agent = (await api.client.get(f"/v1/agents/{slug}")).json()
    assert agent["description"] == "set by PATCH", agent
    assert agent["max_concurrency"] == 2, agent
    assert agent["latest_revision"] == 1, "an unchanged definition adds no revision"


async def test_apply_changes_the_fields_its_body_sets_including_null(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, description="old", max_concurrency=3)
    slug = agent["slug"]
    resp = await api.client.put(
        f"/v1/agents/{slug}",
        json={"slug": slug, "model": "test", "description": "new", "max_concurrency": None},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["description"] == "new" and resp.json()["max_concurrency"] is None


# --- 2. usage counts every provider request, whatever the run's end --------------------------


class StreamThenHang:
    """A scripted streaming model: request 1 calls the calculator, request 2 streams ``TEXT`` then
    waits (until cancelled) unless ``hang`` is False. Its usage is pydantic-ai's estimate: 50 input
    tokens per request, one output token per word of the tool arguments and text."""

    TEXT = "hello there world"  # 3 output tokens
    ARGS = {"expression": "1+1"}  # 4 output tokens

    def __init__(self, hang: bool = True) -> None:
        self.hang = hang
        self.streamed = asyncio.Event()
        self.requests = 0

    def model(self):  # type: ignore[no-untyped-def]
        from pydantic_ai.models.function import FunctionModel

        return FunctionModel(stream_function=self._stream)

    async def _stream(self, messages, info):  # type: ignore[no-untyped-def]
        from pydantic_ai.models.function import DeltaToolCall

        self.requests += 1
        if self.requests == 1:
            yield {0: DeltaToolCall(name="calculator", json_args=json.dumps(self.ARGS), tool_call_id="c1")}
            return
        yield self.TEXT
        self.streamed.set()
        if self.hang:
            await asyncio.sleep(60)


# cost_usd: None, since no price is configured for the scripted model (observability.prices).
EXPECTED_TWO_REQUESTS = {
    "input_tokens": 100,
    "output_tokens": 7,
    "requests": 2,
    "tool_calls": 1,
    "cost_usd": None,
}
TOOLS = [{"kind": "builtin", "name": "calculator"}]


async def test_a_completed_run_reports_the_scripted_usage(api) -> None:  # type: ignore[no-untyped-def]
    """The reference for the tests below: the same model output, run to the end."""
    script = StreamThenHang(hang=False)
    with registered_model(script.model(), "usage") as model:
        agent = await create_agent(api.client, model=model, tools=TOOLS)
        run = await wait_run(api.client, (await run_async(api.client, agent["slug"]))["id"])
    assert run["status"] == "completed", run
    assert run["usage"] == EXPECTED_TWO_REQUESTS, run


@pytest.mark.parametrize("durability", ["steps", "exit"])
async def test_a_run_cancelled_after_the_model_streamed_reports_its_usage(api, durability) -> None:  # type: ignore[no-untyped-def]
    script = StreamThenHang()
    with registered_model(script.model(), "usage") as model:
        agent = await create_agent(api.client, model=model, tools=TOOLS)
        created = await run_async(api.client, agent["slug"], durability=durability)
        await asyncio.wait_for(script.streamed.wait(), 10)
        assert (await api.client.post(f"/v1/runs/{created['id']}/cancel")).status_code == 200
        run = await wait_run(api.client, created["id"])
    assert run["status"] == "cancelled", run
    assert run["usage"] == EXPECTED_TWO_REQUESTS, run
    assert run["iterations"] == 2, run


async def test_a_run_that_timed_out_after_the_model_streamed_reports_its_usage(api) -> None:  # type: ignore[no-untyped-def]
    script = StreamThenHang()
    with registered_model(script.model(), "usage") as model:
        agent = await create_agent(api.client, model=model, tools=TOOLS)
        created = await run_async(api.client, agent["slug"], config={"timeout_s": 1})
        run = await wait_run(api.client, created["id"])
    assert run["status"] == "timed_out", run
    assert run["usage"] == EXPECTED_TWO_REQUESTS, run


@pytest.mark.parametrize("durability", ["steps", "exit"])
async def test_a_run_past_max_turns_reports_the_usage_of_its_requests(api, durability) -> None:  # type: ignore[no-untyped-def]
    script = ToolThenAnswer("calculator", StreamThenHang.ARGS, forever=True)
    with registered_model(script.model(), "loop") as model:
        agent = await create_agent(api.client, model=model, tools=TOOLS)
        created = await run_async(api.client, agent["slug"], durability=durability, config={"max_turns": 3})
        run = await wait_run(api.client, created["id"])
    assert run["status"] == "failed" and run["error"]["code"] == "limit_exceeded", run
    assert len(script.requests) == 3
    assert run["usage"] == {
        "input_tokens": 150,
        "output_tokens": 12,
        "requests": 3,
        "tool_calls": 3,
        "cost_usd": None,
    }, run


async def test_a_run_past_max_total_tokens_reports_the_request_that_crossed_it(api) -> None:  # type: ignore[no-untyped-def]
    script = ToolThenAnswer("calculator", StreamThenHang.ARGS, forever=True)
    with registered_model(script.model(), "loop") as model:
        agent = await create_agent(api.client, model=model, tools=TOOLS)
        created = await run_async(api.client, agent["slug"], config={"max_total_tokens": 100})
        run = await wait_run(api.client, created["id"])
    assert run["status"] == "failed" and run["error"]["code"] == "limit_exceeded", run
    assert run["usage"] == {
        "input_tokens": 100,
        "output_tokens": 8,
        "requests": 2,
        "tool_calls": 1,
        "cost_usd": None,
    }, run


# --- 3. a cancel is not an error in the log ----------------------------------------------------


@pytest.mark.parametrize("durability", ["steps", "exit"])
async def test_a_cancel_logs_no_error(api, durability, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    script = StreamThenHang()
    with registered_model(script.model(), "quiet") as model:
        agent = await create_agent(api.client, model=model, tools=TOOLS)
        created = await run_async(api.client, agent["slug"], durability=durability)
        await asyncio.wait_for(script.streamed.wait(), 10)
        with caplog.at_level(logging.INFO):
            assert (await api.client.post(f"/v1/runs/{created['id']}/cancel")).status_code == 200
            run = await wait_run(api.client, created["id"])
            await asyncio.sleep(0.3)  # whatever DBOS logs after the workflow ends
    assert run["status"] == "cancelled", run
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [(r.name, r.getMessage()[:200], r.exc_info and repr(r.exc_info[1])) for r in errors]


async def test_other_dbos_errors_are_still_logged(api, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    failure = RuntimeError("a real workflow failure")
    with caplog.at_level(logging.INFO):
        logging.getLogger("dbos").error("Exception encountered in asynchronous workflow:", exc_info=failure)
    assert [r.exc_info[1] for r in caplog.records if r.name == "dbos" and r.exc_info] == [failure]


# --- 5. a finished run's webhook goes out at once, not at the sender's next poll ----------------


async def test_a_finished_runs_webhook_is_sent_without_waiting_for_the_poll(api) -> None:  # type: ignore[no-untyped-def]
    import time

    from tests.support.webhook_receiver import Receiver

    agent = await create_agent(api.client)
    await asyncio.sleep(0.5)  # the sender's first pass (at start) is over: it now sleeps poll_s
    with Receiver() as receiver:
        started = time.monotonic()
        run = await run_async(api.client, agent["slug"], webhook_url=receiver.url)
        while not receiver.requests and time.monotonic() - started < 5:
            await asyncio.sleep(0.02)
        took = time.monotonic() - started
    assert receiver.requests, f"no delivery within 5 s (webhooks.poll_s={WEBHOOK_POLL_S})"
    assert json.loads(receiver.requests[0].body)["data"]["id"] == run["id"]
    assert took < 5


# --- 4. a closing worker keeps heartbeating while its runs drain -------------------------------


class _NoEngine:
    """Runs with ``durability=exit`` need no DBOS: this stand-in lets a second worker live in this
    process next to the module's app (DBOS is one per process)."""

    @staticmethod
    def current_workflow_id() -> None:
        return None

    @staticmethod
    def in_workflow() -> bool:
        return False

    async def cancel(self, workflow_id: str) -> None:
        return None

    async def recover_executor(self, executor_id: str) -> None:
        return None


async def test_a_closing_worker_stays_alive_while_its_runs_drain(backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Grace longer than dead_after_s: other workers must not see the draining worker as dead
    (they would take its runs over and pay for the step in flight twice)."""
    from agentrun.domain.models import AgentCreate, RunCreate
    from agentrun.services.agents import AgentService
    from agentrun.services.bus import RunBus
    from agentrun.services.runs import RunService
    from agentrun.services.sandboxes import SandboxService
    from agentrun.services.tool_policy import ToolPolicy
    from agentrun.services.worker import Worker
    from agentrun.store.store import Store
    from tests.integration.conftest import make_settings
    from tests.support.backends import backend_env

    with backend_env(backend, tmp_path) as env:
        settings = make_settings(
            env, executor_id="draining", heartbeat_s=0.1, dead_after_s=0.4, shutdown_grace_s=1.5
        )
        settings.ensure_data_dir()
        store = await Store.open(settings.store_url)
        try:
            await store.agents.ensure_project("default", "Default project")
            bus, tools = RunBus(), ToolPolicy(settings)
            sandboxes = SandboxService(store, settings)
            agents = AgentService(store, tools)
            runs = RunService(store, agents, bus, settings, sandboxes)
            worker = Worker(store, _NoEngine(), bus, settings, "draining", tools=tools, sandboxes=sandboxes)  # type: ignore[arg-type]
            await worker.start()
            runs.dispatcher = worker
            await agents.create("default", AgentCreate(slug="slow", model="test:sleep-5000"))
            run, _ = await runs.create(
                "default", RunCreate(agent="slow", prompt="hi", durability="exit", mode="async")
            )
            for _ in range(200):
                if (await store.runs.get(run.id)).status.value == "running" and worker.active_count:
                    break
                await asyncio.sleep(0.02)
            assert worker.active_count == 1

            closing = asyncio.create_task(worker.close())
            began = time.monotonic()
            seen: list[bool] = []
            while not closing.done():
                await asyncio.sleep(0.1)
                alive = {w[0] for w in await store.workers.alive(settings.dead_after_s)}
                seen.append("draining" in alive)
                assert "draining" not in await store.workers.stale_owners(settings.dead_after_s)
            await closing
            # The drain outlasted dead_after_s (close waits the whole grace for the 5 s run), and
            # every look during it found the worker alive. A loaded machine looks less often.
            assert time.monotonic() - began >= settings.shutdown_grace_s > 2 * settings.dead_after_s
            assert len(seen) >= 3 and all(seen), seen
            assert (await store.runs.get(run.id)).status.value == "running", "left for recovery, not failed"

            await asyncio.sleep(settings.dead_after_s + 0.3)  # closed: now it falls silent
            assert "draining" in await store.workers.silent(settings.dead_after_s)
        finally:
            await store.close()
