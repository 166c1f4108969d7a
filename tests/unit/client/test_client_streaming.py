"""Event streams: live events, the final run, and resuming after a dropped connection."""

from __future__ import annotations

import json

import httpx
import pytest

from agentrun.client import APIConnectionError, AsyncClient, Client, Event, NotFoundError, Run
from tests.unit.client.fakes import (
    BASE,
    RUN_ID,
    event_payload,
    events_body,
    run_payload,
    sse_event,
    sse_response,
    sse_run,
)

EVENTS_PATH = f"/v1/runs/{RUN_ID}/events"


class Server:
    """Scripted answers per request: a list of callables, consumed in order per (method, path)."""

    def __init__(self, script: dict[tuple[str, str], list]) -> None:
        self.script = {key: list(answers) for key, answers in script.items()}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answers = self.script[(request.method, request.url.path)]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return answer(request) if callable(answer) else answer

    def client(self) -> Client:
        return Client(BASE, transport=httpx.MockTransport(self), max_stream_retries=3, stream_backoff_s=0)

    def async_client(self) -> AsyncClient:
        return AsyncClient(
            BASE, transport=httpx.MockTransport(self), max_stream_retries=3, stream_backoff_s=0
        )

    def seen(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if (r.method, r.url.path) == (method, path)]


def fresh(response_factory):
    """Each request gets a new response object (a response stream can be read once)."""
    return lambda request: response_factory()


def seqs(items) -> list[int]:
    return [item.seq for item in items if isinstance(item, Event)]


def test_stream_events_yields_in_order_and_stops_after_the_terminal_event() -> None:
    chunks = [b": ping\n\n", *events_body(range(1, 4)), sse_event(4, "run.completed"), sse_event(5)]
    server = Server({("GET", EVENTS_PATH): [fresh(lambda: sse_response(chunks))]})
    with server.client() as client, client.runs.stream_events(RUN_ID) as stream:
        items = list(stream)
    assert seqs(items) == [1, 2, 3, 4]
    assert items[-1].is_terminal
    request = server.requests[0]
    assert request.headers["accept"] == "text/event-stream"
    assert "last-event-id" not in request.headers and "after" not in request.url.params


def test_stream_events_from_a_seq_uses_the_after_parameter() -> None:
    server = Server(
        {("GET", EVENTS_PATH): [fresh(lambda: sse_response(events_body(range(6, 8), "run.failed")))]}
    )
    with server.client() as client:
        items = list(client.runs.stream_events(RUN_ID, after=5))
    assert seqs(items) == [6, 7]
    assert server.requests[0].url.params["after"] == "5"


def test_a_dropped_stream_resumes_with_last_event_id_without_gap_or_repeat() -> None:
    partial = b'id: 4\nevent: message.delta\ndata: {"run_id": "run_01", "se'
    first = fresh(lambda: sse_response([*events_body(range(1, 4)), partial], drop=True))
    # The server resends from the seq it was told; event 3 repeated to prove the client filters it.
    second = fresh(lambda: sse_response(events_body(range(3, 7), "run.completed")))
    server = Server({("GET", EVENTS_PATH): [first, second]})
    with server.client() as client:
        stream = client.runs.stream_events(RUN_ID)
        items = list(stream)
    assert seqs(items) == [1, 2, 3, 4, 5, 6]
    assert stream.last_seq == 6
    reconnect = server.seen("GET", EVENTS_PATH)[1]
    assert reconnect.headers["last-event-id"] == "3"
    assert reconnect.headers["accept"] == "text/event-stream"


def test_reconnect_retries_are_bounded() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    first = fresh(lambda: sse_response(events_body(range(1, 3)), drop=True))
    server = Server({("GET", EVENTS_PATH): [first, refuse]})
    with server.client() as client:
        received: list[Event] = []
        with pytest.raises(APIConnectionError) as caught:
            for event in client.runs.stream_events(RUN_ID):
                received.append(event)
    assert seqs(received) == [1, 2]
    assert caught.value.details == {"run_id": RUN_ID, "last_seq": 2}
    assert len(server.requests) == 1 + 3  # the first connection, then max_stream_retries attempts
    assert all(r.headers["last-event-id"] == "2" for r in server.requests[1:])


def test_events_received_reset_the_retry_budget() -> None:
    # 3 retries allowed; 5 drops in a row, each after one new event, must still succeed.
    answers = [fresh(lambda s=s: sse_response([sse_event(s)], drop=True)) for s in range(1, 6)]
    answers.append(fresh(lambda: sse_response([sse_event(6, "run.completed")])))
    server = Server({("GET", EVENTS_PATH): answers})
    with server.client() as client:
        assert seqs(client.runs.stream_events(RUN_ID)) == [1, 2, 3, 4, 5, 6]


