"""Threads: create, read as a conversation, list, delete."""

from __future__ import annotations

import json

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.models import Page, Run, Thread, ThreadCreate, ThreadDetail, ThreadMessage
from agentrun.domain.status import RunStatus
from agentrun.services.agents import AgentService
from agentrun.store.store import Store


def _user_text(run: Run) -> str | None:
    if run.prompt is not None:
        return run.prompt
    if run.input is not None:
        return json.dumps(run.input, sort_keys=True)
    if run.messages:
        return run.messages[-1].content
    return None


def conversation(runs: list[Run]) -> list[ThreadMessage]:
    """The thread as people read it: each run's user turn, then its answer once it has one."""
    messages: list[ThreadMessage] = []
    for run in runs:
        text = _user_text(run)
        if text is not None:
            messages.append(
                ThreadMessage(run_id=run.id, role="user", content=text, created_at=run.created_at)
            )
        if run.status is RunStatus.completed and run.result is not None:
            answer = run.result if isinstance(run.result, str) else json.dumps(run.result, sort_keys=True)
            messages.append(
                ThreadMessage(
                    run_id=run.id,
                    role="assistant",
                    content=answer,
                    created_at=run.finished_at or run.created_at,
                )
            )
    return messages


class ThreadService:
    def __init__(self, store: Store, agents: AgentService) -> None:
        self._store = store
        self._agents = agents

    async def create(self, project_id: str, body: ThreadCreate) -> Thread:
        agent_id = (await self._agents.get(project_id, body.agent)).id if body.agent else None
        return await self._store.threads.create(project_id, agent_id, body.title, body.metadata)

    async def get(self, project_id: str, thread_id: str) -> ThreadDetail:
        thread = await self._store.threads.get(project_id, thread_id)
        runs = [run for run, _ in await self._store.runs.thread_runs(project_id, thread_id)]
        return ThreadDetail(**thread.model_dump(), messages=conversation(runs))

    async def list(self, project_id: str, agent: str | None, cursor: str | None, limit: int) -> Page[Thread]:
        agent_id = (await self._agents.get(project_id, agent)).id if agent else None
        return await self._store.threads.list(project_id, agent_id, cursor, limit)

    async def delete(self, project_id: str, thread_id: str) -> None:
        await self._store.threads.get(project_id, thread_id)
        unfinished = await self._store.runs.active_on_thread(project_id, thread_id)
        if unfinished:
            raise AgentrunError(
                ErrorCode.thread_busy,
                f"Thread {thread_id} has {len(unfinished)} unfinished run(s); cancel them or wait, then delete.",
                {"thread_id": thread_id, "run_ids": [r.id for r in unfinished]},
            )
        await self._store.threads.delete(project_id, thread_id)
