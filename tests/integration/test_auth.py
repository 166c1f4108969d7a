"""API keys: required when configured, both header forms, hashed, revocable, project-scoped."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"auth_mode": "required"}


async def _key(api, project: str = "default", admin: bool = False) -> str:  # type: ignore[no-untyped-def]
    return (await api.services.keys.create(project, "test", admin)).key


async def test_missing_and_bad_keys_are_refused(api) -> None:  # type: ignore[no-untyped-def]
    for headers in ({}, {"Authorization": "Bearer ar_nope"}, {"X-API-Key": "ar_nope"}):
        resp = await api.client.get("/v1/agents", headers=headers)
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "unauthorized"
        assert resp.headers["www-authenticate"] == "Bearer"
    assert (await api.client.get("/healthz")).status_code == 200  # probes need no key


async def test_bearer_and_x_api_key_both_work(api) -> None:  # type: ignore[no-untyped-def]
    key = await _key(api)
    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
        resp = await api.client.get("/v1/agents/demo", headers=headers)
        assert resp.status_code == 200, resp.text


async def test_key_is_stored_hashed_and_shown_once(api) -> None:  # type: ignore[no-untyped-def]
    admin = await _key(api, admin=True)
    created = await api.client.post(
        "/v1/admin/keys", json={"project": "acme", "name": "ci"}, headers={"X-API-Key": admin}
    )
    assert created.status_code == 201
    secret = created.json()["key"]
    listed = (await api.client.get("/v1/admin/keys", headers={"X-API-Key": admin})).json()
    assert all("key" not in k for k in listed)
    assert any(k["id"] == created.json()["id"] and k["project_id"] == "acme" for k in listed)
    async with api.services.store.engine.connect() as conn:
        stored = (await conn.execute(sa.text("SELECT key_hash FROM api_keys"))).scalars().all()
    assert secret not in stored
    assert hashlib.sha256(secret.encode()).hexdigest() in stored


async def test_revoked_key_stops_working(api) -> None:  # type: ignore[no-untyped-def]
    admin = await _key(api, admin=True)
    created = (
        await api.client.post("/v1/admin/keys", json={"project": "acme"}, headers={"X-API-Key": admin})
    ).json()
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert (await api.client.get("/v1/runs", headers=headers)).status_code == 200
    revoked = await api.client.delete(f"/v1/admin/keys/{created['id']}", headers={"X-API-Key": admin})
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert (await api.client.get("/v1/runs", headers=headers)).status_code == 401


async def test_project_key_cannot_mint_admin_or_foreign_keys(api) -> None:  # type: ignore[no-untyped-def]
    key = await _key(api, project="acme")
    for body in ({"project": "other"}, {"project": "acme", "admin": True}):
        resp = await api.client.post("/v1/admin/keys", json=body, headers={"X-API-Key": key})
        assert resp.status_code == 403
        assert resp.json()["error"]["code"] == "forbidden"


async def test_another_projects_ids_answer_404(api) -> None:  # type: ignore[no-untyped-def]
    mine = {"X-API-Key": await _key(api)}
    theirs = {"X-API-Key": await _key(api, project="acme")}
    run = (await api.client.post("/v1/runs", json={"agent": "demo", "prompt": "secret"}, headers=mine)).json()
    assert run["status"] == "completed"
    for path in (f"/v1/runs/{run['id']}", f"/v1/runs/{run['id']}/events", f"/v1/agents/{run['agent_id']}"):
        resp = await api.client.get(path, headers=theirs)
        assert resp.status_code == 404, (path, resp.text)
    listed = (await api.client.get("/v1/runs", headers=theirs)).json()
    assert listed["data"] == []
