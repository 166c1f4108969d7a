"""Domain models shared by the store, the services and the native API.

These pydantic models are the one schema source: the API serves them as they are, the OpenAPI
document is generated from them, and the SDK mirrors them field for field.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentrun.domain.events import EventType, LogLevel
from agentrun.domain.status import RunStatus

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class Strict(BaseModel):
    """Request bodies refuse unknown fields: a typo must not silently drop what the caller meant."""

    model_config = ConfigDict(extra="forbid")


class RunMode(StrEnum):
    sync = "sync"
    async_ = "async"
    stream = "stream"


class Durability(StrEnum):
    steps = "steps"
    exit = "exit"


class Multitask(StrEnum):
    reject = "reject"
    enqueue = "enqueue"
    interrupt = "interrupt"


class RunConfig(Strict):
    """Per-run limits; unset fields fall back to the agent's defaults, then to server defaults."""

    max_turns: int | None = Field(None, ge=1, le=1000, description="Most model requests in one run.")
    max_tokens: int | None = Field(None, ge=1, description="Most tokens (input + output) in one run.")
    temperature: float | None = Field(None, ge=0, le=2)
    timeout_s: float | None = Field(None, gt=0, le=86400, description="Wall-clock limit; then timed_out.")

    def over(self, base: RunConfig | None) -> RunConfig:
        """This config with unset fields taken from ``base``."""
        if base is None:
            return self
        merged = base.model_dump()
        merged.update(self.model_dump(exclude_none=True))
        return RunConfig(**merged)


class ToolSpec(Strict):
    """One tool source of an agent.

    ``kind``: ``builtin`` (``name`` of a built-in tool), ``python`` (``ref`` =
    ``package.module:function``), ``mcp`` (``command`` + ``args`` for stdio, or ``url`` for
    streamable HTTP).
    """

    kind: Literal["builtin", "python", "mcp"]
    name: str | None = None
    ref: str | None = None
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    url: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    prefix: str | None = None

    @model_validator(mode="after")
    def _check_kind_fields(self) -> ToolSpec:
        if self.kind == "builtin" and not self.name:
            raise ValueError("a builtin tool needs `name`")
        if self.kind == "python" and (not self.ref or ":" not in self.ref):
            raise ValueError("a python tool needs `ref` as 'package.module:function'")
        if self.kind == "mcp" and not (self.command or self.url):
            raise ValueError("an mcp tool needs `command` (stdio) or `url` (streamable HTTP)")
        return self


class AgentDefinition(Strict):
    """What a revision snapshots. Changing any field creates a new revision."""

    model: str = Field(
        "test", description="'provider:model', e.g. 'openai:gpt-4o'; 'test' is the offline model."
    )
    instructions: str = ""
    tools: list[ToolSpec] = Field(default_factory=list)
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    config: RunConfig = Field(default_factory=RunConfig)

    @field_validator("model")
    @classmethod
    def _check_model(cls, v: str) -> str:
        if v != "test" and ":" not in v:
            raise ValueError("model must be 'provider:model' (e.g. 'openai:gpt-4o') or 'test'")
        return v


class AgentCreate(AgentDefinition):
    slug: str = Field(description="Unique, URL-safe name: lowercase letters, digits, dashes.")
    name: str | None = None
    description: str = ""
    publish: bool = Field(True, description="Publish the first revision at once.")
    max_concurrency: int | None = Field(
        None,
        ge=1,
        description="Most runs of this agent executing at once (others wait queued); null: no limit.",
    )

    @field_validator("slug")
    @classmethod
    def _check_slug(cls, v: str) -> str:
        if not SLUG_RE.match(v):
            raise ValueError(
                "slug must be 1-63 lowercase letters, digits or dashes, starting with a letter or digit"
            )
        return v


class AgentUpdate(Strict):
    """Partial update. Definition fields create a new revision; name/description do not."""

    name: str | None = None
    description: str | None = None
    max_concurrency: int | None = Field(None, ge=1, description="Set to null to remove the limit.")
    model: str | None = None
    instructions: str | None = None
    tools: list[ToolSpec] | None = None
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    config: RunConfig | None = None
    publish: bool = Field(False, description="Publish the revision this update creates.")


class Agent(BaseModel):
    id: str
    slug: str
    name: str
    description: str
    project_id: str
    archived: bool
    latest_revision: int
    published_revision: int | None
    max_concurrency: int | None = None
    created_at: datetime
    updated_at: datetime
    definition: AgentDefinition = Field(description="The latest revision's definition.")


