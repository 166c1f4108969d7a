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
from pydantic_core import PydanticCustomError

from agentrun.domain.events import EventType, LogLevel
from agentrun.domain.status import RunStatus

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
SLUG_RE = re.compile(SLUG_PATTERN)
# What a webhook URL must look like in the document; the SSRF guard decides the rest when it is used.
HTTP_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+"
# The stores keep counts, revision numbers and seqs in INTEGER columns (PostgreSQL: 32 bits);
# larger input is refused with a 422 instead of failing in the database.
DB_INT_MAX = 2_147_483_647


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
    max_tokens: int | None = Field(
        None,
        ge=1,
        le=DB_INT_MAX,
        description="Most output tokens per model request (sent to the model as its max_tokens).",
    )
    max_total_tokens: int | None = Field(
        None,
        ge=1,
        le=DB_INT_MAX,
        description="Budget of the whole run: most tokens (input + output, every request); then limit_exceeded.",
    )
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

    ``kind``: ``builtin`` (``name`` of a built-in tool), ``python`` (``name`` of a tool the
    operator registered; a raw ``ref`` = ``package.module:function`` only where the operator
    allows unregistered tools), ``mcp`` (``server``: a registered MCP server; ``url`` for
    streamable HTTP; a raw stdio ``command`` + ``args`` only where unregistered tools are allowed).
    """

    kind: Literal["builtin", "python", "mcp"]
    name: str | None = Field(
        None,
        max_length=200,
        description="builtin: its name; python: a registered tool (or a rename of `ref`).",
    )
    ref: str | None = Field(
        None, max_length=500, description="python: raw 'package.module:function' (operator only)."
    )
    server: str | None = Field(None, max_length=200, description="mcp: the name of a registered MCP server.")
    command: str | None = Field(None, max_length=500, description="mcp: raw stdio command (operator only).")
    args: list[str] = Field(default_factory=list)
    url: str | None = Field(None, max_length=2000, description="mcp: streamable HTTP URL (SSRF-guarded).")
    env: dict[str, str] = Field(default_factory=dict)
    prefix: str | None = Field(None, max_length=64)
    requires_approval: bool | list[str] = Field(
        False,
        description="A person approves each call first: true for every tool of this source, or the "
        "names of the ones that need it (as the model sees them, or without the prefix).",
    )

    @model_validator(mode="after")
    def _check_kind_fields(self) -> ToolSpec:
        if self.kind == "builtin" and not self.name:
            raise ValueError("a builtin tool needs `name`")
        if self.kind == "python":
            if self.ref is None and not self.name:
                raise ValueError(
                    "a python tool needs `name` (a registered tool) or `ref` ('package.module:function')"
                )
            if self.ref is not None and ":" not in self.ref:
                raise ValueError("a python tool's `ref` must look like 'package.module:function'")
        if self.kind == "mcp":
            given = [f for f in ("server", "command", "url") if getattr(self, f)]
            if len(given) != 1:
                raise ValueError(
                    "an mcp tool needs exactly one of `server` (registered), `url` (streamable HTTP) "
                    f"or `command` (stdio); got {given or 'none'}"
                )
        return self

    @property
    def unregistered(self) -> bool:
        """Raw code or a raw command on the server: allowed only where the operator says so."""
        return (self.kind == "python" and self.ref is not None) or (
            self.kind == "mcp" and self.command is not None
        )

    @property
    def label(self) -> str:
        """How error messages name this tool."""
        if self.kind == "python":
            return f"python tool {self.ref or self.name!r}"
        if self.kind == "mcp":
            return f"mcp tool {self.server or self.url or self.command!r}"
        return f"builtin tool {self.name!r}"


class SandboxSpec(Strict):
    """An isolated workspace for the run's commands (docs/sandbox.md); unset limits use the server's."""

    network: bool = Field(
        False, description="Let commands reach the network (only if the operator allows it)."
    )
    wall_s: float | None = Field(None, gt=0, le=3600, description="Wall-clock limit per command.")
    cpu_s: int | None = Field(None, ge=1, le=3600, description="CPU seconds per command.")
    memory_mb: int | None = Field(None, ge=16, le=65536, description="Memory per command.")
    max_processes: int | None = Field(None, ge=1, le=4096, description="Processes per command.")
    max_file_mb: int | None = Field(None, ge=1, le=65536, description="Largest file a command may write.")
    max_output_bytes: int | None = Field(None, ge=1024, le=16_777_216, description="Output kept per command.")
    requires_approval: bool | list[str] = Field(
        False, description="A person approves each sandbox tool call first: true for all, or their names."
    )


class HumanPolicy(Strict):
    """How a run of the agent waits for a person (tool approvals, ``ask_human``): docs/runs.md."""

    timeout_s: int | None = Field(
        None,
        ge=1,
        le=DB_INT_MAX,
        description="Longest wait for an answer; default AGENTRUN_LIMITS__ACTION_TIMEOUT_S.",
    )
    on_timeout: Literal["fail", "deny"] = Field(
        "fail",
        description="fail: the run ends timed_out (code action_timeout); deny: the unanswered calls are "
        "denied (the model is told nobody answered) and the run goes on.",
    )


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
    sandbox: SandboxSpec | None = Field(
        None, description="Give runs a sandbox (a workspace and the shell/file tools); null: none."
    )
    human: HumanPolicy = Field(default_factory=HumanPolicy, description="Waiting for a person.")

    @field_validator("model")
    @classmethod
    def _check_model(cls, v: str) -> str:
        if v != "test" and ":" not in v:
            raise ValueError("model must be 'provider:model' (e.g. 'openai:gpt-4o') or 'test'")
        return v


class AgentCreate(AgentDefinition):
    slug: str = Field(
        description="Unique, URL-safe name: lowercase letters, digits, dashes.",
        json_schema_extra={"pattern": SLUG_PATTERN},  # checked by _check_slug, with a clearer message
    )
    name: str | None = None
    description: str = ""
    publish: bool = Field(True, description="Publish the first revision at once.")
    max_concurrency: int | None = Field(
        None,
        ge=1,
        le=DB_INT_MAX,
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


def _omit_not_null(schema: dict[str, Any]) -> None:
    """The published schema of a field that may be omitted but not null: no null branch, no default."""
    branches = [b for b in schema.pop("anyOf", []) if b.get("type") != "null"]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches
    schema.pop("default", None)


class AgentUpdate(Strict):
    """Partial update. Definition fields create a new revision; name/description do not."""

    # Omitted: kept as it is. Null is refused (there is no "unset" to store), so the document
    # shows these as not nullable (_omit_not_null).
    name: str | None = Field(None, json_schema_extra=_omit_not_null)
    description: str | None = Field(None, json_schema_extra=_omit_not_null)
    max_concurrency: int | None = Field(
        None, ge=1, le=DB_INT_MAX, description="Set to null to remove the limit."
    )
    model: str | None = Field(None, json_schema_extra=_omit_not_null)
    instructions: str | None = Field(None, json_schema_extra=_omit_not_null)
    tools: list[ToolSpec] | None = Field(None, json_schema_extra=_omit_not_null)
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    config: RunConfig | None = Field(None, json_schema_extra=_omit_not_null)
    sandbox: SandboxSpec | None = None
    human: HumanPolicy | None = Field(None, json_schema_extra=_omit_not_null)
    publish: bool = Field(False, description="Publish the revision this update creates.")

    @field_validator(
        "name", "description", "model", "instructions", "tools", "config", "human", mode="before"
    )
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        # These have no "unset" value to store: null is a mistake, not "clear it" (unlike
        # max_concurrency and the schemas, where null removes the limit or schema).
        if v is None:
            raise PydanticCustomError(
                "null_not_allowed", "must not be null; omit the field to keep its current value"
            )
        return v


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
    cost_usd: float | None = Field(
        None, description="The tokens' cost at the server's configured model prices; null when unpriced."
    )

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
    revision: int | None = Field(
        None, ge=1, le=DB_INT_MAX, description="Revision number; default: the published one."
    )
    prompt: str | None = None
    input: dict[str, Any] | None = None
    messages: list[ChatMessage] | None = Field(None, json_schema_extra={"minItems": 1})
    thread_id: str | None = None
    multitask: Multitask = Multitask.enqueue
    mode: RunMode = RunMode.sync
    config: RunConfig = Field(default_factory=RunConfig)
    output_schema: dict[str, Any] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    durability: Durability | None = None
    webhook_url: str | None = Field(None, json_schema_extra={"pattern": HTTP_URL_PATTERN})  # SSRF-checked
    cached_workflow: CachedWorkflow | None = Field(
        None,
        description="Replay these tool calls without model calls; the model takes over at the first failure.",
    )
    sandbox: bool | None = Field(
        None,
        description="Run in a sandbox even if the agent defines none (true); default: as the agent says.",
    )
    sandbox_id: str | None = Field(
        None, max_length=64, description="Run in this existing sandbox of the project (implies sandbox)."
    )

    @model_validator(mode="after")
    def _exactly_one_input(self) -> RunCreate:
        given = [n for n in ("prompt", "input", "messages") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of prompt, input, messages (got {given or 'none'})")
        if self.messages is not None and not self.messages:
            raise ValueError("messages must not be empty")
        return self


class ActionAnswer(Strict):
    """One answer to a pending call of a run in ``requires_action``."""

    call_id: str = Field(min_length=1, max_length=200, description="The pending call's `id`.")
    decision: Literal["approve", "deny", "answer"] = Field(
        description="approve / deny an approval; answer a question (deny a question: nobody answers it)."
    )
    reason: str | None = Field(None, max_length=10_000, description="deny: what the model is told.")
    args: dict[str, Any] | None = Field(
        None, description="approve: run the tool with these arguments instead."
    )
    answer: Any = Field(None, description="answer: the value (checked against the question's answer_schema).")

    @model_validator(mode="after")
    def _fields_fit_decision(self) -> ActionAnswer:
        if self.decision == "answer" and self.answer is None:
            raise ValueError("decision=answer needs `answer`")
        if self.decision != "answer" and self.answer is not None:
            raise ValueError("`answer` goes with decision=answer only")
        if self.args is not None and self.decision != "approve":
            raise ValueError("`args` (edited arguments) go with decision=approve only")
        if self.reason is not None and self.decision != "deny":
            raise ValueError("`reason` goes with decision=deny only")
        return self


class RunActions(Strict):
    """Answers to some or all of a waiting run's pending calls; it resumes once all are answered."""

    actions: list[ActionAnswer] = Field(min_length=1, max_length=100)


