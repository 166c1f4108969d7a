"""Who may mint and revoke keys, and thread ids scoped per project (defects found by outside clients).

The key model (docs/configuration.md): only admin keys mint keys; a project key lists its own
project's keys and revokes non-admin keys of its project (itself included), never an admin key.
"""

from __future__ import annotations

import asyncio
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


async def test_thread_ids_are_scoped_per_project(api) -> None:  # type: ignore[no-untyped-def]
    mine = _h((await _key(api, "alpha")).key)
    theirs = _h((await _key(api, "beta")).key)
    for headers in (mine, theirs):
        resp = await api.client.put(
            "/v1/agents/helper", json={"slug": "helper", "model": "test"}, headers=headers
        )
        assert resp.status_code in (200, 201), resp.text
    thread_id = f"shared-{uuid.uuid4().hex[:8]}"
    first = await api.client.post(
        "/v1/run",
        json={"agent": "helper", "prompt": "alpha secret", "threadId": thread_id, "stream": False},
        headers=mine,
    )
    assert first.status_code == 200, first.text
    # Another project with the same id: not 409, it gets a thread of its own under that id.
    other = await api.client.post(
        "/v1/run",
        json={"agent": "helper", "prompt": "beta says hi", "threadId": thread_id, "stream": False},
        headers=theirs,
    )
    assert other.status_code == 200, other.text
    assert other.json()["data"]["threadId"] == thread_id
    assert "alpha secret" not in other.text
    # Each project sees only its own thread and runs under that id.
    for headers, prompt in ((mine, "alpha secret"), (theirs, "beta says hi")):
        detail = await api.client.get(f"/v1/threads/{thread_id}", headers=headers)
        assert detail.status_code == 200, detail.text
        assert [m["content"] for m in detail.json()["messages"] if m["role"] == "user"] == [prompt]
        assert detail.json()["run_count"] == 1
        runs = (await api.client.get(f"/v1/runs?thread_id={thread_id}", headers=headers)).json()["data"]
        assert [r["prompt"] for r in runs] == [prompt]
    # The native create continues the caller's own thread only.
    cont = await api.client.post(
        "/v1/runs", json={"agent": "helper", "prompt": "again", "thread_id": thread_id}, headers=theirs
    )
    assert cont.status_code == 200, cont.text
    assert (await api.client.get(f"/v1/threads/{thread_id}", headers=mine)).json()["run_count"] == 1
    # Deleting one project's thread leaves the other's.
    assert (await api.client.delete(f"/v1/threads/{thread_id}", headers=theirs)).status_code == 204
    assert (await api.client.get(f"/v1/threads/{thread_id}", headers=theirs)).status_code == 404
    assert (await api.client.get(f"/v1/threads/{thread_id}", headers=mine)).status_code == 200


async def test_unknown_thread_id_on_native_runs_is_404_whoever_has_it(api) -> None:  # type: ignore[no-untyped-def]
    mine = _h((await _key(api, "gamma")).key)
    theirs = _h((await _key(api, "delta")).key)
    thread = (await api.client.post("/v1/threads", json={}, headers=mine)).json()
    agent = await api.client.post("/v1/agents", json={"slug": "delta-agent", "model": "test"}, headers=theirs)
    assert agent.status_code == 201, agent.text
    taken = await api.client.post(
        "/v1/runs", json={"agent": "delta-agent", "prompt": "hi", "thread_id": thread["id"]}, headers=theirs
    )
    never = await api.client.post(
        "/v1/runs",
        json={"agent": "delta-agent", "prompt": "hi", "thread_id": "thr_never_used"},
        headers=theirs,
    )
    assert taken.status_code == never.status_code == 404
    assert taken.json()["error"]["code"] == never.json()["error"]["code"] == "thread_not_found"


async def test_thread_list_reports_run_count_and_active_run(api) -> None:  # type: ignore[no-untyped-def]
    headers = _h((await _key(api, "lister")).key)
    agent = (
        await api.client.post(
            "/v1/agents", json={"slug": "sleepy", "model": "test:sleep-3000"}, headers=headers
        )
    ).json()
    thread = (await api.client.post("/v1/threads", json={"agent": agent["id"]}, headers=headers)).json()
    run = (
        await api.client.post(
            "/v1/runs",
            json={"agent": agent["id"], "prompt": "slow", "thread_id": thread["id"], "mode": "async"},
            headers=headers,
        )
    ).json()
    try:
        listed = (await api.client.get("/v1/threads", headers=headers)).json()["data"]
        [row] = [t for t in listed if t["id"] == thread["id"]]
        assert row["run_count"] == 1
        assert row["active_run_id"] == run["id"]
        detail = (await api.client.get(f"/v1/threads/{thread['id']}", headers=headers)).json()
        assert detail["run_count"] == row["run_count"] and detail["active_run_id"] == row["active_run_id"]
    finally:
        await api.client.post(f"/v1/runs/{run['id']}/cancel", headers=headers)
        for _ in range(600):  # a loaded machine may take a while to stop it
            if (await api.client.get(f"/v1/runs/{run['id']}", headers=headers)).json()[
                "status"
            ] == "cancelled":
                break
            await asyncio.sleep(0.05)
    listed = (await api.client.get("/v1/threads", headers=headers)).json()["data"]
    [row] = [t for t in listed if t["id"] == thread["id"]]
    assert row["run_count"] == 1 and row["active_run_id"] is None