class Revision(BaseModel):
    id: str
    agent_id: str
    number: int
    definition: AgentDefinition
    published: bool
    created_at: datetime


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    tool_calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class RunError(BaseModel):
    code: str
    message: str
    details: Any = None


class ChatMessage(Strict):
    role: Literal["system", "user", "assistant"]
    content: str


class CachedStep(Strict):
    name: str = Field(min_length=1, description="Tool name.")
    params: dict[str, Any] = Field(default_factory=dict, description="Tool arguments.")


class CachedWorkflow(Strict):
    """A recorded tool-call sequence to replay without model calls while each call succeeds."""

    version: Literal[1] = 1
    steps: list[CachedStep] = Field(default_factory=list, max_length=200)


class RunCreate(Strict):
    agent: str = Field(description="Agent id or slug.")
    revision: int | None = Field(None, ge=1, description="Revision number; default: the published one.")
    prompt: str | None = None
    input: dict[str, Any] | None = None
    messages: list[ChatMessage] | None = None
    thread_id: str | None = None
    multitask: Multitask = Multitask.enqueue
    mode: RunMode = RunMode.sync
    config: RunConfig = Field(default_factory=RunConfig)
    output_schema: dict[str, Any] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    durability: Durability | None = None
    webhook_url: str | None = None
    cached_workflow: CachedWorkflow | None = Field(
        None,
        description="Replay these tool calls without model calls; the model takes over at the first failure.",
    )

    @model_validator(mode="after")
    def _exactly_one_input(self) -> RunCreate:
        given = [n for n in ("prompt", "input", "messages") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of prompt, input, messages (got {given or 'none'})")
        if self.messages is not None and not self.messages:
            raise ValueError("messages must not be empty")
        return self


class Run(BaseModel):
    id: str
    project_id: str
    agent_id: str
    agent_slug: str
    revision: int
    thread_id: str | None
    status: RunStatus
    mode: RunMode
    durability: Durability
    prompt: str | None
    input: dict[str, Any] | None
    messages: list[ChatMessage] | None
    config: RunConfig
    output_schema: dict[str, Any] | None
    metadata: dict[str, Any]
    cached_workflow: CachedWorkflow | None = None
    model: str = Field(description="The model that actually ran: 'test' when the offline model stood in.")
    offline: bool = Field(
        description="True when the offline test model produced this result, not a real provider."
    )
    result: Any = None
    result_type: Literal["text", "json"] | None = None
    usage: Usage
    iterations: int = Field(description="Model requests made (agent loop turns).")
    error: RunError | None = None
    last_seq: int = 0
    executor_id: str | None = Field(
        None, description="The worker process executing (or that executed) the run."
    )
    attempt: int = Field(0, description="How many times a worker claimed the run.")
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class Event(BaseModel):
    run_id: str
    seq: int
    type: EventType
    role: str | None = None
    content: str | None = None
    data: dict[str, Any] | None = None
    level: LogLevel = LogLevel.info
    created_at: datetime


class Thread(BaseModel):
    id: str
    project_id: str
    agent_id: str | None
    title: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    active_run_id: str | None = Field(
        None, description="The thread's unfinished run (running, or queued next), if any."
    )
    run_count: int = 0


class ThreadMessage(BaseModel):
    run_id: str
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    created_at: datetime


class ThreadDetail(Thread):
    messages: list[ThreadMessage]


class ThreadCreate(Strict):
    agent: str | None = Field(None, description="Agent id or slug the thread belongs to (optional).")
    title: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A cursor page: pass ``next_cursor`` back as ``cursor`` to get the next one; null at the end."""

    data: list[T]
    next_cursor: str | None = None


class EventsPage(BaseModel):
    data: list[Event]
    next_after: int = Field(description="Pass as `after` to read the events that follow.")
    run_status: RunStatus


class ApiKey(BaseModel):
    """An API key as listed: the secret itself is shown once, at creation, and never stored."""

    id: str
    project_id: str
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it.")
    admin: bool = Field(description="Admin keys may manage keys of every project.")
    created_at: datetime
    revoked_at: datetime | None = None


class ApiKeyCreate(Strict):
    project: str = Field(
        "default", pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="Project id; created if new."
    )
    name: str = Field("key", max_length=200)
    admin: bool = False


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The secret. Shown only now: store it.")
