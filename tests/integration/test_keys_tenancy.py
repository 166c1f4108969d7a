"""Who may mint and revoke keys, and thread ids scoped per project (defects found by outside clients).

The key model (docs/configuration.md): only admin keys mint keys; a project key lists its own
project's keys and revokes non-admin keys of its project (itself included), never an admin key.
"""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"auth_mode": "required"}


async def _key(api, project: str = "default", admin: bool = False):  # type: ignore[no-untyped-def]
    return await api.services.keys.create(project, f"test-{uuid.uuid4().hex[:6]}", admin)


def _h(secret: str) -> dict[str, str]:
    return {"X-API-Key": secret}


async def test_project_key_cannot_revoke_its_projects_admin_key(api) -> None:  # type: ignore[no-untyped-def]
    admin = await _key(api, admin=True)
    member = await _key(api)
    resp = await api.client.delete(f"/v1/admin/keys/{admin.id}", headers=_h(member.key))
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["code"] == "forbidden"
    # the admin key still works
    assert (await api.client.get("/v1/admin/keys", headers=_h(admin.key))).status_code == 200


async def test_project_key_revokes_project_keys_and_itself_only(api) -> None:  # type: ignore[no-untyped-def]
    member, other = await _key(api, "acme"), await _key(api, "acme")
    foreign = await _key(api, "elsewhere")
    # another project's key does not exist for it
    resp = await api.client.delete(f"/v1/admin/keys/{foreign.id}", headers=_h(member.key))
    assert resp.status_code == 404, resp.text
    # a non-admin key of its own project: yes
    resp = await api.client.delete(f"/v1/admin/keys/{other.id}", headers=_h(member.key))
    assert resp.status_code == 200 and resp.json()["revoked_at"] is not None
    assert (await api.client.get("/v1/runs", headers=_h(other.key))).status_code == 401
    # listing shows its project's keys only
    listed = (await api.client.get("/v1/admin/keys", headers=_h(member.key))).json()
    assert {k["project_id"] for k in listed} == {"acme"}
    # itself: yes, and then it stops working
    resp = await api.client.delete(f"/v1/admin/keys/{member.id}", headers=_h(member.key))
    assert resp.status_code == 200
    assert (await api.client.get("/v1/runs", headers=_h(member.key))).status_code == 401


async def test_nothing_a_project_key_minted_outlives_its_revocation(api) -> None:  # type: ignore[no-untyped-def]
    admin = await _key(api, admin=True)
    member = await _key(api, "acme")
    minted = await api.client.post(
        "/v1/admin/keys", json={"project": "acme", "name": "child"}, headers=_h(member.key)
    )
    # Only admin keys mint keys: a leaked project key cannot leave a working key behind.
    assert minted.status_code == 403, minted.text
    assert minted.json()["error"]["code"] == "forbidden"
    revoked = await api.client.delete(f"/v1/admin/keys/{member.id}", headers=_h(admin.key))
    assert revoked.status_code == 200
    keys = (await api.client.get("/v1/admin/keys", headers=_h(admin.key))).json()
    active_acme = [k for k in keys if k["project_id"] == "acme" and k["revoked_at"] is None]
    assert active_acme == []
    # An admin key still mints keys for any project.
    created = await api.client.post(
        "/v1/admin/keys", json={"project": "acme", "name": "ci"}, headers=_h(admin.key)
    )
    assert created.status_code == 201
    assert (await api.client.get("/v1/runs", headers=_h(created.json()["key"]))).status_code == 200
