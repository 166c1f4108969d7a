"""Databases for integration tests: a fresh SQLite dir, or a fresh PostgreSQL database.

PostgreSQL is at ``AGENTRUN_TEST_PG_URL`` (default: the local server CI starts). Each use gets
its own database, dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("AGENTRUN_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def pg_available() -> bool:
    try:
        engine = sa.create_engine(_psycopg(PG_ADMIN_URL))
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def _psycopg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """Yield the plain ``postgresql://`` URL of a new, empty database."""
    name = f"agentrun_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(_psycopg(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@contextmanager
def backend_env(kind: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment variables that point agentrun at a fresh database of ``kind``."""
    env = {"AGENTRUN_DATA_DIR": str(tmp_path / "data")}
    if kind == "sqlite":
        yield env
        return
    with fresh_postgres() as url:
        yield {**env, "AGENTRUN_DATABASE_URL": url}
