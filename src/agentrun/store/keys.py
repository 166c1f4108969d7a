"""API keys (hashed) and the projects they belong to."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from agentrun.domain.errors import not_found
from agentrun.domain.models import ApiKey
from agentrun.store.common import aware, new_id, now, whole
from agentrun.store.tables import ApiKeyRow, ProjectRow, table_of

keys_t = table_of(ApiKeyRow)
projects_t = table_of(ProjectRow)


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        prefix=row.prefix,
        admin=row.admin,
        created_at=aware(row.created_at),
        revoked_at=aware(row.revoked_at),
    )


class KeyRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @whole
    async def create(self, project_id: str, name: str, key_hash: str, prefix: str, admin: bool) -> ApiKey:
        key_id = new_id("key")
        async with self._engine.begin() as conn:
            if await conn.scalar(sa.select(projects_t.c.id).where(projects_t.c.id == project_id)) is None:
                await conn.execute(
                    sa.insert(projects_t).values(id=project_id, name=project_id, created_at=now())
                )
            await conn.execute(
                sa.insert(keys_t).values(
                    id=key_id,
                    project_id=project_id,
                    name=name,
                    key_hash=key_hash,
                    prefix=prefix,
                    admin=admin,
                    created_at=now(),
                )
            )
            row = (await conn.execute(sa.select(keys_t).where(keys_t.c.id == key_id))).one()
        return _key(row)

    async def by_hash(self, key_hash: str) -> ApiKey | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(keys_t).where(keys_t.c.key_hash == key_hash))).first()
        return _key(row) if row is not None else None

    async def list(self, project_id: str | None) -> list[ApiKey]:
        query = sa.select(keys_t).order_by(keys_t.c.id)
        if project_id is not None:
            query = query.where(keys_t.c.project_id == project_id)
        async with self._engine.connect() as conn:
            return [_key(r) for r in (await conn.execute(query)).all()]

    async def get(self, key_id: str, project_id: str | None) -> ApiKey:
        select = sa.select(keys_t).where(keys_t.c.id == key_id)
        if project_id is not None:
            select = select.where(keys_t.c.project_id == project_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(select)).first()
        if row is None:
            raise not_found("key", key_id)
        return _key(row)

    @whole
    async def revoke(self, key_id: str, project_id: str | None, admin: bool | None = None) -> ApiKey:
        """Revoke the key (of ``project_id``, and only if its ``admin`` flag is that, when given)."""
        async with self._engine.begin() as conn:
            query = sa.update(keys_t).where(keys_t.c.id == key_id, keys_t.c.revoked_at.is_(None))
            if project_id is not None:
                query = query.where(keys_t.c.project_id == project_id)
            if admin is not None:
                query = query.where(keys_t.c.admin.is_(admin))
            await conn.execute(query.values(revoked_at=now()))
            select = sa.select(keys_t).where(keys_t.c.id == key_id)
            if project_id is not None:
                select = select.where(keys_t.c.project_id == project_id)
            row = (await conn.execute(select)).first()
        if row is None:
            raise not_found("key", key_id)
        return _key(row)

    async def count_active(self) -> int:
        async with self._engine.connect() as conn:
            return int(
                await conn.scalar(
                    sa.select(sa.func.count()).select_from(keys_t).where(keys_t.c.revoked_at.is_(None))
                )
                or 0
            )
