"""What the sync and async clients share: configuration, request bodies, URL paths."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, TypedDict
from urllib.parse import quote

import httpx
from pydantic import BaseModel

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 30.0
# A sync run request waits server-side up to AGENTRUN_LIMITS__SYNC_WAIT_S (60 s by default)
# before answering 202; the read timeout must outlast that or a healthy wait looks like a failure.
SYNC_READ_TIMEOUT = 90.0
# SSE streams are idle between events except for the server's heartbeat (15 s by default).
STREAM_READ_TIMEOUT = 60.0
LONG_POLL_MARGIN_S = 15.0


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("agentrun")
    except Exception:  # running from a source tree without installed metadata
        return "0"


class ClientConfig:
    """Resolved constructor arguments: explicit values win, then the environment, then defaults."""

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        timeout: float | httpx.Timeout | None,
        headers: Mapping[str, str] | None,
        max_stream_retries: int,
        stream_backoff_s: float,
    ) -> None:
        self.base_url = (base_url or os.environ.get("AGENTRUN_URL") or DEFAULT_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else (os.environ.get("AGENTRUN_API_KEY") or None)
        self.timeout = (
            timeout
            if isinstance(timeout, httpx.Timeout)
            else httpx.Timeout(DEFAULT_TIMEOUT if timeout is None else timeout)
        )
        self.max_stream_retries = max_stream_retries
        self.stream_backoff_s = stream_backoff_s
        self.headers = {"User-Agent": f"agentrun-python/{_version()}", "Accept": "application/json"}
        if self.api_key:
            self.headers["Authorization"] = f"Bearer {self.api_key}"
        self.headers.update(headers or {})

    def with_read(self, read_s: float | None) -> httpx.Timeout:
        """The client timeout with a read timeout of at least ``read_s`` (for waits the server holds)."""
        if read_s is None:
            return self.timeout
        current = self.timeout.read
        read = None if current is None else max(current, read_s)
        return httpx.Timeout(
            connect=self.timeout.connect, read=read, write=self.timeout.write, pool=self.timeout.pool
        )

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before reconnect ``attempt`` (1, 2, ...): exponential, capped at 5 s."""
        return min(self.stream_backoff_s * 2.0 ** (attempt - 1), 5.0)


def path(*parts: str | int) -> str:
    """``/v1/...`` with every id quoted, so an odd id can never address another route."""
    return "/v1/" + "/".join(quote(str(p), safe="") for p in parts)


def jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Mapping):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def body(extra_body: Mapping[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A request body from the fields that were given (None means "not given", server default)."""
    out = {k: jsonable(v) for k, v in fields.items() if v is not None}
    if extra_body:
        out.update(jsonable(dict(extra_body)))
    return out


def params(**fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


class AgentFields(TypedDict, total=False):
    """An agent's definition and settings, as ``agents.create`` and ``agents.apply`` take them.

    Any left out (or None) is the server's default, or for ``apply`` the agent's current value.
    """

    model: str | None
    instructions: str | None
    tools: list[Mapping[str, Any]] | None
    input_schema: Mapping[str, Any] | None
    output_schema: Mapping[str, Any] | None
    config: Mapping[str, Any] | None
    sandbox: Mapping[str, Any] | None
    name: str | None
    description: str | None
    max_concurrency: int | None
    publish: bool | None
    extra_body: Mapping[str, Any] | None  # fields this SDK does not know yet, sent as they are


class RunOptions(TypedDict, total=False):
    """How to start a run, besides its agent, prompt and mode (docs/api.md, ``POST /v1/runs``).

    Give exactly one input: the ``prompt`` argument, ``input`` or ``messages``.
    """

    input: Mapping[str, Any] | None
    messages: list[Mapping[str, Any]] | None
    revision: int | None
    thread_id: str | None
    multitask: str | None
    config: Mapping[str, Any] | None
    output_schema: Mapping[str, Any] | None
    metadata: Mapping[str, Any] | None
    durability: str | None
    webhook_url: str | None
    cached_workflow: Mapping[str, Any] | None
    sandbox: bool | None
    sandbox_id: str | None
    idempotency_key: str | None  # sent as the Idempotency-Key header
    extra_body: Mapping[str, Any] | None  # fields this SDK does not know yet, sent as they are


def _known(fields: Mapping[str, Any], allowed: type, what: str) -> None:
    unknown = sorted(set(fields) - set(allowed.__annotations__))
    if unknown:
        raise TypeError(f"{what} got unexpected keyword argument(s): {', '.join(unknown)}")


def agent_body(slug: str, fields: AgentFields) -> dict[str, Any]:
    _known(fields, AgentFields, "agents")
    given: dict[str, Any] = dict(fields)
    extra_body = given.pop("extra_body", None)
    return body(extra_body, slug=slug, **given)


def run_request(
    agent: str, prompt: str | None, mode: str | None, options: RunOptions
) -> tuple[dict[str, Any], dict[str, str]]:
    """The body and headers of ``POST /v1/runs``."""
    _known(options, RunOptions, "runs")
    given: dict[str, Any] = dict(options)
    extra_body = given.pop("extra_body", None)
    idempotency_key = given.pop("idempotency_key", None)
    inputs = {"prompt": prompt, "input": given.get("input"), "messages": given.get("messages")}
    named = [name for name, value in inputs.items() if value is not None]
    if len(named) != 1:
        raise ValueError(f"give exactly one of prompt, input, messages (got {', '.join(named) or 'none'})")
    payload = body(extra_body, agent=agent, prompt=prompt, mode=mode, **given)
    return payload, idempotency_headers(idempotency_key)


def idempotency_headers(idempotency_key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": idempotency_key} if idempotency_key else {}


def sse_headers(last_seq: int) -> dict[str, str]:
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    if last_seq > 0:
        headers["Last-Event-ID"] = str(last_seq)
    return headers
