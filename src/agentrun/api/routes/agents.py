"""/v1/agents: agents and their revisions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from agentrun.api.deps import CursorDep, LimitDep, ProjectDep, ServicesDep
from agentrun.domain.models import DB_INT_MAX, Agent, AgentCreate, AgentUpdate, Page, Revision

router = APIRouter(prefix="/v1/agents", tags=["agents"])
AgentRef = Path(description="Agent id (agt_...) or slug.")
RevisionNumber = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="Revision number.")]


@router.post("", status_code=201, operation_id="create_agent")
async def create_agent(body: AgentCreate, services: ServicesDep, project: ProjectDep) -> Agent:
    return await services.agents.create(project, body)


@router.put("/{slug}", operation_id="apply_agent", responses={201: {"model": Agent}})
async def apply_agent(
    slug: str, body: AgentCreate, services: ServicesDep, project: ProjectDep, response: Response
) -> Agent:
    """Create the agent or bring it to this definition (a new revision only when it changed)."""
    agent, created = await services.agents.apply(project, slug, body)
    response.status_code = 201 if created else 200
    return agent


@router.get("", operation_id="list_agents")
async def list_agents(
    services: ServicesDep,
    project: ProjectDep,
    limit: LimitDep,
    cursor: CursorDep = None,
    include_archived: bool = False,
) -> Page[Agent]:
    return await services.agents.list(project, cursor, limit, include_archived)


@router.get("/{agent}", operation_id="get_agent")
async def get_agent(agent: str, services: ServicesDep, project: ProjectDep) -> Agent:
    return await services.agents.get(project, agent)


@router.patch("/{agent}", operation_id="update_agent")
async def update_agent(agent: str, body: AgentUpdate, services: ServicesDep, project: ProjectDep) -> Agent:
    return await services.agents.update(project, agent, body)


@router.post("/{agent}/archive", operation_id="archive_agent")
async def archive_agent(agent: str, services: ServicesDep, project: ProjectDep) -> Agent:
    return await services.agents.archive(project, agent)


@router.get("/{agent}/revisions", operation_id="list_revisions")
async def list_revisions(
    agent: str, services: ServicesDep, project: ProjectDep, limit: LimitDep, cursor: CursorDep = None
) -> Page[Revision]:
    return await services.agents.revisions(project, agent, cursor, limit)


@router.get("/{agent}/revisions/{number}", operation_id="get_revision")
async def get_revision(
    agent: str, number: RevisionNumber, services: ServicesDep, project: ProjectDep
) -> Revision:
    return await services.agents.revision(project, agent, number)


@router.post("/{agent}/revisions/{number}/publish", operation_id="publish_revision")
async def publish_revision(
    agent: str, number: RevisionNumber, services: ServicesDep, project: ProjectDep
) -> Revision:
    return await services.agents.publish(project, agent, number)
