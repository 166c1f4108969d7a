"""The SDK against a real server process (``live_server``): runs, streams, errors, resumption."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator

import pytest

from agentrun.client import (
    AsyncClient,
    Client,
    ConflictError,
    Event,
    NotFoundError,
    Run,
    ValidationError,
)

# The SDK's whole public surface, against a server on each database.
pytestmark = [pytest.mark.slow, pytest.mark.parametrize("live_server", ["sqlite", "postgres"], indirect=True)]

OFFLINE = "[offline test model"


@pytest.fixture
def client(live_server) -> Iterator[Client]:  # type: ignore[no-untyped-def]
    with Client(live_server.url, max_stream_retries=5, stream_backoff_s=0.05) as c:
        yield c


def slug(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def events_of(items: list[Event | Run]) -> list[Event]:
    return [i for i in items if isinstance(i, Event)]


def assert_gapless(events: list[Event], first: int = 1) -> None:
    assert [e.seq for e in events] == list(range(first, first + len(events)))


class CuttingProxy:
    """A TCP proxy to the server that cuts its first ``cuts`` connections after ``after_bytes``
    bytes of response: a real mid-stream drop, as a restarting proxy or a flaky network does."""

    def __init__(self, target_port: int, after_bytes: int, cuts: int = 1) -> None:
        self.target_port = target_port
        self.after_bytes = after_bytes
        self.cuts_left = cuts
        self.connections = 0
        self.requests: list[bytes] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                downstream, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                cut = self.cuts_left > 0
                self.cuts_left -= int(cut)
            threading.Thread(target=self._serve, args=(downstream, cut), daemon=True).start()

    def _serve(self, downstream: socket.socket, cut: bool) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port))

        def pump_requests() -> None:
            try:
                while data := downstream.recv(65536):
                    with self._lock:
                        self.requests.append(data)
                    upstream.sendall(data)
            except OSError:
                pass

        threading.Thread(target=pump_requests, daemon=True).start()
        sent = 0
        try:
            while data := upstream.recv(65536):
                if cut and sent + len(data) >= self.after_bytes:
                    downstream.sendall(data[: self.after_bytes - sent])
                    break
                downstream.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for sock in (downstream, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def close(self) -> None:
        self._closed = True
        self._listener.close()


def test_run_returns_the_finished_run(client: Client) -> None:
    run = client.runs.run("demo", "hello from the sdk")
    assert run.status == "completed" and run.is_terminal
    assert isinstance(run.result, str) and run.result.startswith(OFFLINE)
    assert "hello from the sdk" in run.result
    assert run.offline is True
    assert run.usage.requests >= 1 and run.usage.total_tokens > 0
    assert client.runs.get(run.id).model_dump() == run.model_dump()


def test_stream_yields_ordered_events_then_the_final_run(client: Client) -> None:
    with client.runs.stream("demo", "stream me") as stream:
        assert stream.run_id is not None
        items = list(stream)
    events, final = events_of(items), items[-1]
    assert isinstance(final, Run) and final.id == stream.run_id and final.status == "completed"
    assert_gapless(events)
    assert events[0].type == "run.queued" and events[-1].type == "run.completed"
    assert all(e.run_id == final.id for e in events)
    assert final.last_seq == events[-1].seq
    deltas = "".join(e.content or "" for e in events if e.type == "message.delta")
    messages = [e.content for e in events if e.type == "message"]
    assert messages and messages[-1] == final.result
    if deltas:
        assert deltas == final.result


def test_events_replayed_after_the_fact_match_the_event_pages(client: Client) -> None:
    run = client.runs.run("demo", "replay")
    streamed = list(client.runs.stream_events(run.id))
    paged: list[Event] = []
    after = 0
    while True:
        page = client.runs.events(run.id, after=after, limit=5)
        paged.extend(page.data)
        if not page.data:
            break
        after = page.next_after
    assert page.run_status == "completed"
    assert [e.model_dump() for e in streamed] == [e.model_dump() for e in paged]
    assert_gapless(streamed)
    tail = list(client.runs.stream_events(run.id, after=3))
    assert [e.seq for e in tail] == [e.seq for e in streamed[3:]]


def test_a_cut_event_stream_resumes_with_last_event_id(client: Client, live_server) -> None:  # type: ignore[no-untyped-def]
    run = client.runs.run("demo", "a long enough answer to cut " * 3)
    full = list(client.runs.stream_events(run.id))
    # Token deltas are written in batches, so the log is short, but long: the proxy cuts it by bytes.
    assert len(full) >= 5, "the demo run must produce enough events to cut the stream in the middle"
    proxy = CuttingProxy(live_server.port, after_bytes=1200)
    try:
        with Client(proxy.url, max_stream_retries=3, stream_backoff_s=0.05) as via_proxy:
            resumed = list(via_proxy.runs.stream_events(run.id))
    finally:
        proxy.close()
    assert proxy.connections >= 2, "the stream was not cut: raise after_bytes' share of the stream"
    assert [e.model_dump() for e in resumed] == [e.model_dump() for e in full]
    assert any(b"last-event-id:" in r.lower() for r in proxy.requests)


def test_a_cut_run_stream_resumes_and_still_ends_with_the_run(client: Client, live_server) -> None:  # type: ignore[no-untyped-def]
    proxy = CuttingProxy(live_server.port, after_bytes=1200)
    try:
        with Client(proxy.url, max_stream_retries=3, stream_backoff_s=0.05) as via_proxy:
            items = list(via_proxy.runs.stream("demo", "cut me off " * 10))
    finally:
        proxy.close()
    events, final = events_of(items), items[-1]
    assert proxy.connections >= 2
    assert isinstance(final, Run) and final.status == "completed"
    assert_gapless(events)
    assert events[-1].type == "run.completed" and final.last_seq == events[-1].seq
    runs_created = [r for r in proxy.requests if r.startswith(b"POST /v1/runs ")]
    assert len(runs_created) == 1


def test_errors_come_back_typed(client: Client) -> None:
    with pytest.raises(NotFoundError) as missing:
        client.runs.get("run_does_not_exist")
    assert missing.value.code == "run_not_found" and missing.value.status == 404
    with pytest.raises(NotFoundError) as no_agent:
        client.runs.run("no-such-agent", "hi")
    assert no_agent.value.code == "agent_not_found"
    with pytest.raises(ConflictError) as taken:
        client.agents.create("demo", model="test")
    assert taken.value.code == "slug_taken" and taken.value.status == 409
    finished = client.runs.run("demo", "done")
    with pytest.raises(ConflictError) as over:
        client.runs.cancel(finished.id)
    assert over.value.code == "run_finished"


def test_input_is_validated_against_the_agents_schema(client: Client) -> None:
    name = slug("typed")
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    client.agents.create(name, model="test", input_schema=schema)
    with pytest.raises(ValidationError) as invalid:
        client.runs.run(name, input={"town": "Paris"})
    assert invalid.value.code == "input_invalid" and invalid.value.status == 422
    assert client.runs.run(name, input={"city": "Paris"}).status == "completed"


def test_idempotency_key_returns_the_same_run_and_refuses_another_body(client: Client) -> None:
    key = uuid.uuid4().hex
    first = client.runs.create("demo", "same", mode="async", idempotency_key=key)
    again = client.runs.create("demo", "same", mode="async", idempotency_key=key)
    assert again.id == first.id
    with pytest.raises(ConflictError) as conflict:
        client.runs.create("demo", "different", mode="async", idempotency_key=key)
    assert conflict.value.code == "idempotency_conflict"
    assert client.runs.wait(first.id, timeout=60).status == "completed"


def test_apply_creates_revisions_only_on_change_and_publish_switches(client: Client) -> None:
    name = slug("applied")
    created = client.agents.apply(name, model="test", instructions="one")
    assert created.latest_revision == 1 and created.published_revision == 1
    same = client.agents.apply(name, model="test", instructions="one")
    assert same.latest_revision == 1
    changed = client.agents.apply(name, model="test", instructions="two", publish=False)
    assert changed.latest_revision == 2 and changed.published_revision == 1
    assert client.agents.publish(name, 2).published is True
    assert client.agents.get(name).published_revision == 2
    assert {r.number for r in client.agents.revisions(name)} == {1, 2}
    run = client.runs.run(name, "which revision?", revision=1)
    assert run.revision == 1
    archived = client.agents.archive(name)
    assert archived.archived is True
    with pytest.raises(ConflictError) as refused:
        client.runs.run(name, "archived now")
    assert refused.value.code == "agent_archived"


def test_list_iterates_across_pages(client: Client) -> None:
    name = slug("paged")
    client.agents.create(name, model="test")
    made = {client.runs.create(name, f"n{i}", mode="async").id for i in range(3)}
    listed = [r.id for r in client.runs.list(agent=name, page_size=1)]
    assert sorted(listed) == sorted(made)
    assert len(listed) == len(set(listed))
    page = client.runs.list_page(agent=name, limit=2)
    assert len(page.data) == 2 and page.next_cursor is not None
    for run_id in made:
        client.runs.wait(run_id, timeout=60)


def test_threads_keep_the_conversation(client: Client) -> None:
    thread = client.threads.create(agent="demo", title="sdk e2e")
    first = client.runs.run("demo", "first message", thread_id=thread.id)
    second = client.runs.run("demo", "second message", thread_id=thread.id)
    assert first.thread_id == second.thread_id == thread.id
    detail = client.threads.get(thread.id)
    contents = [m.content for m in detail.messages]
    assert "first message" in contents and "second message" in contents
    assert contents.index("first message") < contents.index("second message")
    assert thread.id in [t.id for t in client.threads.list(agent="demo")]
    assert [r.id for r in client.runs.list(thread_id=thread.id)] == [second.id, first.id]
    client.threads.delete(thread.id)
    with pytest.raises(NotFoundError):
        client.threads.get(thread.id)


def test_cancel_stops_a_running_run(client: Client) -> None:
    name = slug("slow")
    client.agents.create(name, model="test:sleep-20000")
    final: Run | None = None
    with client.runs.stream(name, "take your time") as stream:
        for item in stream:
            if isinstance(item, Event) and item.type == "run.started":
                cancelling = client.runs.cancel(item.run_id)
                assert cancelling.status in ("cancelling", "cancelled")
            if isinstance(item, Run):
                final = item
    assert final is not None and final.status == "cancelled"


async def test_async_client_runs_and_streams(live_server) -> None:  # type: ignore[no-untyped-def]
    async with AsyncClient(live_server.url) as client:
        run = await client.runs.run("demo", "async hello")
        assert run.status == "completed" and run.result.startswith(OFFLINE)
        stream = await client.runs.stream("demo", "async stream")
        async with stream:
            items = [item async for item in stream]
        assert isinstance(items[-1], Run) and items[-1].status == "completed"
        assert_gapless(events_of(items))
        replay = [e async for e in client.runs.stream_events(run.id)]
        assert replay[-1].type == "run.completed"
        agents = [a.slug async for a in client.agents.list()]
        assert "demo" in agents
