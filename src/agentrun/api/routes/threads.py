"""/v1/threads: conversations."""

from __future__ import annotations

from fastapi import APIRouter, Response

from agentrun.api.deps import CursorDep, LimitDep, ProjectDep, ServicesDep
from agentrun.domain.models import Page, Thread, ThreadCreate, ThreadDetail

router = APIRouter(prefix="/v1/threads", tags=["threads"])


@router.post("", status_code=201, operation_id="create_thread")
async def create_thread(body: ThreadCreate, services: ServicesDep, project: ProjectDep) -> Thread:
    return await services.threads.create(project, body)


@router.get("", operation_id="list_threads")
async def list_threads(
    services: ServicesDep,
    project: ProjectDep,
    limit: LimitDep,
    cursor: CursorDep = None,
    agent: str | None = None,
) -> Page[Thread]:
    return await services.threads.list(project, agent, cursor, limit)


@router.get("/{thread_id}", operation_id="get_thread")
async def get_thread(thread_id: str, services: ServicesDep, project: ProjectDep) -> ThreadDetail:
    return await services.threads.get(project, thread_id)


@router.delete("/{thread_id}", status_code=204, operation_id="delete_thread")
async def delete_thread(thread_id: str, services: ServicesDep, project: ProjectDep) -> Response:
    await services.threads.delete(project, thread_id)
    return Response(status_code=204)