def test_a_server_error_while_reconnecting_is_retried() -> None:
    first = fresh(lambda: sse_response([sse_event(1)], drop=True))
    unavailable = httpx.Response(503, json={"error": {"code": "unavailable", "message": "restarting"}})
    last = fresh(lambda: sse_response([sse_event(2, "run.cancelled")]))
    server = Server({("GET", EVENTS_PATH): [first, lambda r: unavailable, last]})
    with server.client() as client:
        assert seqs(client.runs.stream_events(RUN_ID)) == [1, 2]


def test_not_found_is_raised_not_retried() -> None:
    missing = httpx.Response(404, json={"error": {"code": "run_not_found", "message": "no such run"}})
    server = Server({("GET", "/v1/runs/nope/events"): [lambda r: missing]})
    with server.client() as client:
        with pytest.raises(NotFoundError):
            list(client.runs.stream_events("nope"))
    assert len(server.requests) == 1


def test_a_clean_end_before_the_terminal_event_checks_the_run_then_resumes() -> None:
    first = fresh(lambda: sse_response(events_body(range(1, 3))))  # closes cleanly, no terminal event
    second = fresh(lambda: sse_response([sse_event(3, "run.completed")]))
    running = httpx.Response(200, json=run_payload(status="running", last_seq=2))
    server = Server(
        {("GET", EVENTS_PATH): [first, second], ("GET", f"/v1/runs/{RUN_ID}"): [lambda r: running]}
    )
    with server.client() as client:
        assert seqs(client.runs.stream_events(RUN_ID)) == [1, 2, 3]
    assert server.seen("GET", EVENTS_PATH)[1].headers["last-event-id"] == "2"


def test_a_clean_end_of_a_finished_run_stops_without_reconnecting() -> None:
    empty = fresh(lambda: sse_response([]))
    done = httpx.Response(200, json=run_payload(status="completed", last_seq=9))
    server = Server({("GET", EVENTS_PATH): [empty], ("GET", f"/v1/runs/{RUN_ID}"): [lambda r: done]})
    with server.client() as client:
        assert list(client.runs.stream_events(RUN_ID, after=9)) == []
    assert len(server.seen("GET", EVENTS_PATH)) == 1


