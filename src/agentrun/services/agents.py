"""Agents and revisions: create, apply, update, publish, and pick the revision a run uses."""

from __future__ import annotations

from agentrun.domain import json_schema
from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.models import (
    Agent,
    AgentCreate,
    AgentDefinition,
    AgentUpdate,
    Page,
    Revision,
)
from agentrun.services.tool_policy import ToolPolicy
from agentrun.store.agents import AgentRef
from agentrun.store.store import Store

_DEFINITION_FIELDS = set(AgentDefinition.model_fields)


def _definition_of(body: AgentCreate) -> AgentDefinition:
    return AgentDefinition.model_validate(body.model_dump(include=_DEFINITION_FIELDS))


class AgentService:
    def __init__(self, store: Store, tools: ToolPolicy) -> None:
        self._store = store
        self.tools = tools  # the run service asks it too: whether a definition needs a sandbox

    def _checked(self, definition: AgentDefinition) -> AgentDefinition:
        self.tools.check(definition)
        json_schema.check_schema(definition.input_schema, "input_schema")
        json_schema.check_schema(definition.output_schema, "output_schema")
        return definition

    async def create(self, project_id: str, body: AgentCreate) -> Agent:
        return await self._store.agents.create(
            project_id,
            body.slug,
            body.name or body.slug,
            body.description,
            self._checked(_definition_of(body)),
            body.publish,
            body.max_concurrency,
        )

    async def apply(self, project_id: str, slug: str, body: AgentCreate) -> tuple[Agent, bool]:
        """Create the agent, or update it so its latest revision is ``body`` (a no-op when equal)."""
        if body.slug != slug:
            raise AgentrunError(
                ErrorCode.validation_error,
                f"The body's slug {body.slug!r} differs from the path's {slug!r}.",
                {"path": slug, "body": body.slug},
            )
        try:
            existing = await self._store.agents.get(project_id, slug)
        except AgentrunError as exc:
            if exc.code is not ErrorCode.agent_not_found:
                raise
            return await self.create(project_id, body), True
        # Only what the body sets: an unchanged file must not undo a PATCH of the other fields.
        fields = body.model_dump(include={"name", "description", "max_concurrency"} & body.model_fields_set)
        if fields.get("name", "") is None:
            fields["name"] = existing.name
        agent = await self._store.agents.update(
            project_id, existing.id, fields, self._checked(_definition_of(body)), body.publish
        )
        return agent, False

    async def get(self, project_id: str, ref: str) -> Agent:
        return await self._store.agents.get(project_id, ref)

    async def list(
        self, project_id: str, cursor: str | None, limit: int, include_archived: bool
    ) -> Page[Agent]:
        return await self._store.agents.list(project_id, cursor, limit, include_archived)

    async def update(self, project_id: str, ref: str, body: AgentUpdate) -> Agent:
        current = await self._store.agents.get(project_id, ref)
        changes = body.model_dump(exclude_unset=True, include=_DEFINITION_FIELDS)
        definition = None
        if changes:
            merged = current.definition.model_dump()
            merged.update(changes)
            definition = self._checked(AgentDefinition.model_validate(merged))
        fields = body.model_dump(exclude_unset=True, include={"name", "description", "max_concurrency"})
        return await self._store.agents.update(project_id, current.id, fields, definition, body.publish)

    async def archive(self, project_id: str, ref: str) -> Agent:
        return await self._store.agents.archive(project_id, ref)

    async def revisions(self, project_id: str, ref: str, cursor: str | None, limit: int) -> Page[Revision]:
        return await self._store.agents.revisions(project_id, ref, cursor, limit)

    async def revision(self, project_id: str, ref: str, number: int) -> Revision:
        return (await self._store.agents.revision(project_id, ref, number))[1]

    async def publish(self, project_id: str, ref: str, number: int) -> Revision:
        return await self._store.agents.publish(project_id, ref, number)

    async def for_run(
        self, project_id: str, ref: str, number: int | None
    ) -> tuple[AgentRef, int, AgentDefinition]:
        """The agent, revision number and definition a new run executes: the named revision,
        else the published one."""
        agent = await self._store.agents.ref(project_id, ref)
        if agent.archived:
            raise AgentrunError(
                ErrorCode.agent_archived,
                f"Agent {agent.slug!r} is archived and takes no new runs.",
                {"agent": agent.slug},
            )
        if number is None:
            if agent.published_revision is None:
                raise AgentrunError(
                    ErrorCode.no_published_revision,
                    f"Agent {agent.slug!r} has no published revision. Publish one "
                    f"(POST /v1/agents/{agent.slug}/revisions/{{n}}/publish) or name a `revision` in the run.",
                    {"agent": agent.slug, "latest_revision": agent.latest_revision},
                )
            number = agent.published_revision
        elif not 1 <= number <= agent.latest_revision:
            raise AgentrunError(
                ErrorCode.revision_not_found,
                f"Agent {agent.slug!r} has no revision {number}; it has 1..{agent.latest_revision}.",
                {"agent": agent.slug, "revision": number, "latest": agent.latest_revision},
            )
        definition = await self._store.agents.definition(agent.id, number)
        self.tools.check_trust(definition)
        return agent, number, definition
