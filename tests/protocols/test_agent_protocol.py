"""Agent Protocol: the unchanged ``langgraph-sdk`` clients (async and sync) against a real server.

One server per backend (SQLite, PostgreSQL) for the module, keys required: an admin key (project
``default``), a key of project ``acme`` (the caller) and one of project ``rival`` (a foreigner).
The SDK points at ``<server>/lg``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient
from langgraph_sdk.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
)

from tests.support.fake_openai import FakeOpenAI
from tests.support.keyed import keyed_server
from tests.support.live import LiveServer

pytestmark = pytest.mark.slow

OFFLINE = "[offline test model]"


@dataclass
class Live:
    server: LiveServer
    admin: str
    acme: str
    rival: str
    model: FakeOpenAI  # an OpenAI-compatible server recording what the model was sent

    @property
    def url(self) -> str:
        return f"{self.server.url}/lg"

    def native(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers={"X-API-Key": key}, timeout=30)

    def agent(self, key: str, model: str = "test", **extra: object) -> dict[str, Any]:
        slug = f"lg-{uuid.uuid4().hex[:8]}"
        with self.native(key) as http:
            created = http.post("/v1/agents", json={"slug": slug, "model": model, **extra})
            assert created.status_code == 201, created.text
        return created.json()

    def client(self, key: str | None) -> LangGraphClient:
        return get_client(url=self.url, api_key=key, timeout=60)

    def sync_client(self, key: str | None) -> SyncLangGraphClient:
        return get_sync_client(url=self.url, api_key=key, timeout=60)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp(f"lg-{request.param}")
    with keyed_server(request.param, tmp, "lg") as k:
        yield Live(k.server, k.admin, k.keys["acme"], k.keys["rival"], k.model)


def said(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def refused(call: Awaitable[Any]) -> tuple[int, str, str]:
    """The status, error code and message a call failed with: a typed SDK error, or the plain
    ``httpx.HTTPStatusError`` of the calls the SDK sends through its reconnecting request
    (``runs.wait``, ``runs.join``)."""
    with pytest.raises(httpx.HTTPStatusError) as failed:
        await call
    exc = failed.value
    body = exc.body if isinstance(exc, APIError) else exc.response.json()
    return exc.response.status_code, body["error"]["code"], body["error"]["message"]


def code_of(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    assert isinstance(body, dict), body
    return body["error"]["code"]


# --- assistants ----------------------------------------------------------------------------------


async def test_assistants_are_the_projects_agents(live: Live) -> None:
    agent = live.agent(
        live.acme,
        name="Summarizer",
        description="Summarizes a text.",
        input_schema={"type": "object", "properties": {"text": {"type": "string"}}},
    )
    async with live.client(live.acme) as client:
        found = await client.assistants.search(graph_id=agent["slug"])
        assert [a["assistant_id"] for a in found] == [agent["id"]]
        assert found[0]["graph_id"] == agent["slug"] and found[0]["name"] == "Summarizer"
        by_slug = await client.assistants.get(agent["slug"])
        assert by_slug["assistant_id"] == agent["id"] and by_slug["description"] == "Summarizes a text."
        assert await client.assistants.count(graph_id=agent["slug"]) == 1
        schemas = await client.assistants.get_schemas(agent["id"])
        assert schemas["input_schema"]["properties"] == {"text": {"type": "string"}}
        assert "messages" in schemas["state_schema"]["properties"]

        with pytest.raises(NotFoundError) as unknown:
            await client.assistants.get("no-such-agent")
        assert code_of(unknown.value) == "agent_not_found"
        with pytest.raises(BadRequestError) as graph:
            await client.assistants.get_graph(agent["id"])
        assert code_of(graph.value) == "not_supported"

    # Another project's key does not see it; no key is 401.
    async with live.client(live.rival) as rival:
        with pytest.raises(NotFoundError):
            await rival.assistants.get(agent["slug"])
        assert agent["id"] not in [a["assistant_id"] for a in await rival.assistants.search(limit=100)]
    async with live.client(None) as anonymous:
        with pytest.raises(AuthenticationError):
            await anonymous.assistants.search()


async def test_an_agent_with_an_input_schema_takes_the_input_object(live: Live) -> None:
    schema = {"type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]}
    slug = live.agent(live.acme, input_schema=schema)["slug"]
    async with live.client(live.acme) as client:
        state = await client.runs.wait(None, slug, input={"prompt": "hi"})  # LangGraph's own shape
        assert state["messages"][0]["content"] == '{"prompt": "hi"}'
        assert state["messages"][-1]["type"] == "ai"
        status, code, _ = await refused(client.runs.wait(None, slug, input={"prompt": 3}))
        assert (status, code) == (422, "input_invalid")


# --- runs: wait, stream, join, cancel -----------------------------------------------------------


def test_sync_client_stateless_wait_and_stream(live: Live) -> None:
    slug = live.agent(live.acme)["slug"]
    with live.sync_client(live.acme) as client:
        state = client.runs.wait(None, slug, input=said("hello there"))
        human, ai = state["messages"]
        assert human["type"] == "human" and human["content"] == "hello there"
        assert ai["type"] == "ai" and ai["content"].startswith(OFFLINE)

        parts = list(
            client.runs.stream(None, slug, input=said("stream me"), stream_mode=["messages", "events"])
        )
    assert parts[0].event == "metadata" and parts[0].data["run_id"].startswith("run_")
    names = [p.event for p in parts]
    assert "messages/metadata" in names
    partials = [p.data[0]["content"] for p in parts if p.event == "messages/partial"]
    [complete] = [p.data[0] for p in parts if p.event == "messages/complete"]
    assert complete["type"] == "ai" and complete["content"].startswith(OFFLINE)
    assert partials and partials[-1] == complete["content"]  # partials accumulate the answer
    events = [p.data["event"] for p in parts if p.event == "events"]
    assert events[0] == "on_chain_start" and events[-1] == "on_chain_end"
    assert "on_chat_model_stream" in events


async def test_stream_on_a_thread_with_several_modes(live: Live) -> None:
    slug = live.agent(live.acme)["slug"]
    async with live.client(live.acme) as client:
        thread = await client.threads.create(metadata={"purpose": "test"})
        created: list[dict[str, Any]] = []
        parts = [
            p
            async for p in client.runs.stream(
                thread["thread_id"],
                slug,
                input=said("stream this"),
                stream_mode=["values", "messages-tuple", "updates"],
                on_run_created=created.append,
            )
        ]
        assert parts[0].event == "metadata"
        run_id = parts[0].data["run_id"]
        assert created == [{"run_id": run_id, "thread_id": thread["thread_id"]}]
        values = [p.data for p in parts if p.event == "values"]
        assert [m["type"] for m in values[0]["messages"]] == ["human"]
        assert [m["type"] for m in values[-1]["messages"]] == ["human", "ai"]
        answer = values[-1]["messages"][-1]["content"]
        chunks = [p.data for p in parts if p.event == "messages"]
        assert chunks and all(c[0]["type"] == "AIMessageChunk" for c in chunks)
        assert "".join(c[0]["content"] for c in chunks) == answer
        assert chunks[0][1]["run_id"] == run_id and chunks[0][1]["langgraph_node"] == "agent"
        [update] = [p.data for p in parts if p.event == "updates"]
        assert update["agent"]["messages"][0]["content"] == answer
        assert parts[-1].id is not None  # the last part of each event carries its seq

        run = await client.runs.get(thread["thread_id"], run_id)
        assert run["status"] == "success" and run["assistant_id"].startswith("agt_")
        assert run["multitask_strategy"] == "enqueue"


async def test_a_thread_continues_and_its_state_is_its_messages(live: Live) -> None:
    # An OpenAI-compatible fake stands in for the model here, to see what the second run sent it.
    slug = live.agent(live.acme, model="openai:gpt-4o-mini")["slug"]
    async with live.client(live.acme) as client:
        thread_id = (await client.threads.create())["thread_id"]
        first = await client.runs.wait(thread_id, slug, input=said("my name is Ada"))
        assert [m["content"] for m in first["messages"]] == ["my name is Ada", "noted"]
        second = await client.runs.wait(thread_id, slug, input=said("what is my name?"))
        assert [m["type"] for m in second["messages"]] == ["human", "ai", "human", "ai"]
        sent = [
            (m["role"], m["content"]) for m in live.model.requests[-1]["messages"] if m["role"] != "system"
        ]
        assert sent == [("user", "my name is Ada"), ("assistant", "noted"), ("user", "what is my name?")]

        state = await client.threads.get_state(thread_id)
        assert state["values"] == second and state["next"] == [] and state["tasks"] == []
        thread = await client.threads.get(thread_id)
        assert thread["status"] == "idle" and thread["values"] == second
        runs = await client.runs.list(thread_id)
        assert [r["status"] for r in runs] == ["success", "success"]
        assert await client.threads.search(ids=[thread_id]) == [thread]
        await client.threads.delete(thread_id)
        with pytest.raises(NotFoundError):
            await client.threads.get(thread_id)


async def test_background_run_join_and_cancel(live: Live) -> None:
    quick = live.agent(live.acme)["slug"]
    slow = live.agent(live.acme, model="test:sleep-30000")["slug"]
    async with live.client(live.acme) as client:
        thread_id = (await client.threads.create())["thread_id"]
        run = await client.runs.create(thread_id, quick, input=said("in the background"))
        assert run["status"] in ("pending", "running") and run["thread_id"] == thread_id
        joined = await client.runs.join(thread_id, run["run_id"])
        assert joined["messages"][-1]["content"].startswith(OFFLINE)
        assert (await client.runs.get(thread_id, run["run_id"]))["status"] == "success"

        other = (await client.threads.create())["thread_id"]
        sleeping = await client.runs.create(other, slow, input=said("take your time"))
        # multitask_strategy reject: the thread is busy.
        with pytest.raises(ConflictError) as busy:
            await client.runs.create(other, slow, input=said("me too"), multitask_strategy="reject")
        assert code_of(busy.value) == "thread_busy"
        await client.runs.cancel(other, sleeping["run_id"], wait=True)
        after = await client.runs.join(other, sleeping["run_id"])
        assert [m["type"] for m in after["messages"]] == ["human"]  # cancelled: no answer
        assert (await client.runs.get(other, sleeping["run_id"]))["status"] == "interrupted"
        with pytest.raises(ConflictError) as again:
            await client.runs.cancel(other, sleeping["run_id"])
        assert code_of(again.value) == "run_finished"


async def test_interrupt_strategy_cancels_the_running_run(live: Live) -> None:
    slow = live.agent(live.acme, model="test:sleep-30000")["slug"]
    quick = live.agent(live.acme)["slug"]
    async with live.client(live.acme) as client:
        thread_id = (await client.threads.create())["thread_id"]
        first = await client.runs.create(thread_id, slow, input=said("slow"))
        for _ in range(100):  # interrupt cancels running runs; wait until the worker has it
            if (await client.runs.get(thread_id, first["run_id"]))["status"] == "running":
                break
            await asyncio.sleep(0.1)
        state = await client.runs.wait(thread_id, quick, input=said("now"), multitask_strategy="interrupt")
        assert state["messages"][-1]["content"].startswith(OFFLINE)
        assert (await client.runs.get(thread_id, first["run_id"]))["status"] == "interrupted"


async def test_a_failed_run_is_an_error_for_wait_and_stream(live: Live) -> None:
    # The run's time limit passes while the model sleeps: it ends timed_out.
    slug = live.agent(live.acme, model="test:sleep-5000", config={"timeout_s": 0.3})["slug"]
    async with live.client(live.acme) as client:
        with pytest.raises(Exception, match="timed_out|timeout") as waited:
            await client.runs.wait(None, slug, input=said("too slow"))
        assert not isinstance(waited.value, httpx.HTTPStatusError)  # a 200 with __error__, raised by the SDK
        thread_id = (await client.threads.create())["thread_id"]
        parts = [p async for p in client.runs.stream(thread_id, slug, input=said("too slow"))]
        assert parts[-1].event == "error" and parts[-1].data["message"]
        run = await client.runs.get(thread_id, parts[0].data["run_id"])
        assert run["status"] == "timeout"


async def test_on_disconnect_cancel_cancels_the_run_when_the_stream_goes_away(live: Live) -> None:
    slow = live.agent(live.acme, model="test:sleep-30000")["slug"]
    async with live.client(live.acme) as client:
        thread_id = (await client.threads.create())["thread_id"]
        stream = client.runs.stream(thread_id, slow, input=said("bye"), on_disconnect="cancel")
        first = await anext(stream)
        assert first.event == "metadata"
        await stream.aclose()  # the connection closes while the run sleeps
        run_id = first.data["run_id"]
        status = None
        for _ in range(150):
            status = (await client.runs.get(thread_id, run_id))["status"]
            if status == "interrupted":
                break
            await asyncio.sleep(0.1)
        assert status == "interrupted"

        # The default (continue) leaves the run going.
        stream = client.runs.stream(thread_id, slow, input=said("stay"))
        kept = (await anext(stream)).data["run_id"]
        await stream.aclose()
        await asyncio.sleep(0.5)
        assert (await client.runs.get(thread_id, kept))["status"] in ("pending", "running")
        await client.runs.cancel(thread_id, kept)


async def test_resume_a_dropped_stream_with_last_event_id(live: Live) -> None:
    slug = live.agent(live.acme, model="test:sleep-1500")["slug"]
    async with live.client(live.acme) as client:
        thread_id = (await client.threads.create())["thread_id"]
        seen: list[Any] = []
        stream = client.runs.stream(
            thread_id, slug, input=said("resume me"), stream_mode=["custom", "values"]
        )
        async for part in stream:
            seen.append(part)
            if sum(p.event == "custom" for p in seen) == 2:
                break  # the client goes away mid-run
        await stream.aclose()
        run_id = seen[0].data["run_id"]
        last_id = seen[-1].id
        assert last_id is not None
        assert (await client.runs.get(thread_id, run_id))["status"] in ("pending", "running")

        rest = [
            p
            async for p in client.runs.join_stream(
                thread_id, run_id, last_event_id=last_id, stream_mode=["custom", "values"]
            )
        ]
    assert rest[0].event == "metadata" and rest[0].data["run_id"] == run_id
    before = [p.data["seq"] for p in seen if p.event == "custom"]
    after = [p.data["seq"] for p in rest if p.event == "custom"]
    assert after[0] == int(last_id) + 1 and before[-1] == int(last_id)
    assert before + after == list(range(1, after[-1] + 1))  # nothing lost, nothing repeated
    assert [p.data["type"] for p in rest if p.event == "custom"][-1] == "run.completed"
    assert rest[-1].event == "values" and rest[-1].data["messages"][-1]["content"].startswith(OFFLINE)

    # A stateless run resumes at the Location its stream named (where the SDK reconnects by itself).
    async with live.client(live.acme) as client:
        seen, headers = [], {}
        body = {"assistant_id": slug, "input": said("no thread"), "stream_mode": "custom"}
        stream = client.http.stream(
            "/runs/stream", "POST", json=body, on_response=lambda r: headers.update(r.headers)
        )
        async for part in stream:
            seen.append(part)
            if part.event == "custom":
                break
        await stream.aclose()
        location = headers["location"]
        assert location == f"/runs/{seen[0].data['run_id']}/stream"
        tail = [
            p
            async for p in client.http.stream(
                location, "GET", params={"stream_mode": "custom"}, headers={"Last-Event-ID": seen[-1].id}
            )
        ]
    seqs = [p.data["seq"] for p in tail if p.event == "custom"]
    assert seqs[0] == int(seen[-1].id) + 1 and tail[-1].data["type"] == "run.completed"

    # Without Last-Event-ID the stream of a finished run replays it from the start.
    async with live.client(live.acme) as client:
        replay = [p async for p in client.runs.join_stream(thread_id, run_id, stream_mode="custom")]
    assert [p.data["seq"] for p in replay if p.event == "custom"] == before + after


# --- threads, multitask, what does not map ---------------------------------------------------


async def test_if_not_exists_create_and_caller_chosen_thread_ids(live: Live) -> None:
    slug = live.agent(live.acme)["slug"]
    mine = str(uuid.uuid4())
    async with live.client(live.acme) as client:
        assert (await refused(client.runs.wait(mine, slug, input=said("hi"))))[:2] == (
            404,
            "thread_not_found",
        )
        state = await client.runs.wait(mine, slug, input=said("hi"), if_not_exists="create")
        assert state["messages"][0]["content"] == "hi"
        assert (await client.threads.get(mine))["thread_id"] == mine

        named = str(uuid.uuid4())
        made = await client.threads.create(thread_id=named, metadata={"k": "v"})
        assert made["thread_id"] == named and made["metadata"] == {"k": "v"}
        with pytest.raises(ConflictError):
            await client.threads.create(thread_id=named)
        assert (await client.threads.create(thread_id=named, if_exists="do_nothing"))["thread_id"] == named
        assert [t["thread_id"] for t in await client.threads.search(metadata={"k": "v"}, limit=100)] == [
            named
        ]


async def test_what_does_not_map_is_a_400_not_supported(live: Live) -> None:
    slug = live.agent(live.acme)["slug"]
    async with live.client(live.acme) as client:
        thread_id = (await client.threads.create())["thread_id"]
        await client.runs.wait(thread_id, slug, input=said("hi"))
        attempts = [
            client.threads.update_state(thread_id, {"messages": []}),
            client.threads.get_history(thread_id),
            client.threads.copy(thread_id),
            client.threads.get_state(thread_id, checkpoint_id="cp"),
            client.runs.wait(thread_id, slug, command={"resume": "yes"}),
            client.runs.wait(thread_id, slug, input=said("x"), interrupt_before=["tools"]),
            client.crons.create(slug, schedule="* * * * *", input=said("x")),
            client.store.put_item(["ns"], "key", {"v": 1}),
        ]
        for attempt in attempts:
            status, code, message = await refused(attempt)
            assert (status, code) == (400, "not_supported") and "not supported" in message
        with pytest.raises(BadRequestError) as mode:
            _ = [p async for p in client.runs.stream(thread_id, slug, input=said("x"), stream_mode="debug")]
        assert code_of(mode.value) == "not_supported"
        # An input this agent cannot take is a 422 naming the fix, not a 500.
        status, code, message = await refused(client.runs.wait(None, slug, input={"question": "no messages"}))
        assert (status, code) == (422, "validation_error") and "messages" in message


async def test_another_projects_key_sees_nothing(live: Live) -> None:
    slug = live.agent(live.acme)["slug"]
    async with live.client(live.acme) as client:
        thread_id = (await client.threads.create())["thread_id"]
        run = await client.runs.create(thread_id, slug, input=said("mine"))
        await client.runs.join(thread_id, run["run_id"])
    async with live.client(live.rival) as rival:
        attempts = [
            rival.threads.get(thread_id),
            rival.threads.get_state(thread_id),
            rival.threads.delete(thread_id),
            rival.runs.get(thread_id, run["run_id"]),
            rival.runs.join(thread_id, run["run_id"]),
            rival.runs.cancel(thread_id, run["run_id"]),
            rival.runs.list(thread_id),
            rival.runs.wait(thread_id, slug, input=said("theirs")),
        ]
        for attempt in attempts:
            assert (await refused(attempt))[0] == 404
        with pytest.raises(NotFoundError):
            _ = [p async for p in rival.runs.join_stream(thread_id, run["run_id"])]
        assert thread_id not in [t["thread_id"] for t in await rival.threads.search(limit=100)]
    async with live.client(live.acme) as client:
        assert (await client.threads.get(thread_id))["thread_id"] == thread_id  # still there
