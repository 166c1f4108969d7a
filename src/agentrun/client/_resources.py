"""Sync resources: ``client.agents``, ``client.runs``, ``client.threads``.

Generated from ``_async_resources.py`` by ``scripts/sync_sdk.py``: edit that file, then run the script.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

from pydantic import BaseModel

from agentrun.client._base import (
    LONG_POLL_MARGIN_S,
    SYNC_READ_TIMEOUT,
    AgentFields,
    RunOptions,
    agent_body,
    body,
    params,
    path,
    run_request,
    sse_headers,
)
from agentrun.client._models import Agent, EventsPage, Page, Revision, Run, Thread, ThreadDetail
from agentrun.client._streaming import EventStream, RunStream

if TYPE_CHECKING:
    from agentrun.client._client import Client

M = TypeVar("M", bound=BaseModel)


class _Resource:
    def __init__(self, client: Client) -> None:
        self._client = client

    def _get(self, model: type[M], url: str, **query: Any) -> M:
        return model.model_validate((self._client._request("GET", url, params=params(**query))).json())

    def _send(self, model: type[M], method: str, url: str, json: Any = None, **kwargs: Any) -> M:
        return model.model_validate((self._client._request(method, url, json=json, **kwargs)).json())

    def _page(self, model: type[M], url: str, **query: Any) -> Page[M]:
        return Page[model].model_validate(  # type: ignore[valid-type]
            (self._client._request("GET", url, params=params(**query))).json()
        )

    def _iterate(self, model: type[M], url: str, page_size: int | None, **query: Any) -> Iterator[M]:
        cursor: str | None = None
        while True:
            page = self._page(model, url, cursor=cursor, limit=page_size, **query)
            yield from page.data
            if not page.next_cursor or page.next_cursor == cursor:
                return
            cursor = page.next_cursor


class Agents(_Resource):
    """Agents and their revisions."""

    def create(self, slug: str, **fields: Unpack[AgentFields]) -> Agent:
        """Create an agent (revision 1, published unless ``publish=False``); 409 ``slug_taken`` if taken."""
        return self._send(Agent, "POST", path("agents"), agent_body(slug, fields))

    def apply(self, slug: str, **fields: Unpack[AgentFields]) -> Agent:
        """Create or update the agent ``slug`` to this definition (``PUT``); a new revision only on change."""
        return self._send(Agent, "PUT", path("agents", slug), agent_body(slug, fields))

    def list(self, *, include_archived: bool = False, page_size: int | None = None) -> Iterator[Agent]:
        """Every agent, fetching pages of ``page_size`` as the iteration goes."""
        return self._iterate(Agent, path("agents"), page_size, include_archived=include_archived or None)

    def list_page(
        self, *, cursor: str | None = None, limit: int | None = None, include_archived: bool = False
    ) -> Page[Agent]:
        return self._page(
            Agent, path("agents"), cursor=cursor, limit=limit, include_archived=include_archived or None
        )

    def get(self, agent: str) -> Agent:
        """An agent by id or slug."""
        return self._get(Agent, path("agents", agent))

    def update(
        self,
        agent: str,
        *,
        name: str | None = None,
        description: str | None = None,
        model: str | None = None,
        instructions: str | None = None,
        tools: list[Mapping[str, Any]] | None = None,
        input_schema: Mapping[str, Any] | None = None,
        output_schema: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        publish: bool | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Agent:
        """Change some fields; definition fields create a new revision (published if ``publish``)."""
        payload = body(
            extra_body,
            name=name,
            description=description,
            model=model,
            instructions=instructions,
            tools=tools,
            input_schema=input_schema,
            output_schema=output_schema,
            config=config,
            publish=publish,
        )
        return self._send(Agent, "PATCH", path("agents", agent), payload)

    def archive(self, agent: str) -> Agent:
        """Archive the agent: it stays readable, new runs are refused."""
        return self._send(Agent, "POST", path("agents", agent, "archive"))

    def revisions(self, agent: str, *, page_size: int | None = None) -> Iterator[Revision]:
        return self._iterate(Revision, path("agents", agent, "revisions"), page_size)

    def revision(self, agent: str, number: int) -> Revision:
        return self._get(Revision, path("agents", agent, "revisions", number))

    def publish(self, agent: str, number: int) -> Revision:
        """Make revision ``number`` the one runs use by default."""
        return self._send(Revision, "POST", path("agents", agent, "revisions", number, "publish"))


class Runs(_Resource):
    """Runs: start, wait, stream, list, cancel, read events."""

    def create(
        self, agent: str, prompt: str | None = None, *, mode: str | None = None, **options: Unpack[RunOptions]
    ) -> Run:
        """Start a run. ``mode``: ``sync`` (server default; may come back unfinished), ``async``.

        Give exactly one of ``prompt``, ``input``, ``messages``. For ``stream`` use :meth:`stream`.
        """
        if mode == "stream":
            raise ValueError("use runs.stream(...) for mode='stream'")
        payload, headers = run_request(agent, prompt, mode, options)
        read = SYNC_READ_TIMEOUT if mode in (None, "sync") else None
        return self._send(Run, "POST", path("runs"), payload, headers=headers, read_timeout=read)

    def run(
        self,
        agent: str,
        prompt: str | None = None,
        *,
        timeout: float | None = None,
        **options: Unpack[RunOptions],
    ) -> Run:
        """Run ``agent`` and return the finished run (``mode=sync``, then long polls if needed).

        ``timeout`` bounds the total wait in seconds; when it passes, the still-running run is returned.
        """
        started = time.monotonic()
        run = self.create(agent, prompt, mode="sync", **options)
        if run.is_terminal:
            return run
        remaining = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
        return self.wait(run.id, timeout=remaining)

    def stream(self, agent: str, prompt: str | None = None, **options: Unpack[RunOptions]) -> RunStream:
        """Start a run with ``mode=stream``: yields its events live, then the final :class:`Run`.

        The request is sent now (errors such as an unknown agent raise here); iterate the result,
        ideally in a ``with`` block so an early ``break`` closes the connection.
        """
        payload, idempotency = run_request(agent, prompt, "stream", options)
        headers = {**sse_headers(0), **idempotency}
        response = self._client._open_stream("POST", path("runs"), json=payload, headers=headers)
        return RunStream(self._client, response.headers.get("x-run-id"), 0, response, yield_run=True)

    def get(self, run_id: str, *, wait_s: float | None = None) -> Run:
        """A run; with ``wait_s``, the server holds the answer until the run ends or the wait passes."""
        read = None if wait_s is None else wait_s + LONG_POLL_MARGIN_S
        response = self._client._request(
            "GET", path("runs", run_id), params=params(wait_s=wait_s), read_timeout=read
        )
        return Run.model_validate(response.json())

    def wait(self, run_id: str, *, timeout: float | None = None, poll_s: float = 30.0) -> Run:
        """Long-poll until the run is terminal or waits for a person (``requires_action``), or
        ``timeout`` seconds pass (then the run as it is)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait_s = poll_s if deadline is None else max(0.0, min(poll_s, deadline - time.monotonic()))
            asked = time.monotonic()
            run = self.get(run_id, wait_s=wait_s)
            if run.is_terminal or run.is_waiting or (deadline is not None and time.monotonic() >= deadline):
                return run
            if time.monotonic() - asked < min(1.0, wait_s):
                time.sleep(0.2)  # the server answered early without finishing: do not spin

    def list(
        self,
        *,
        agent: str | None = None,
        status: str | None = None,
        thread_id: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[Run]:
        """Runs, newest first, fetching pages as the iteration goes."""
        return self._iterate(Run, path("runs"), page_size, agent=agent, status=status, thread_id=thread_id)

    def list_page(
        self,
        *,
        agent: str | None = None,
        status: str | None = None,
        thread_id: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Run]:
        return self._page(
            Run, path("runs"), agent=agent, status=status, thread_id=thread_id, cursor=cursor, limit=limit
        )

    def act(self, run_id: str, actions: list[dict[str, Any]]) -> Run:
        """Answer pending calls of a run in ``requires_action`` (``[{"call_id", "decision", ...}]``).

        ``decision``: ``approve`` (optionally with edited ``args``), ``deny`` (with a ``reason`` the
        model sees) or ``answer`` (with ``answer``). The run resumes once every call is answered;
        the same answer again changes nothing; 409 ``run_not_waiting`` when it waits for nothing.
        """
        return self._send(Run, "POST", path("runs", run_id, "actions"), json={"actions": actions})

    def approve(self, run_id: str, call_id: str, *, args: dict[str, Any] | None = None) -> Run:
        """Approve one pending call (with ``args``: run the tool with these arguments instead)."""
        action: dict[str, Any] = {"call_id": call_id, "decision": "approve"}
        if args is not None:
            action["args"] = args
        return self.act(run_id, [action])

    def deny(self, run_id: str, call_id: str, *, reason: str | None = None) -> Run:
        """Deny one pending call; the model is told ``reason``."""
        action: dict[str, Any] = {"call_id": call_id, "decision": "deny"}
        if reason is not None:
            action["reason"] = reason
        return self.act(run_id, [action])

    def answer(self, run_id: str, call_id: str, answer: Any) -> Run:
        """Answer a question the run asked (``ask_human``); checked against its ``answer_schema``."""
        return self.act(run_id, [{"call_id": call_id, "decision": "answer", "answer": answer}])

    def cancel(self, run_id: str) -> Run:
        """Ask the run to stop; answers ``cancelling`` or ``cancelled``; 409 ``run_finished`` if it ended."""
        return self._send(Run, "POST", path("runs", run_id, "cancel"))

    def events(self, run_id: str, *, after: int = 0, limit: int | None = None) -> EventsPage:
        """One page of the run's events with ``seq > after``."""
        return self._get(EventsPage, path("runs", run_id, "events"), after=after, limit=limit)

    def stream_events(self, run_id: str, *, after: int = 0) -> EventStream:
        """The run's events with ``seq > after``, live, ending after the terminal event.

        Lazy: the connection opens at the first iteration. Reconnects on a drop without gap or repeat.
        """
        return EventStream(self._client, run_id, after, None, yield_run=False)


class Threads(_Resource):
    """Threads: conversations that runs continue."""

    def create(
        self, *, agent: str | None = None, title: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> Thread:
        return self._send(Thread, "POST", path("threads"), body(agent=agent, title=title, metadata=metadata))

    def list(self, *, agent: str | None = None, page_size: int | None = None) -> Iterator[Thread]:
        return self._iterate(Thread, path("threads"), page_size, agent=agent)

    def list_page(
        self, *, agent: str | None = None, cursor: str | None = None, limit: int | None = None
    ) -> Page[Thread]:
        return self._page(Thread, path("threads"), agent=agent, cursor=cursor, limit=limit)

    def get(self, thread_id: str) -> ThreadDetail:
        """The thread with its messages in order."""
        return self._get(ThreadDetail, path("threads", thread_id))

    def delete(self, thread_id: str) -> None:
        """Delete the thread; 409 ``thread_busy`` while one of its runs is active."""
        self._client._request("DELETE", path("threads", thread_id))
