"""Agents and their immutable, numbered revisions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agentrun.domain.errors import AgentrunError, ErrorCode, not_found
from agentrun.domain.models import Agent, AgentDefinition, Page, Revision
from agentrun.store.common import aware, decode_cursor, encode_cursor, new_id, now, whole
from agentrun.store.tables import AgentRow, ProjectRow, RevisionRow, table_of

agents_t = table_of(AgentRow)
revisions_t = table_of(RevisionRow)
projects_t = table_of(ProjectRow)


def _agent(row: Any, definition: dict[str, Any]) -> Agent:
    return Agent(
        id=row.id,
        slug=row.slug,
        name=row.name,
        description=row.description,
        project_id=row.project_id,
        archived=row.archived,
        latest_revision=row.latest_revision,
        published_revision=row.published_revision,
        max_concurrency=row.max_concurrency,
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
        definition=AgentDefinition.model_validate(definition),
    )


def _revision(row: Any, published: int | None) -> Revision:
    return Revision(
        id=row.id,
        agent_id=row.agent_id,
        number=row.number,
        definition=AgentDefinition.model_validate(row.definition),
        published=row.number == published,
        created_at=aware(row.created_at),
    )


def agent_id_of_uuid(ref: str) -> str | None:
    """``agt_<hex>`` for an agent id written as a UUID (the form seed 000 documents), else None."""
    if len(ref) not in (32, 36):
        return None
    try:
        return f"agt_{uuid.UUID(ref).hex}"
    except ValueError:
        return None


@dataclass(frozen=True)
class AgentRef:
    """What starting a run needs of an agent: two queries instead of the full Agent's five."""

    id: str
    slug: str
    archived: bool
    published_revision: int | None
    latest_revision: int


class AgentRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @whole
    async def ensure_project(self, project_id: str, name: str) -> None:
        async with self._engine.begin() as conn:
            found = await conn.scalar(sa.select(projects_t.c.id).where(projects_t.c.id == project_id))
            if found is None:
                try:
                    await conn.execute(
                        sa.insert(projects_t).values(id=project_id, name=name, created_at=now())
                    )
                except IntegrityError:
                    pass  # another process created it first

    async def _row(self, conn: AsyncConnection, project_id: str, ref: str) -> Any:
        """The agent named by ``ref``: its id (``agt_<32 hex>``), the same id as a UUID
        (``0190...-...``, any case, or 32 bare hex digits), or its slug. Every surface resolves
        agent references here. A slug that happens to look like a UUID still finds its agent;
        an id match wins."""
        if ref.startswith("agt_"):
            cond = agents_t.c.id == ref
        else:
            as_id = agent_id_of_uuid(ref)
            cond = (
                agents_t.c.slug == ref
                if as_id is None
                else sa.or_(agents_t.c.id == as_id, agents_t.c.slug == ref)
            )
        rows = (
            await conn.execute(sa.select(agents_t).where(cond, agents_t.c.project_id == project_id))
        ).all()
        if not rows:
            raise not_found("agent", ref)
        return min(rows, key=lambda row: row.slug == ref)  # the id match first

    async def _definition(self, conn: AsyncConnection, agent_id: str, number: int) -> dict[str, Any]:
        definition = await conn.scalar(
            sa.select(revisions_t.c.definition).where(
                revisions_t.c.agent_id == agent_id, revisions_t.c.number == number
            )
        )
        return cast(dict[str, Any], definition)

    @whole
    async def create(
        self,
        project_id: str,
        slug: str,
        name: str,
        description: str,
        definition: AgentDefinition,
        publish: bool,
        max_concurrency: int | None = None,
    ) -> Agent:
        ts = now()
        agent_id = new_id("agt")
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    sa.insert(agents_t).values(
                        id=agent_id,
                        project_id=project_id,
                        slug=slug,
                        name=name,
                        description=description,
                        archived=False,
                        latest_revision=1,
                        published_revision=1 if publish else None,
                        max_concurrency=max_concurrency,
                        created_at=ts,
                        updated_at=ts,
                    )
                )
                await conn.execute(
                    sa.insert(revisions_t).values(
                        id=new_id("rev"),
                        agent_id=agent_id,
                        number=1,
                        definition=definition.model_dump(mode="json"),
                        created_at=ts,
                    )
                )
        except IntegrityError as exc:
            raise AgentrunError(
                ErrorCode.slug_taken,
                f"An agent with slug {slug!r} already exists; update it or pick another slug.",
                {"slug": slug},
            ) from exc
        return await self.get(project_id, agent_id)

    async def get(self, project_id: str, ref: str) -> Agent:
        async with self._engine.connect() as conn:
            row = await self._row(conn, project_id, ref)
            return _agent(row, await self._definition(conn, row.id, row.latest_revision))

    async def list(
        self, project_id: str, cursor: str | None, limit: int, include_archived: bool
    ) -> Page[Agent]:
        after = decode_cursor(cursor)
        query = sa.select(agents_t).where(agents_t.c.project_id == project_id)
        if not include_archived:
            query = query.where(agents_t.c.archived.is_(False))
        if after:
            query = query.where(agents_t.c.id > after)
        query = query.order_by(agents_t.c.id).limit(limit + 1)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            page = rows[:limit]
            defs = {}
            if page:
                q = sa.select(revisions_t.c.agent_id, revisions_t.c.number, revisions_t.c.definition).where(
                    revisions_t.c.agent_id.in_([r.id for r in page])
                )
                for r in (await conn.execute(q)).all():
                    defs[(r.agent_id, r.number)] = r.definition
        data = [_agent(r, defs[(r.id, r.latest_revision)]) for r in page]
        return Page[Agent](data=data, next_cursor=encode_cursor(page[-1].id) if len(rows) > limit else None)

    @whole
    async def update(
        self,
        project_id: str,
        ref: str,
        fields: dict[str, Any],
        definition: AgentDefinition | None,
        publish: bool,
    ) -> Agent:
        """Apply name/description and, when ``definition`` differs from the latest, add a revision."""
        async with self._engine.begin() as conn:
            row = await self._row(conn, project_id, ref)
            values: dict[str, Any] = dict(fields)
            number = row.latest_revision
            if definition is not None:
                latest = AgentDefinition.model_validate(await self._definition(conn, row.id, number))
                if latest != definition:
                    number += 1
                    await conn.execute(
                        sa.insert(revisions_t).values(
                            id=new_id("rev"),
                            agent_id=row.id,
                            number=number,
                            definition=definition.model_dump(mode="json"),
                            created_at=now(),
                        )
                    )
                    values["latest_revision"] = number
            if publish:
                values["published_revision"] = number
            if values:
                values["updated_at"] = now()
                await conn.execute(sa.update(agents_t).where(agents_t.c.id == row.id).values(**values))
            row_id = row.id
        return await self.get(project_id, row_id)

    @whole
    async def archive(self, project_id: str, ref: str) -> Agent:
        async with self._engine.begin() as conn:
            row = await self._row(conn, project_id, ref)
            await conn.execute(
                sa.update(agents_t).where(agents_t.c.id == row.id).values(archived=True, updated_at=now())
            )
        return await self.get(project_id, row.id)

    async def revisions(self, project_id: str, ref: str, cursor: str | None, limit: int) -> Page[Revision]:
        after = decode_cursor(cursor)
        async with self._engine.connect() as conn:
            agent = await self._row(conn, project_id, ref)
            query = sa.select(revisions_t).where(revisions_t.c.agent_id == agent.id)
            if after:
                query = query.where(revisions_t.c.id > after)
            rows = (await conn.execute(query.order_by(revisions_t.c.id).limit(limit + 1))).all()
        page = rows[:limit]
        return Page[Revision](
            data=[_revision(r, agent.published_revision) for r in page],
            next_cursor=encode_cursor(page[-1].id) if len(rows) > limit else None,
        )

    async def revision(self, project_id: str, ref: str, number: int) -> tuple[Agent, Revision]:
        async with self._engine.connect() as conn:
            agent_row = await self._row(conn, project_id, ref)
            row = (
                await conn.execute(
                    sa.select(revisions_t).where(
                        revisions_t.c.agent_id == agent_row.id, revisions_t.c.number == number
                    )
                )
            ).first()
            if row is None:
                raise AgentrunError(
                    ErrorCode.revision_not_found,
                    f"Agent {agent_row.slug!r} has no revision {number}; it has 1..{agent_row.latest_revision}.",
                    {"agent": agent_row.slug, "revision": number, "latest": agent_row.latest_revision},
                )
            latest = await self._definition(conn, agent_row.id, agent_row.latest_revision)
        return _agent(agent_row, latest), _revision(row, agent_row.published_revision)

    async def ref(self, project_id: str, ref: str) -> AgentRef:
        async with self._engine.connect() as conn:
            row = await self._row(conn, project_id, ref)
        return AgentRef(row.id, row.slug, row.archived, row.published_revision, row.latest_revision)

    async def definition(self, agent_id: str, number: int) -> AgentDefinition:
        """A revision's definition (immutable, so callers may cache it)."""
        async with self._engine.connect() as conn:
            value = await self._definition(conn, agent_id, number)
        if value is None:
            raise not_found("revision", f"{agent_id}/{number}")
        return AgentDefinition.model_validate(value)

    @whole
    async def publish(self, project_id: str, ref: str, number: int) -> Revision:
        agent, _ = await self.revision(project_id, ref, number)
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(agents_t)
                .where(agents_t.c.id == agent.id)
                .values(published_revision=number, updated_at=now())
            )
        _, revision = await self.revision(project_id, agent.id, number)
        return revision