def test_run_stream_yields_events_then_the_final_run() -> None:
    final = run_payload(status="completed", last_seq=3)

    def post(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body == {"agent": "demo", "prompt": "hi", "mode": "stream"}
        assert request.headers["accept"] == "text/event-stream"
        return sse_response(
            [*events_body(range(1, 4), "run.completed"), sse_run(final)], headers={"X-Run-Id": RUN_ID}
        )

    server = Server({("POST", "/v1/runs"): [post]})
    with server.client() as client:
        with client.runs.stream("demo", "hi") as stream:
            assert stream.run_id == RUN_ID  # known before the first event
            items = list(stream)
    assert seqs(items) == [1, 2, 3]
    assert isinstance(items[-1], Run) and items[-1].result.startswith("[offline test model")
    assert stream.run is items[-1]


def test_run_stream_errors_raise_when_the_run_is_created() -> None:
    missing = httpx.Response(404, json={"error": {"code": "agent_not_found", "message": "No agent 'x'."}})
    server = Server({("POST", "/v1/runs"): [lambda r: missing]})
    with server.client() as client:
        with pytest.raises(NotFoundError, match="No agent"):
            client.runs.stream("x", "hi")


def test_a_dropped_run_stream_resumes_on_the_events_endpoint_and_fetches_the_run() -> None:
    post = fresh(lambda: sse_response(events_body(range(1, 3)), drop=True, headers={"X-Run-Id": RUN_ID}))
    resumed = fresh(lambda: sse_response(events_body(range(3, 5), "run.completed")))
    final = httpx.Response(200, json=run_payload(status="completed", last_seq=4))
    server = Server(
        {
            ("POST", "/v1/runs"): [post],
            ("GET", EVENTS_PATH): [resumed],
            ("GET", f"/v1/runs/{RUN_ID}"): [lambda r: final],
        }
    )
    with server.client() as client:
        items = list(client.runs.stream("demo", "hi"))
    assert seqs(items) == [1, 2, 3, 4]
    assert isinstance(items[-1], Run) and items[-1].last_seq == 4
    assert server.seen("GET", EVENTS_PATH)[0].headers["last-event-id"] == "2"
    assert len(server.seen("POST", "/v1/runs")) == 1  # the run is never created twice


def test_a_drop_between_the_terminal_event_and_the_run_message_fetches_the_run() -> None:
    post = fresh(
        lambda: sse_response(events_body(range(1, 3), "run.failed"), drop=True, headers={"X-Run-Id": RUN_ID})
    )
    final = httpx.Response(200, json=run_payload(status="failed", last_seq=2))
    server = Server({("POST", "/v1/runs"): [post], ("GET", f"/v1/runs/{RUN_ID}"): [lambda r: final]})
    with server.client() as client:
        items = list(client.runs.stream("demo", "hi"))
    assert seqs(items) == [1, 2]
    assert isinstance(items[-1], Run) and items[-1].status == "failed"
    assert server.seen("GET", EVENTS_PATH) == []


def test_the_run_id_comes_from_the_first_event_when_the_header_is_missing() -> None:
    post = fresh(lambda: sse_response([sse_event(1)], drop=True))
    resumed = fresh(lambda: sse_response([sse_event(2, "run.completed"), sse_run(run_payload())]))
    final = httpx.Response(200, json=run_payload())
    server = Server(
        {
            ("POST", "/v1/runs"): [post],
            ("GET", EVENTS_PATH): [resumed],
            ("GET", f"/v1/runs/{RUN_ID}"): [lambda r: final],
        }
    )
    with server.client() as client:
        items = list(client.runs.stream("demo", "hi"))
    assert seqs(items) == [1, 2] and isinstance(items[-1], Run)


def test_an_error_message_in_the_stream_raises_its_typed_error() -> None:
    body = b'event: error\ndata: {"error": {"code": "run_not_found", "message": "gone"}}\n\n'
    server = Server({("GET", EVENTS_PATH): [fresh(lambda: sse_response([body]))]})
    with server.client() as client:
        with pytest.raises(NotFoundError, match="gone"):
            list(client.runs.stream_events(RUN_ID))


def test_breaking_out_early_closes_the_connection() -> None:
    closed: list[bool] = []

    class Tracked(httpx.SyncByteStream):
        def __iter__(self):
            yield from events_body(range(1, 10))

        def close(self) -> None:
            closed.append(True)

    server = Server({("GET", EVENTS_PATH): [lambda r: httpx.Response(200, stream=Tracked())]})
    with server.client() as client:
        with client.runs.stream_events(RUN_ID) as stream:
            for event in stream:
                if event.seq == 2:
                    break
    assert closed == [True]


async def test_async_run_stream_resumes_after_a_drop() -> None:
    post = fresh(lambda: sse_response(events_body(range(1, 3)), drop=True, headers={"X-Run-Id": RUN_ID}))
    resumed = fresh(lambda: sse_response([*events_body(range(2, 5), "run.completed")]))
    final = httpx.Response(200, json=run_payload(status="completed", last_seq=4))
    server = Server(
        {
            ("POST", "/v1/runs"): [post],
            ("GET", EVENTS_PATH): [resumed],
            ("GET", f"/v1/runs/{RUN_ID}"): [lambda r: final],
        }
    )
    async with server.async_client() as client:
        stream = await client.runs.stream("demo", "hi")
        async with stream:
            items = [item async for item in stream]
    assert seqs(items) == [1, 2, 3, 4]
    assert isinstance(items[-1], Run)
    assert server.seen("GET", EVENTS_PATH)[0].headers["last-event-id"] == "2"


async def test_async_stream_events_stops_at_terminal_and_bounds_retries() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    server = Server({("GET", EVENTS_PATH): [fresh(lambda: sse_response([sse_event(1)], drop=True)), refuse]})
    async with server.async_client() as client:
        got: list[int] = []
        with pytest.raises(APIConnectionError):
            async for event in client.runs.stream_events(RUN_ID):
                got.append(event.seq)
    assert got == [1] and len(server.requests) == 4

    ok = Server(
        {("GET", EVENTS_PATH): [fresh(lambda: sse_response(events_body(range(1, 4), "run.timed_out")))]}
    )
    async with ok.async_client() as client:
        events = [event async for event in client.runs.stream_events(RUN_ID)]
    assert [e.type for e in events] == ["message.delta", "message.delta", "run.timed_out"]


def test_event_payload_helper_matches_the_api_shape() -> None:
    event = Event.model_validate(event_payload(3, "tool_call", data={"name": "search", "args": {}}))
    assert (event.seq, event.type, event.data["name"]) == (3, "tool_call", "search")
