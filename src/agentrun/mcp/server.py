"""The MCP tool set of seed document 000 over agentrun's services.

Five tools: ``run_agent`` (the documented tool: start a run, return its id at once),
``get_run_status``, ``get_run_logs``, ``list_agents`` and ``cancel_run``. Every call acts for one
project: the transport decides which (the API key's project over HTTP, the configured project
over stdio) through the ``resolve`` callable given to :func:`build_server`.

Failures the caller can fix (an unknown id, a bad parameter, a finished run) come back as tool
errors (``isError: true``) whose text says what is wrong; they never break the protocol.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from agentrun import __version__
from agentrun.domain.errors import AgentrunError
from agentrun.domain.models import (
    ActionAnswer,
    Agent,
    Event,
    PendingAction,
    Run,
    RunActions,
    RunCreate,
    Usage,
)
from agentrun.domain.status import RunStatus
from agentrun.services.container import Services

log = logging.getLogger(__name__)

SERVER_NAME = "agentrun"

# Keys of run_agent's ``params`` and where they go on the native RunCreate (docs/compat/000-mcp.md).
RUN_PARAM_KEYS = (
    "input",
    "config",
    "metadata",
    "revision",
    "output_schema",
    "multitask",
    "durability",
    "webhook_url",
    "idempotency_key",
)
# Config fields a caller may also give at the top of ``params`` (``{"temperature": 0.2}``).
CONFIG_SHORTCUTS = ("max_turns", "max_tokens", "max_total_tokens", "temperature", "timeout_s")
# Where any other ``params`` key is kept: the run's metadata, under this key.
EXTRA_PARAMS_KEY = "params"
AGENT_ID_HELP = (
    'the agent\'s id ("agt_" + 32 hex digits, e.g. agt_0190f3c2a7b84e5d9c1f2a3b4c5d6e7f), the same '
    "id as a UUID (0190f3c2-a7b8-4e5d-9c1f-2a3b4c5d6e7f), or its slug (e.g. demo); see list_agents"
)
THREAD_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
MAX_LOG_EVENTS = 10_000
_EVENTS_PAGE = 500
MAX_AGENTS = 1_000

RUN_AGENT_DESCRIPTION = """Start an asynchronous agent run and return immediately.

Returns an execution_id — use get_run_status to poll for completion or get_run_logs to fetch the full output once done.

Args:
    agent_id: The agent's UUID. (agentrun: the agent's id ("agt_" + 32 hex digits), the same id in
        UUID form (8-4-4-4-12 hex digits), or its slug, e.g. "demo"; see list_agents.)
    prompt: The user message / task for the agent to execute.
    thread_id: Conversation thread UUID for memory continuity across runs. (agentrun: an unknown id
        starts a new thread under that id; runs given the same thread_id continue it, one at a time.)
    params: Optional extra parameters passed to the agent. (agentrun keys: input (JSON object for
        agents with an input schema; then leave prompt empty), config {max_turns, max_tokens
        (output tokens per model request), max_total_tokens (budget of the whole run), temperature,
        timeout_s} (also accepted at the top of params, e.g. {"temperature": 0.2}), metadata,
        revision, output_schema, multitask (enqueue|reject|interrupt), durability (steps|exit),
        webhook_url, idempotency_key. Any other key is kept with the run, in its
        metadata.params.)"""

GET_RUN_STATUS_DESCRIPTION = """Get the status of a run started with run_agent.

Returns status (queued, running, requires_action, cancelling, completed, failed, cancelled,
timed_out), done (true once the status is final), the result when completed, the error when it
failed, and token usage. In requires_action the run waits for a person: pending_actions lists
each call it waits for (id, tool, args, kind approval|question, question, answer_schema);
answer them with answer_run.

Args:
    execution_id: The execution_id returned by run_agent."""

GET_RUN_LOGS_DESCRIPTION = """Get the full, ordered event log and the output of a run started with run_agent.

Events (seq 1, 2, 3...) include the model's messages, tool calls and results, logs, usage and the
final status event. Call it once the run is done for the complete output; earlier calls return the
events so far.

Args:
    execution_id: The execution_id returned by run_agent."""

LIST_AGENTS_DESCRIPTION = """List the agents that run_agent can start: id, slug, name, description, model and input schema.

An id is "agt_" + 32 hex digits; run_agent's agent_id takes it, the same id as a UUID, or the slug."""

