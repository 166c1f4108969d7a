"""``/readyz`` answers 503 when this node cannot serve: its database schema is not the one its
code needs (a node of another version migrated it, or a migration was rolled back)."""

from __future__ import annotations

import sqlalchemy as sa


async def _set_schema_version(api, version: str) -> str:  # type: ignore[no-untyped-def]
    async with api.services.store.engine.begin() as conn:
        before = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar_one()
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": version})
    return str(before)


async def test_readyz_is_503_while_the_schema_is_not_this_code_s(api) -> None:  # type: ignore[no-untyped-def]
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"

    head = await _set_schema_version(api, "0001")
    try:
        behind = await api.client.get("/readyz")
        assert behind.status_code == 503
        # Keyless on loopback the caller is the operator: the reason is in the body.
        assert behind.json() == {"status": "unavailable", "migrations": {"current": "0001", "head": head}}
        assert (await api.client.get("/healthz")).status_code == 200  # alive, just not ready
    finally:
        await _set_schema_version(api, head)
    assert (await api.client.get("/readyz")).status_code == 200
