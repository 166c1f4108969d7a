"""Requests the SDK sends (method, path, query, headers, body) and how it reads the answers."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from agentrun.client import Agent, AsyncClient, Client, Run, ThreadDetail
from tests.unit.client.fakes import BASE, run_payload

AGENT = {
    "id": "agent_1",
    "slug": "demo",
    "name": "Demo",
    "description": "",
    "project_id": "p",
    "archived": False,
    "latest_revision": 2,
    "published_revision": 2,
    "created_at": "2025-01-01T00:00:00Z",
    "updated_at": "2025-01-01T00:00:00Z",
    "definition": {"model": "test", "instructions": "be brief", "tools": [], "config": {}},
}


class Recorder:
    """A MockTransport handler that records requests and answers from a routing function."""

    def __init__(self, route: Callable[[httpx.Request], httpx.Response]) -> None:
        self.route = route
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.route(request)

    def client(self, **kwargs) -> Client:
        return Client(BASE, transport=httpx.MockTransport(self), **kwargs)

    def async_client(self, **kwargs) -> AsyncClient:
        return AsyncClient(BASE, transport=httpx.MockTransport(self), **kwargs)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def body_of(request: httpx.Request) -> dict:
    return json.loads(request.content)


def test_api_key_is_sent_as_bearer_and_read_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder(lambda r: httpx.Response(200, json=AGENT))
    with rec.client(api_key="sk-one") as client:
        client.agents.get("demo")
    assert rec.last.headers["authorization"] == "Bearer sk-one"

    monkeypatch.setenv("AGENTRUN_API_KEY", "sk-env")
    monkeypatch.setenv("AGENTRUN_URL", "http://env-host:9000/")
    with Client(transport=httpx.MockTransport(rec)) as client:
        assert client.base_url == "http://env-host:9000"
        client.agents.get("demo")
    assert rec.last.headers["authorization"] == "Bearer sk-env"
    assert rec.last.url.host == "env-host"


def test_no_api_key_means_no_authorization_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTRUN_API_KEY", raising=False)
    rec = Recorder(lambda r: httpx.Response(200, json=AGENT))
    with rec.client() as client:
        client.agents.get("demo")
    assert "authorization" not in rec.last.headers


def test_apply_puts_the_definition_under_its_slug() -> None:
    rec = Recorder(lambda r: httpx.Response(200, json=AGENT))
    with rec.client() as client:
        agent = client.agents.apply("demo", model="test", instructions="be brief", publish=True)
    assert isinstance(agent, Agent) and agent.definition.instructions == "be brief"
    assert (rec.last.method, rec.last.url.path) == ("PUT", "/v1/agents/demo")
    assert body_of(rec.last) == {"slug": "demo", "model": "test", "instructions": "be brief", "publish": True}


def test_ids_are_quoted_into_one_path_segment() -> None:
    rec = Recorder(lambda r: httpx.Response(200, json=AGENT))
    with rec.client() as client:
        client.agents.get("../runs/x")
    assert rec.last.url.raw_path == b"/v1/agents/..%2Fruns%2Fx"


def test_update_archive_publish_paths() -> None:
    revision = {"id": "rev", "agent_id": "agent_1", "number": 3, "definition": {}, "published": True}

    def route(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=revision if "revisions" in request.url.path else AGENT)

    rec = Recorder(route)
    with rec.client() as client:
        client.agents.update("demo", instructions="new")
        assert body_of(rec.last) == {"instructions": "new"}
        client.agents.archive("demo")
        published = client.agents.publish("demo", 3)
        client.agents.revision("demo", 3)
    assert published.number == 3 and published.published
    assert [(r.method, r.url.path) for r in rec.requests] == [
        ("PATCH", "/v1/agents/demo"),
        ("POST", "/v1/agents/demo/archive"),
        ("POST", "/v1/agents/demo/revisions/3/publish"),
        ("GET", "/v1/agents/demo/revisions/3"),
    ]


def test_run_create_sends_every_given_field_and_the_idempotency_key() -> None:
    rec = Recorder(lambda r: httpx.Response(202, json=run_payload(status="queued")))
    with rec.client() as client:
        run = client.runs.create(
            "demo",
            input={"city": "Paris"},
            revision=2,
            thread_id="th_1",
            multitask="reject",
            mode="async",
            config={"max_turns": 3},
            output_schema={"type": "object"},
            metadata={"k": "v"},
            durability="exit",
            webhook_url="http://hook.test/x",
            idempotency_key="key-1",
        )
    assert run.status == "queued" and not run.is_terminal
    assert rec.last.headers["idempotency-key"] == "key-1"
    assert body_of(rec.last) == {
        "agent": "demo",
        "input": {"city": "Paris"},
        "revision": 2,
        "thread_id": "th_1",
        "multitask": "reject",
        "mode": "async",
        "config": {"max_turns": 3},
        "output_schema": {"type": "object"},
        "metadata": {"k": "v"},
        "durability": "exit",
        "webhook_url": "http://hook.test/x",
    }


def test_run_create_refuses_zero_or_two_inputs_before_sending() -> None:
    rec = Recorder(lambda r: httpx.Response(500))
    with rec.client() as client:
        with pytest.raises(ValueError, match="exactly one"):
            client.runs.create("demo")
        with pytest.raises(ValueError, match="exactly one"):
            client.runs.create("demo", "hi", input={"a": 1})
        with pytest.raises(ValueError, match="runs.stream"):
            client.runs.create("demo", "hi", mode="stream")
    assert rec.requests == []


def test_run_waits_with_long_polls_when_the_sync_wait_ran_out() -> None:
    polls: list[str | None] = []

    def route(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            assert body_of(request)["mode"] == "sync"
            return httpx.Response(202, json=run_payload(status="running"))
        polls.append(request.url.params.get("wait_s"))
        status = "completed" if len(polls) == 2 else "running"
        return httpx.Response(200, json=run_payload(status=status))

    rec = Recorder(route)
    with rec.client() as client:
        run = client.runs.run("demo", "hi")
    assert run.status == "completed" and run.result.startswith("[offline test model")
    assert len(polls) == 2 and all(p is not None and float(p) > 0 for p in polls)


def test_run_returns_at_once_when_finished() -> None:
    rec = Recorder(lambda r: httpx.Response(200, json=run_payload(status="failed", error={"code": "x"})))
    with rec.client() as client:
        run = client.run("demo", "hi")
    assert run.status == "failed" and run.error is not None and run.error.code == "x"
    assert len(rec.requests) == 1


def test_list_follows_cursors_until_the_last_page() -> None:
    pages = {
        None: {"data": [{**AGENT, "id": "a1", "slug": "a1"}], "next_cursor": "c1"},
        "c1": {"data": [{**AGENT, "id": "a2", "slug": "a2"}], "next_cursor": "c2"},
        "c2": {"data": [{**AGENT, "id": "a3", "slug": "a3"}], "next_cursor": None},
    }
    rec = Recorder(lambda r: httpx.Response(200, json=pages[r.url.params.get("cursor")]))
    with rec.client() as client:
        slugs = [a.slug for a in client.agents.list(include_archived=True, page_size=1)]
    assert slugs == ["a1", "a2", "a3"]
    assert [r.url.params.get("cursor") for r in rec.requests] == [None, "c1", "c2"]
    assert all(r.url.params["limit"] == "1" for r in rec.requests)
    assert all(r.url.params["include_archived"] == "true" for r in rec.requests)


def test_list_is_lazy_and_stops_on_a_repeated_cursor() -> None:
    rec = Recorder(lambda r: httpx.Response(200, json={"data": [run_payload()], "next_cursor": "same"}))
    with rec.client() as client:
        runs = client.runs.list(agent="demo", status="completed")
        assert rec.requests == []
        assert len(list(runs)) == 2  # first page (cursor None), then "same" once, then stop
    assert rec.requests[0].url.params["agent"] == "demo"
    assert rec.requests[0].url.params["status"] == "completed"


def test_events_page_and_threads() -> None:
    thread = {
        "id": "th_1",
        "project_id": "p",
        "agent_id": None,
        "title": "t",
        "metadata": {},
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": "2025-01-01T00:00:00Z",
    }

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            return httpx.Response(200, json={"data": [], "next_after": 4, "run_status": "running"})
        if request.method == "DELETE":
            return httpx.Response(204)
        if request.method == "POST":
            return httpx.Response(201, json=thread)
        return httpx.Response(
            200,
            json={
                **thread,
                "messages": [
                    {"run_id": "r", "role": "user", "content": "hi", "created_at": "2025-01-01T00:00:00Z"}
                ],
            },
        )

    rec = Recorder(route)
    with rec.client() as client:
        page = client.runs.events("r1", after=4, limit=10)
        created = client.threads.create(agent="demo", title="t")
        detail = client.threads.get("th_1")
        assert client.threads.delete("th_1") is None
    assert page.next_after == 4 and page.run_status == "running"
    assert rec.requests[0].url.params["after"] == "4" and rec.requests[0].url.params["limit"] == "10"
    assert body_of(rec.requests[1]) == {"agent": "demo", "title": "t"}
    assert created.id == "th_1"
    assert isinstance(detail, ThreadDetail) and detail.messages[0].content == "hi"


def test_models_keep_fields_a_newer_server_adds() -> None:
    run = Run.model_validate(run_payload(status="paused_for_human", cost_usd=0.01))
    assert run.status == "paused_for_human" and not run.is_terminal
    assert run.model_extra == {"cost_usd": 0.01}


async def test_async_client_makes_the_same_requests() -> None:
    pages = {
        None: {"data": [run_payload("r1")], "next_cursor": "c1"},
        "c1": {"data": [run_payload("r2")], "next_cursor": None},
    }

    def route(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json=run_payload())
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    rec = Recorder(route)
    async with rec.async_client(api_key="k") as client:
        run = await client.runs.run("demo", "hi", idempotency_key="i1")
        ids = [r.id async for r in client.runs.list(thread_id="th")]
    assert run.status == "completed"
    assert rec.requests[0].headers["idempotency-key"] == "i1"
    assert rec.requests[0].headers["authorization"] == "Bearer k"
    assert ids == ["r1", "r2"]
    assert rec.requests[1].url.params["thread_id"] == "th"