ANSWER_RUN_DESCRIPTION = """Answer a run that waits for a person (status requires_action).

Each action: {"call_id": <a pending_actions id>, "decision": "approve" | "deny" | "answer",
"args": {...} (approve: run the tool with these arguments instead), "reason": "..." (deny: what
the model is told), "answer": <any JSON> (answer: checked against the question's
answer_schema)}. Approvals take approve or deny; questions take answer or deny. The run resumes
once every pending call is answered; the same answer again changes nothing.

Args:
    execution_id: The execution_id returned by run_agent.
    actions: One or more answers."""

CANCEL_RUN_DESCRIPTION = """Cancel a queued or running run started with run_agent.

Returns the run's status afterwards: cancelled, or cancelling while the agent stops. A run that
already finished cannot be cancelled (tool error).

Args:
    execution_id: The execution_id returned by run_agent."""


@dataclass(frozen=True)
class Caller:
    """Who a tool call acts for: the services of this process and the caller's project."""

    services: Services
    project_id: str


# The transport supplies the caller of a tool call (from the request's API key, or fixed).
Resolve = Callable[[Context], Caller]


# --- tool outputs -------------------------------------------------------------------------------


class RunStarted(BaseModel):
    execution_id: str = Field(description="Pass to get_run_status, get_run_logs or cancel_run.")
    status: RunStatus
    agent_id: str
    agent_slug: str
    revision: int
    thread_id: str | None
    created_at: datetime


