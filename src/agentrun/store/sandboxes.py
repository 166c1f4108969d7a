"""Sandboxes: their rows and the archive of each workspace (the files follow it to any worker)."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.models import Page, Sandbox
from agentrun.store.common import aware, decode_cursor, encode_cursor, new_id, now, whole
from agentrun.store.tables import SandboxRow, table_of

sandboxes_t = table_of(SandboxRow)
_PUBLIC = [c for c in sandboxes_t.c if c.name != "archive"]


@dataclass(frozen=True)
class Archive:
    version: int
    data: bytes | None  # None: the workspace is empty (never written)


def _sandbox(row: Any) -> Sandbox:
    return Sandbox(
        id=row.id,
        project_id=row.project_id,
        thread_id=row.thread_id,
        size_bytes=row.size_bytes,
        file_count=row.file_count,
        version=row.version,
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
        last_used_at=aware(row.last_used_at),
    )


def sandbox_not_found(sandbox_id: str) -> AgentrunError:
    return AgentrunError(
        ErrorCode.sandbox_not_found, f"No sandbox {sandbox_id!r} in this project.", {"sandbox_id": sandbox_id}
    )


class SandboxRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @whole
    async def create(self, project_id: str, thread_id: str | None) -> Sandbox:
        """A new empty sandbox; for a thread that already has one, that one (one per thread)."""
        stamp = now()
        values = {
            "id": new_id("sbx"),
            "project_id": project_id,
            "thread_id": thread_id,
            "version": 0,
            "size_bytes": 0,
            "archive_bytes": 0,
            "file_count": 0,
            "archive": None,
            "created_at": stamp,
            "updated_at": stamp,
            "last_used_at": stamp,
        }
        try:
            async with self._engine.begin() as conn:
                await conn.execute(sandboxes_t.insert().values(**values))
        except IntegrityError:
            if thread_id is None:
                raise
            existing = await self.for_thread(project_id, thread_id)
            if existing is None:
                raise
            return existing
        return _sandbox(_Values(values))

    async def get(self, project_id: str, sandbox_id: str) -> Sandbox:
        found = await self._one(sandboxes_t.c.id == sandbox_id, sandboxes_t.c.project_id == project_id)
        if found is None:
            raise sandbox_not_found(sandbox_id)
        return found

    async def for_thread(self, project_id: str, thread_id: str) -> Sandbox | None:
        return await self._one(sandboxes_t.c.project_id == project_id, sandboxes_t.c.thread_id == thread_id)

    async def _one(self, *where: Any) -> Sandbox | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(*_PUBLIC).where(*where))).first()
        return _sandbox(row) if row is not None else None

    async def list(self, project_id: str, cursor: str | None, limit: int) -> Page[Sandbox]:
        before = decode_cursor(cursor)
        query = sa.select(*_PUBLIC).where(sandboxes_t.c.project_id == project_id)
        if before:
            query = query.where(sandboxes_t.c.id < before)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(sandboxes_t.c.id.desc()).limit(limit + 1))).all()
        page = rows[:limit]
        return Page[Sandbox](
            data=[_sandbox(r) for r in page],
            next_cursor=encode_cursor(page[-1].id) if len(rows) > limit else None,
        )

    async def load(self, sandbox_id: str) -> Archive:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(sandboxes_t.c.version, sandboxes_t.c.archive).where(
                        sandboxes_t.c.id == sandbox_id
                    )
                )
            ).first()
        if row is None:
            raise sandbox_not_found(sandbox_id)
        return Archive(row.version, row.archive)

    async def version(self, sandbox_id: str) -> int:
        async with self._engine.connect() as conn:
            found = await conn.scalar(sa.select(sandboxes_t.c.version).where(sandboxes_t.c.id == sandbox_id))
        if found is None:
            raise sandbox_not_found(sandbox_id)
        return int(found)

    @whole
    async def save(
        self, sandbox_id: str, archive: bytes, size_bytes: int, file_count: int, project_cap_bytes: int
    ) -> int:
        """Store a new archive of the workspace; returns the new version.

        Raises ``sandbox_too_large`` when the project's sandboxes would then hold more than
        ``project_cap_bytes`` (nothing is written then).
        """
        async with self._engine.begin() as conn:
            project_id = await conn.scalar(
                sa.select(sandboxes_t.c.project_id).where(sandboxes_t.c.id == sandbox_id)
            )
            if project_id is None:
                raise sandbox_not_found(sandbox_id)
            others = await conn.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(sandboxes_t.c.size_bytes), 0)).where(
                    sandboxes_t.c.project_id == project_id, sandboxes_t.c.id != sandbox_id
                )
            )
            others = int(others or 0)
            if others + size_bytes > project_cap_bytes:
                raise AgentrunError(
                    ErrorCode.sandbox_too_large,
                    f"The project's sandboxes would hold {others + size_bytes} bytes; the limit is "
                    f"{project_cap_bytes} (sandbox.max_project_mb). Delete files or sandboxes.",
                    {"limit_bytes": project_cap_bytes},
                )
            stamp = now()
            version = await conn.scalar(
                sandboxes_t.update()
                .where(sandboxes_t.c.id == sandbox_id)
                .values(
                    archive=archive,
                    archive_bytes=len(archive),
                    size_bytes=size_bytes,
                    file_count=file_count,
                    version=sandboxes_t.c.version + 1,
                    updated_at=stamp,
                    last_used_at=stamp,
                )
                .returning(sandboxes_t.c.version)
            )
        return int(version)

    @whole
    async def bind_thread(self, sandbox_id: str, thread_id: str) -> bool:
        """Give an unbound sandbox to a thread; False when the thread has one already."""
        try:
            async with self._engine.begin() as conn:
                updated = await conn.execute(
                    sandboxes_t.update()
                    .where(sandboxes_t.c.id == sandbox_id, sandboxes_t.c.thread_id.is_(None))
                    .values(thread_id=thread_id)
                )
        except IntegrityError:
            return False
        return bool(updated.rowcount)

    @whole
    async def touch(self, sandbox_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                sandboxes_t.update().where(sandboxes_t.c.id == sandbox_id).values(last_used_at=now())
            )

    @whole
    async def delete(self, project_id: str, sandbox_id: str) -> None:
        async with self._engine.begin() as conn:
            deleted = await conn.execute(
                sandboxes_t.delete().where(
                    sandboxes_t.c.id == sandbox_id, sandboxes_t.c.project_id == project_id
                )
            )
        if deleted.rowcount == 0:
            raise sandbox_not_found(sandbox_id)

    async def existing(self, sandbox_ids: builtins.list[str]) -> set[str]:
        """Which of these ids are still sandboxes."""
        found: set[str] = set()
        async with self._engine.connect() as conn:
            for start in range(0, len(sandbox_ids), 500):
                chunk = sandbox_ids[start : start + 500]
                rows = await conn.execute(sa.select(sandboxes_t.c.id).where(sandboxes_t.c.id.in_(chunk)))
                found.update(rows.scalars())
        return found

    @whole
    async def delete_unused_before(self, cutoff: datetime) -> builtins.list[str]:  # `list` is a method here
        """Retention: delete sandboxes nobody used since ``cutoff``; returns their ids."""
        async with self._engine.begin() as conn:
            ids = (
                (await conn.execute(sa.select(sandboxes_t.c.id).where(sandboxes_t.c.last_used_at < cutoff)))
                .scalars()
                .all()
            )
            if ids:
                await conn.execute(sandboxes_t.delete().where(sandboxes_t.c.id.in_(ids)))
        return list(ids)


class _Values:
    """Attribute access over a dict of inserted values (the row as written)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