class PendingAction(BaseModel):
    """A call a run waits for: a tool call to approve, or a question (``ask_human``) to answer."""

    id: str = Field(description="The tool call id; answer with it as `call_id`.")
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    kind: Literal["approval", "question"]
    question: str | None = Field(None, description="question: what the model asks.")
    answer_schema: dict[str, Any] | None = Field(None, description="question: the JSON Schema of the answer.")
    answer: ActionAnswer | None = Field(None, description="The answer once given.")
    answered_at: datetime | None = None


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
    sandbox_id: str | None = Field(None, description="The sandbox the run's commands execute in, if any.")
    pending_actions: list[PendingAction] = Field(
        default_factory=list,
        description="requires_action: the calls the run waits for (answered ones carry their answer).",
    )
    action_deadline: datetime | None = Field(
        None, description="requires_action: when the wait times out (see the agent's `human`)."
    )
    resumes: int = Field(0, description="How many times the run resumed after waiting for a person.")
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


class Sandbox(BaseModel):
    """An isolated workspace: its files persist between the runs that use it (docs/sandbox.md)."""

    id: str
    project_id: str
    thread_id: str | None = Field(description="The thread whose runs use this sandbox, if any.")
    size_bytes: int = Field(description="Total size of the workspace's files.")
    file_count: int
    version: int = Field(description="Bumped by every change of the workspace's files.")
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime


class SandboxCreate(Strict):
    thread_id: str | None = Field(
        None, min_length=1, max_length=64, description="Bind it to this thread: the thread's runs use it."
    )


class SandboxFile(BaseModel):
    path: str = Field(description="Relative to the workspace root.")
    type: Literal["file", "dir", "symlink"]
    size: int