class RunStatusResult(BaseModel):
    execution_id: str
    status: RunStatus
    done: bool = Field(description="True once the status is final (completed, failed, cancelled, timed_out).")
    result: Any = Field(
        None, description="The run's result (text, or JSON with an output schema) once completed."
    )
    result_type: str | None = None
    error: dict[str, Any] | None = Field(
        None, description="{code, message, details} when the run did not complete."
    )
    usage: Usage
    iterations: int = Field(description="Model requests made so far.")
    pending_actions: list[PendingAction] = Field(
        default_factory=list,
        description="requires_action: the calls the run waits for (answer with answer_run).",
    )
    action_deadline: datetime | None = Field(None, description="requires_action: when the wait times out.")
    agent_id: str
    agent_slug: str
    revision: int
    thread_id: str | None
    model: str
    offline: bool = Field(description="True when the offline test model answered, not a real provider.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class LogEvent(BaseModel):
    seq: int
    type: str
    role: str | None = None
    content: str | None = None
    data: dict[str, Any] | None = None
    level: str
    created_at: datetime


class RunLogs(BaseModel):
    execution_id: str
    status: RunStatus
    done: bool
    output: Any = Field(None, description="The run's result once completed (same as get_run_status).")
    error: dict[str, Any] | None = None
    events: list[LogEvent]
    truncated: bool = Field(
        description=f"True when the log has more than {MAX_LOG_EVENTS} events; read the rest with "
        "GET /v1/runs/{execution_id}/events?after=<last seq>."
    )


class AgentSummary(BaseModel):
    id: str
    slug: str
    name: str
    description: str
    model: str
    published_revision: int | None
    latest_revision: int
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None


class AgentList(BaseModel):
    agents: list[AgentSummary]


# --- mapping ------------------------------------------------------------------------------------


def _status_of(run: Run) -> RunStatusResult:
    return RunStatusResult(
        execution_id=run.id,
        status=run.status,
        done=run.status.terminal,
        result=run.result,
        result_type=run.result_type,
        error=run.error.model_dump() if run.error else None,
        usage=run.usage,
        iterations=run.iterations,
        pending_actions=run.pending_actions if run.status is RunStatus.requires_action else [],
        action_deadline=run.action_deadline,
        agent_id=run.agent_id,
        agent_slug=run.agent_slug,
        revision=run.revision,
        thread_id=run.thread_id,
        model=run.model,
        offline=run.offline,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


def _log_event(event: Event) -> LogEvent:
    return LogEvent(
        seq=event.seq,
        type=event.type.value,
        role=event.role,
        content=event.content,
        data=event.data,
        level=event.level.value,
        created_at=event.created_at,
    )


def _agent_summary(agent: Agent) -> AgentSummary:
    return AgentSummary(
        id=agent.id,
        slug=agent.slug,
        name=agent.name,
        description=agent.description,
        model=agent.definition.model,
        published_revision=agent.published_revision,
        latest_revision=agent.latest_revision,
        input_schema=agent.definition.input_schema,
        output_schema=agent.definition.output_schema,
    )


def _field_name(loc: tuple[Any, ...]) -> str:
    top = {"agent": "agent_id", "prompt": "prompt", "thread_id": "thread_id"}
    parts = [str(p) for p in loc]
    if not parts:
        return "params"
    if parts[0] in top:
        return ".".join([top[parts[0]], *parts[1:]])
    return ".".join(["params", *parts])


def _describe(exc: ValidationError) -> str:
    messages = []
    for err in exc.errors()[:5]:
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "extra_forbidden":
            messages.append(f"{_field_name(loc)}: unknown field; remove it or check its spelling")
        else:
            messages.append(f"{_field_name(loc)}: {err.get('msg', 'invalid value')}")
    return "; ".join(messages)


def run_request(
    agent_id: str, prompt: str, thread_id: str | None, params: dict[str, Any] | None
) -> tuple[RunCreate, str | None]:
    """The native RunCreate (always async) and idempotency key for a run_agent call."""
    params = dict(params or {})
    # Known config fields at the top level go to the config (an explicit params.config wins);
    # any other key is the caller's to pass along: it is kept in the run's metadata, never refused.
    shortcuts = {k: params.pop(k) for k in CONFIG_SHORTCUTS if k in params}
    extra = {k: params.pop(k) for k in sorted(set(params) - set(RUN_PARAM_KEYS))}
    if shortcuts:
        config = params.get("config")
        params["config"] = {**shortcuts, **config} if isinstance(config, dict) else config or shortcuts
    if extra:
        metadata = params.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise ToolError("params.metadata: must be an object.")
        params["metadata"] = {**(metadata or {}), EXTRA_PARAMS_KEY: extra}
    idempotency_key = params.pop("idempotency_key", None)
    if idempotency_key is not None and (
        not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= 255
    ):
        raise ToolError("params.idempotency_key: must be a string of 1 to 255 characters.")
    if not agent_id.strip():
        raise ToolError(f"agent_id: must not be empty; use {AGENT_ID_HELP}.")
    if thread_id is not None and not THREAD_ID_RE.match(thread_id):
        raise ToolError(
            f"thread_id {thread_id!r}: use 1-64 letters, digits, '.', '_', ':' or '-' (a UUID works)."
        )
    body: dict[str, Any] = {"agent": agent_id, "thread_id": thread_id, "mode": "async", **params}
    if params.get("input") is not None:
        if prompt.strip():
            raise ToolError(
                "Give either prompt or params.input, not both: params.input is the run's whole input; "
                'pass prompt as "" with it.'
            )
    elif not prompt.strip():
        raise ToolError("prompt: must not be empty (or give params.input for an agent with an input schema).")
    else:
        body.pop("input", None)
        body["prompt"] = prompt
    try:
        return RunCreate.model_validate(body), idempotency_key
    except ValidationError as exc:
        raise ToolError(_describe(exc)) from exc


def _fail(exc: AgentrunError) -> ToolError:
    return ToolError(exc.message)


# --- the server ---------------------------------------------------------------------------------


def build_server(
    resolve: Resolve,
    lifespan: Callable[[MCPServer[Any]], AbstractAsyncContextManager[Any]] | None = None,
) -> MCPServer[Any]:
    """The MCP server with agentrun's tools; ``resolve`` maps a tool call to its caller."""
    server: MCPServer[Any] = MCPServer(
        SERVER_NAME,
        version=__version__,
        instructions=(
            "agentrun runs AI agents. Start a run with run_agent (it returns an execution_id at once), "
            "then poll get_run_status until done is true and read the result, or get_run_logs for every "
            "event. list_agents shows what can be run."
        ),
        lifespan=lifespan,
    )

    async def run_agent(
        agent_id: Annotated[str, Field(description=AGENT_ID_HELP[0].upper() + AGENT_ID_HELP[1:] + ".")],
        prompt: Annotated[str, Field(description="The user message / task for the agent to execute.")],
        ctx: Context,
        thread_id: Annotated[
            str | None,
            Field(
                description="Conversation thread id for memory continuity across runs; a new id starts a thread."
            ),
        ] = None,
        params: Annotated[
            dict[str, Any] | None,
            Field(
                description="Optional extra parameters passed to the agent: input, config {max_turns, "
                "max_tokens, max_total_tokens, temperature, timeout_s} (also accepted at the top level), "
                "metadata, revision, output_schema, multitask, durability, webhook_url, idempotency_key; "
                "any other key is kept in the run's metadata.params."
            ),
        ] = None,
    ) -> RunStarted:
        caller = resolve(ctx)
        body, idempotency_key = run_request(agent_id, prompt, thread_id, params)
        run = await _create(caller, body, idempotency_key)
        return RunStarted(
            execution_id=run.id,
            status=run.status,
            agent_id=run.agent_id,
            agent_slug=run.agent_slug,
            revision=run.revision,
            thread_id=run.thread_id,
            created_at=run.created_at,
        )

    async def get_run_status(
        execution_id: Annotated[str, Field(description="The execution_id returned by run_agent.")],
        ctx: Context,
    ) -> RunStatusResult:
        caller = resolve(ctx)
        try:
            run = await caller.services.runs.get(caller.project_id, execution_id)
        except AgentrunError as exc:
            raise _fail(exc) from exc
        return _status_of(run)

    async def get_run_logs(
        execution_id: Annotated[str, Field(description="The execution_id returned by run_agent.")],
        ctx: Context,
    ) -> RunLogs:
        caller = resolve(ctx)
        runs = caller.services.runs
        try:
            events: list[LogEvent] = []
            after = 0
            truncated = False
            while True:
                page = await runs.events(caller.project_id, execution_id, after, _EVENTS_PAGE)
                events.extend(_log_event(e) for e in page.data)
                after = page.next_after
                if len(page.data) < _EVENTS_PAGE:
                    break
                if len(events) >= MAX_LOG_EVENTS:
                    truncated = len(events) > MAX_LOG_EVENTS or bool(
                        (await runs.events(caller.project_id, execution_id, after, 1)).data
                    )
                    break
            run = await runs.get(caller.project_id, execution_id)
        except AgentrunError as exc:
            raise _fail(exc) from exc
        return RunLogs(
            execution_id=run.id,
            status=run.status,
            done=run.status.terminal,
            output=run.result,
            error=run.error.model_dump() if run.error else None,
            events=events[:MAX_LOG_EVENTS],
            truncated=truncated,
        )

    async def list_agents(ctx: Context) -> AgentList:
        caller = resolve(ctx)
        agents = caller.services.agents
        limit = caller.services.settings.limits.max_page_size
        found: list[AgentSummary] = []
        cursor: str | None = None
        while len(found) < MAX_AGENTS:
            page = await agents.list(caller.project_id, cursor, limit, False)
            found.extend(_agent_summary(a) for a in page.data)
            cursor = page.next_cursor
            if cursor is None:
                break
        return AgentList(agents=found[:MAX_AGENTS])

    async def cancel_run(
        execution_id: Annotated[str, Field(description="The execution_id returned by run_agent.")],
        ctx: Context,
    ) -> RunStatusResult:
        caller = resolve(ctx)
        try:
            run = await caller.services.runs.cancel(
                caller.project_id, execution_id, reason="cancelled by request (MCP cancel_run)"
            )
        except AgentrunError as exc:
            raise _fail(exc) from exc
        return _status_of(run)

    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    server.add_tool(
        run_agent,
        description=RUN_AGENT_DESCRIPTION,
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True),
    )
    server.add_tool(get_run_status, description=GET_RUN_STATUS_DESCRIPTION, annotations=read_only)
    server.add_tool(get_run_logs, description=GET_RUN_LOGS_DESCRIPTION, annotations=read_only)
    server.add_tool(list_agents, description=LIST_AGENTS_DESCRIPTION, annotations=read_only)
    server.add_tool(
        _answer_tool(resolve),
        description=ANSWER_RUN_DESCRIPTION,
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True),
    )
    server.add_tool(
        cancel_run,
        description=CANCEL_RUN_DESCRIPTION,
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True),
    )
    return server


def _answer_tool(resolve: Resolve) -> Callable[..., Any]:
    async def answer_run(
        execution_id: Annotated[str, Field(description="The execution_id returned by run_agent.")],
        actions: Annotated[list[ActionAnswer], Field(min_length=1, max_length=100)],
        ctx: Context,
    ) -> RunStatusResult:
        caller = resolve(ctx)
        try:
            run = await caller.services.runs.act(caller.project_id, execution_id, RunActions(actions=actions))
        except AgentrunError as exc:
            raise _fail(exc) from exc
        return _status_of(run)

    return answer_run


async def _create(caller: Caller, body: RunCreate, idempotency_key: str | None) -> Run:
    runs = caller.services.runs
    # Thread ids are scoped per project: an id another project uses is a new thread here.
    try:
        run, _ = await runs.create(caller.project_id, body, idempotency_key, create_thread=True)
    except AgentrunError as exc:
        raise _fail(exc) from exc
    return run
