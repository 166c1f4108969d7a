"""Response schemas of the vendor-document surfaces (001-004), for the OpenAPI document.

The compat routers build their bodies as plain dicts in each document's own shape; these models
say what those bodies are, so every compat operation has a 2xx schema. They forbid unknown
fields: the compat tests validate real responses against them, so a field added to a body and
not here (or the reverse) fails a test instead of drifting from the published document.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentrun.domain.models import RunError, Usage


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- 001: task API ------------------------------------------------------------------------------


class TaskAction(_Shape):
    name: str
    params: dict[str, Any]
    is_done: bool
    success: bool | None
    extracted_content: str | None
    error: str | None
    include_in_memory: bool


class TaskStep(_Shape):
    description: str
    actions: list[TaskAction]


class WorkflowStep(_Shape):
    name: str | None
    params: dict[str, Any]
    success: bool


class CachedWorkflowOut(_Shape):
    version: int
    steps: list[WorkflowStep]


class WorkflowReplay(_Shape):
    requested: bool
    steps: int
    state: str | None = Field(None, description="`pending` or `not replayed` until the run reports a replay.")
    replayed_steps: int | None = None
    used_model: bool | None = None
    fell_back_to_model_at_step: int | None = None


class TaskResponse(_Shape):
    task_id: int = Field(description="A stable 53-bit integer id of the run.")
    task_run_id: int
    history: list[TaskStep]
    result: Any = Field(description="The run's result once it succeeded: text, or JSON with a json_schema.")
    is_done: bool
    is_successful: bool | None
    status: Literal["success", "failure", "in_progress"]
    run_id: str = Field(description="agentrun addition: the native run id.")
    model: str
    offline: bool
    error: str | None
    cached_workflow: CachedWorkflowOut | None = Field(
        description="The run's tool-call sequence, to pass back with use_cached_workflow."
    )
    cached_workflow_replay: WorkflowReplay | None = Field(
        None, description="Present when the run was given a cached workflow."
    )


# --- 002: versioned agents ----------------------------------------------------------------------


class Source(_Shape):
    url: str


class ResultData(_Shape):
    type: Literal["text", "json"]
    sources: list[Source]
    text: str | None = None
    json_: Any = Field(None, alias="json")


class VersionedUsage(_Shape):
    inputTokens: int
    outputTokens: int
    requests: int
    toolCalls: int


class VersionedRun(_Shape):
    id: str
    agentId: str
    agentSlug: str
    revisionId: str
    revisionNumber: int
    status: str = Field(description="pending, running, done or error (docs/compat/002-versioned-agents.md).")
    input: Any
    resultData: ResultData | None
    error: RunError | None
    usage: VersionedUsage
    model: str
    offline: bool
    createdAt: str | None
    startedAt: str | None
    completedAt: str | None


class VersionedRunPage(_Shape):
    data: list[VersionedRun]
    nextCursor: str | None


class VersionedEvent(_Shape):
    id: str
    runId: str
    seq: int
    type: str = Field(description="planning, reasoning, tool_call, message, log or status.")
    content: str | None
    data: dict[str, Any]
    level: str
    createdAt: str | None


class VersionedEvents(_Shape):
    data: list[VersionedEvent]
    runStatus: str


# --- 003: ACP runtime runs ----------------------------------------------------------------------


class AcpThread(_Shape):
    id: str
    serverId: str
    title: str | None
    status: Literal["active", "idle"]
    metadata: dict[str, Any]
    runCount: int
    activeRunId: str | None
    createdAt: str | None
    updatedAt: str | None


class AcpRun(_Shape):
    id: str
    serverId: str
    threadId: str | None
    title: str | None
    input: str | None
    output: str | None
    mode: str
    status: str = Field(
        description="queued, running, awaiting, completed, failed or cancelled (docs/compat/003-acp.md)."
    )
    error: str | None
    metadata: dict[str, Any]
    createdAt: str | None
    completedAt: str | None
    sessionProtocol: str
    threadBacked: bool
    threadStatus: Literal["active", "idle"] | None
    threadTitle: str | None
    agentId: str
    model: str
    offline: bool
    usage: Usage = Field(description="The native run's usage.")


class AcpEvent(_Shape):
    id: str
    role: str
    content: str
    logType: str
    logLevel: str
    createdAt: str | None
    seq: int
    data: dict[str, Any] | None


class AcpRunResponse(_Shape):
    serverId: str
    run: AcpRun
    thread: AcpThread | None
    events: list[AcpEvent] = Field(description="The run's events so far, without token deltas.")


# --- 004: /v1/run with threads ------------------------------------------------------------------


class RunTokens(_Shape):
    inputTokens: int
    outputTokens: int


class RunData(_Shape):
    runId: str
    sandboxId: str | None
    executionMode: Literal["in_sandbox", "managed"]
    status: str = Field(
        description="registered, dispatched, completed, failed, cancelled or timed_out "
        "(docs/compat/004-run-threads.md)."
    )
    result: str | None
    usage: RunTokens
    iterations: int
    threadId: str | None
    agent: str
    model: str
    offline: bool
    error: RunError | None


class RunEnvelope(_Shape):
    data: RunData


class RunThread(_Shape):
    id: str
    agent: str
    agentId: str | None
    title: str | None
    metadata: dict[str, Any]
    runCount: int
    activeRunId: str | None
    createdAt: str | None
    updatedAt: str | None


class RunThreadPage(_Shape):
    data: list[RunThread]
    nextCursor: str | None


class ThreadMessageOut(_Shape):
    role: str
    content: str
    runId: str | None
    createdAt: str | None


class RunThreadDetail(RunThread):
    messages: list[ThreadMessageOut]


class RunThreadEnvelope(_Shape):
    data: RunThreadDetail


class Deleted(_Shape):
    id: str
    deleted: bool


class DeletedEnvelope(_Shape):
    data: Deleted
