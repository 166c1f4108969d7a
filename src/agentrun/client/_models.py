"""Response models mirroring the server's API shapes.

Lenient on purpose: unknown fields are kept (``extra="allow"``), enums are plain strings and most
fields have defaults, so a newer server that adds a field, an event type or a status does not
break an older client.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "timed_out"})
TERMINAL_EVENT_TYPES = frozenset({"run.completed", "run.failed", "run.cancelled", "run.timed_out"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class RunConfig(_Model):
    max_turns: int | None = None
    max_tokens: int | None = None
    max_total_tokens: int | None = None
    temperature: float | None = None
    timeout_s: float | None = None


class AgentDefinition(_Model):
    model: str = "test"
    instructions: str = ""
    tools: list[dict[str, Any]] = Field(default_factory=list)
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    config: RunConfig = Field(default_factory=RunConfig)
    sandbox: dict[str, Any] | None = None  # the sandbox runs get (workspace, limits); None: none
    human: dict[str, Any] = Field(default_factory=dict)  # waiting for a person: timeout_s, on_timeout


class Agent(_Model):
    id: str
    slug: str
    name: str = ""
    description: str = ""
    project_id: str | None = None
    archived: bool = False
    latest_revision: int = 0
    published_revision: int | None = None
    max_concurrency: int | None = None  # runs of this agent that may execute at once; None: no limit
    created_at: datetime | None = None
    updated_at: datetime | None = None
    definition: AgentDefinition = Field(default_factory=AgentDefinition)


class Revision(_Model):
    id: str
    agent_id: str
    number: int
    definition: AgentDefinition = Field(default_factory=AgentDefinition)
    published: bool = False
    created_at: datetime | None = None


class Usage(_Model):
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    tool_calls: int = 0
    cost_usd: float | None = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class RunError(_Model):
    code: str
    message: str = ""
    details: Any = None


class PendingAction(_Model):
    """A call a run in ``requires_action`` waits for: an approval or a question (``ask_human``)."""

    id: str
    tool: str = ""
    args: dict[str, Any] = Field(default_factory=dict)
    kind: str = "approval"  # approval | question
    question: str | None = None
    answer_schema: dict[str, Any] | None = None
    answer: dict[str, Any] | None = None  # once answered: {call_id, decision, reason, args, answer}
    answered_at: datetime | None = None


class Run(_Model):
    id: str
    project_id: str | None = None
    agent_id: str | None = None
    agent_slug: str | None = None
    revision: int | None = None
    thread_id: str | None = None
    status: str
    mode: str | None = None
    durability: str | None = None
    prompt: str | None = None
    input: dict[str, Any] | None = None
    messages: list[dict[str, Any]] | None = None
    config: RunConfig = Field(default_factory=RunConfig)
    output_schema: dict[str, Any] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    model: str | None = None
    offline: bool = False
    result: Any = None
    result_type: str | None = None
    usage: Usage = Field(default_factory=Usage)
    iterations: int = 0
    error: RunError | None = None
    last_seq: int = 0
    cached_workflow: dict[str, Any] | None = None  # the tool-call steps the run replays, if any
    executor_id: str | None = None  # the worker that executes (or executed) the run
    attempt: int = 0  # how many times a worker claimed the run
    sandbox_id: str | None = None  # the sandbox the run's commands execute in, if any
    pending_actions: list[PendingAction] = Field(default_factory=list)  # requires_action: what it waits for
    action_deadline: datetime | None = None  # requires_action: when the wait times out
    resumes: int = 0  # how many times it resumed after waiting for a person
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        """True once the run is completed, failed, cancelled or timed out: it never changes again."""
        return self.status in TERMINAL_STATUSES

    @property
    def is_waiting(self) -> bool:
        """True while the run waits for a person (``requires_action``): answer its ``pending_actions``."""
        return self.status == "requires_action"

    @property
    def unanswered(self) -> list[PendingAction]:
        """The pending calls nobody answered yet."""
        return [p for p in self.pending_actions if p.answer is None] if self.is_waiting else []


class Event(_Model):
    run_id: str
    seq: int
    type: str
    role: str | None = None
    content: str | None = None
    data: dict[str, Any] | None = None
    level: str = "info"
    created_at: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        """True for run.completed / run.failed / run.cancelled / run.timed_out: the last event of a run."""
        return self.type in TERMINAL_EVENT_TYPES


class Thread(_Model):
    id: str
    project_id: str | None = None
    agent_id: str | None = None
    title: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    active_run_id: str | None = None
    run_count: int = 0


class ThreadMessage(_Model):
    run_id: str | None = None
    role: str
    content: str = ""
    created_at: datetime | None = None


class ThreadDetail(Thread):
    messages: list[ThreadMessage] = Field(default_factory=list)


T = TypeVar("T")


class Page(_Model, Generic[T]):
    """One cursor page; pass ``next_cursor`` back as ``cursor``; ``None`` at the end."""

    data: list[T]
    next_cursor: str | None = None


class EventsPage(_Model):
    data: list[Event]
    next_after: int = 0
    run_status: str | None = None
