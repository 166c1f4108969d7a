"""Use cases the compat surfaces (``api/compat/``) need beyond the native services.

Everything here goes through the native services (or the store's public repositories where a
service has no such read); nothing here is specific to HTTP. See docs/compat/ for what each
surface maps to.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sqlalchemy.exc import IntegrityError

from agentrun.domain.errors import AgentrunError, ErrorCode, not_found
from agentrun.domain.models import Agent, AgentCreate, Event, Run, Thread, ToolSpec
from agentrun.services.container import Services
from agentrun.services.task_shape import (  # noqa: F401 - re-exported for the compat routers
    _RAND_BITS,
    MAX_TASK_ID,
    TASK_EPOCH_MS,
    WORKFLOW_VERSION,
    _uuid_int,
    task_id_of,
    workflow_of,
)
from agentrun.store.common import encode_cursor

# --- ad-hoc agents (001: a run names a provider and a model, not an agent) -------------------

ADHOC_PREFIX = "adhoc-"
ADHOC_INSTRUCTIONS = (
    "You are a capable assistant that completes the user's task. Use the tools when they help "
    "(http_get fetches a public web page). Answer with the task's result only."
)
ADHOC_TOOLS = ("http_get", "current_time", "calculator")


def adhoc_slug(provider: str, model: str) -> str:
    """A stable, valid slug per (provider, model); a hash suffix keeps lossy names apart."""
    clean = re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-") or "model"
    base = f"{ADHOC_PREFIX}{provider}-{clean}"
    if clean != model or len(base) > 55:
        digest = hashlib.sha256(f"{provider}:{model}".encode()).hexdigest()[:8]
        base = f"{base[:54].rstrip('-')}-{digest}"
    return base


async def adhoc_agent(services: Services, project_id: str, provider: str, model: str) -> Agent:
    """The project's agent for ``provider:model``, created (published) on first use."""
    slug = adhoc_slug(provider, model)
    try:
        return await services.agents.get(project_id, slug)
    except AgentrunError as exc:
        if exc.code is not ErrorCode.agent_not_found:
            raise
    body = AgentCreate(
        slug=slug,
        name=f"{provider}:{model} (ad-hoc)",
        description="Created by POST /api/runs for runs that name a provider and model, not an agent.",
        model=f"{provider}:{model}",
        instructions=ADHOC_INSTRUCTIONS,
        tools=[ToolSpec(kind="builtin", name=name) for name in ADHOC_TOOLS],
    )
    try:
        agent, _ = await services.agents.apply(project_id, slug, body)
    except AgentrunError as exc:  # a concurrent first use created it
        if exc.code is not ErrorCode.slug_taken:
            raise
        agent = await services.agents.get(project_id, slug)
    return agent


# --- integer task ids (001) -------------------------------------------------------------------


async def run_by_task_id(services: Services, project_id: str, task_id: int) -> Run:
    """The run whose :func:`task_id_of` is ``task_id``: a keyset scan of that millisecond's runs."""
    if task_id < 0 or task_id > MAX_TASK_ID:
        raise not_found("task", str(task_id))
    millis = (task_id >> _RAND_BITS) + TASK_EPOCH_MS
    # Run ids sort by creation time; start just after the task's millisecond and walk back.
    cursor: str | None = encode_cursor(f"run_{(millis + 1) << 80:032x}")
    while cursor is not None:
        page = await services.runs.list(
            project_id, agent=None, status=None, thread_id=None, cursor=cursor, limit=50
        )
        for run in page.data:
            if _uuid_int(run.id) >> 80 < millis:
                raise not_found("task", str(task_id))
            if task_id_of(run.id) == task_id:
                return run
        cursor = page.next_cursor
    raise not_found("task", str(task_id))


# --- events -----------------------------------------------------------------------------------


async def all_events(services: Services, project_id: str, run_id: str) -> list[Event]:
    """Every event of a run, in order."""
    events: list[Event] = []
    after = 0
    page_size = services.settings.limits.max_page_size
    while True:
        page = await services.runs.events(project_id, run_id, after, page_size)
        events.extend(page.data)
        if len(page.data) < page_size:
            return events
        after = page.next_after


# --- cached workflows (001) -------------------------------------------------------------------


def check_workflow(value: dict[str, Any]) -> dict[str, Any]:
    """A cached workflow as given by a client, normalized; ``{}`` is the empty workflow."""

    def bad(message: str) -> AgentrunError:
        return AgentrunError(
            ErrorCode.validation_error, f"cached_workflow: {message}", {"field": "cached_workflow"}
        )

    if not value:
        return {"version": WORKFLOW_VERSION, "steps": []}
    unknown = set(value) - {"version", "steps"}
    if unknown:
        raise bad(f"unknown field(s) {sorted(unknown)}; expected 'version' and 'steps'.")
    if value.get("version", WORKFLOW_VERSION) != WORKFLOW_VERSION:
        raise bad(f"version must be {WORKFLOW_VERSION}.")
    steps = value.get("steps", [])
    if not isinstance(steps, list):
        raise bad("steps must be a list.")
    normalized = []
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or not isinstance(step.get("name"), str) or not step["name"]:
            raise bad(f"steps[{i}] needs a non-empty string 'name'.")
        params = step.get("params", {})
        if not isinstance(params, dict):
            raise bad(f"steps[{i}].params must be an object.")
        normalized.append({"name": step["name"], "params": params})
    return {"version": WORKFLOW_VERSION, "steps": normalized}


# --- threads named by the caller (Agent Protocol: ``POST /lg/threads`` with a ``thread_id``) ---


async def create_thread(
    services: Services, project_id: str, thread_id: str | None, metadata: dict[str, Any]
) -> Thread:
    """A new thread of the project, with the caller's id if given (409 ``conflict`` if taken)."""
    if thread_id is not None and await services.store.threads.find(project_id, thread_id) is not None:
        raise AgentrunError(
            ErrorCode.conflict, f"Thread {thread_id!r} already exists.", {"thread_id": thread_id}
        )
    try:
        return await services.store.threads.create(project_id, None, None, metadata, thread_id=thread_id)
    except IntegrityError:  # created by a concurrent request
        raise AgentrunError(
            ErrorCode.conflict, f"Thread {thread_id!r} already exists.", {"thread_id": thread_id}
        ) from None


# --- revisions (002) --------------------------------------------------------------------------


async def revision_number(services: Services, project_id: str, agent_ref: str, revision: int | str) -> int:
    """A revision named by number (``3``, ``"3"``) or by its id (``"rev_..."``) -> its number."""
    if isinstance(revision, int) or revision.isdigit():
        number = int(revision)
        await services.agents.revision(project_id, agent_ref, number)  # 404 if it does not exist
        return number
    cursor: str | None = None
    while True:
        page = await services.agents.revisions(project_id, agent_ref, cursor, 200)
        for rev in page.data:
            if rev.id == revision:
                return rev.number
        cursor = page.next_cursor
        if cursor is None:
            raise not_found("revision", revision)
