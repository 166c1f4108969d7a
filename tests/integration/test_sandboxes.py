"""/v1/sandboxes: create, upload before a run, download after, list, delete; project-scoped; capped."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"auth_mode": "required", "sandbox": {"max_project_mb": 1, "max_workspace_mb": 1}}


async def _key(api, project: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"X-API-Key": (await api.services.keys.create(project, "k", False)).key}


async def test_upload_list_download_delete(api) -> None:  # type: ignore[no-untyped-def]
    acme = await _key(api, "acme")
    box = (await api.client.post("/v1/sandboxes", json={}, headers=acme)).json()
    assert box["size_bytes"] == 0 and box["file_count"] == 0 and box["thread_id"] is None

    put = await api.client.put(
        f"/v1/sandboxes/{box['id']}/files/src/app.py", content=b"print('hi')\n", headers=acme
    )
    assert put.status_code == 200, put.text
    assert put.json()["file_count"] == 1 and put.json()["version"] == 1

    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("data/a.txt", "alpha")
        archive.writestr("data/b.txt", "beta")
    added = await api.client.post(
        f"/v1/sandboxes/{box['id']}/archive", content=zipped.getvalue(), headers=acme
    )
    assert added.status_code == 200, added.text
    assert added.json()["file_count"] == 3

    files = (await api.client.get(f"/v1/sandboxes/{box['id']}/files", headers=acme)).json()
    assert {f["path"] for f in files if f["type"] == "file"} == {"src/app.py", "data/a.txt", "data/b.txt"}
    got = await api.client.get(f"/v1/sandboxes/{box['id']}/files/data/b.txt", headers=acme)
    assert got.status_code == 200 and got.content == b"beta"

    whole = await api.client.get(f"/v1/sandboxes/{box['id']}/archive", headers=acme)
    with tarfile.open(fileobj=io.BytesIO(whole.content), mode="r:gz") as tar:
        assert {m.name.lstrip("./") for m in tar.getmembers() if m.isfile()} == {
            "src/app.py",
            "data/a.txt",
            "data/b.txt",
        }

    listed = (await api.client.get("/v1/sandboxes", headers=acme)).json()["data"]
    assert [s["id"] for s in listed] == [box["id"]]
    assert (await api.client.delete(f"/v1/sandboxes/{box['id']}", headers=acme)).status_code == 204
    assert (await api.client.get(f"/v1/sandboxes/{box['id']}", headers=acme)).status_code == 404


async def test_another_project_gets_404_everywhere(api) -> None:  # type: ignore[no-untyped-def]
    acme, other = await _key(api, "acme"), await _key(api, "other")
    box = (await api.client.post("/v1/sandboxes", json={}, headers=acme)).json()
    await api.client.put(f"/v1/sandboxes/{box['id']}/files/secret.txt", content=b"acme only", headers=acme)
    for method, path in [
        ("GET", ""),
        ("GET", "/files"),
        ("GET", "/files/secret.txt"),
        ("GET", "/archive"),
        ("PUT", "/files/x.txt"),
        ("DELETE", ""),
    ]:
        resp = await api.client.request(
            method, f"/v1/sandboxes/{box['id']}{path}", headers=other, content=b"x"
        )
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "sandbox_not_found", (method, path)
    assert (await api.client.get("/v1/sandboxes", headers=other)).json()["data"] == []
    agent = {"slug": "boxed", "model": "test", "sandbox": {}}
    assert (await api.client.post("/v1/agents", json=agent, headers=other)).status_code == 201
    run = await api.client.post(
        "/v1/runs", json={"agent": "boxed", "prompt": "x", "sandbox_id": box["id"]}, headers=other
    )
    assert run.status_code == 404 and run.json()["error"]["code"] == "sandbox_not_found"


@pytest.mark.parametrize("path", ["../escape.txt", "/etc/passwd", "a/../../b"])
async def test_paths_cannot_leave_the_workspace(api, path) -> None:  # type: ignore[no-untyped-def]
    acme = await _key(api, "acme")
    box = (await api.client.post("/v1/sandboxes", json={}, headers=acme)).json()
    resp = await api.client.put(f"/v1/sandboxes/{box['id']}/files/{path}", content=b"x", headers=acme)
    assert resp.status_code in (404, 422), resp.text  # never written, never a 500
    assert (await api.client.get(f"/v1/sandboxes/{box['id']}", headers=acme)).json()["file_count"] == 0


async def test_archives_that_escape_are_refused(api) -> None:  # type: ignore[no-untyped-def]
    acme = await _key(api, "acme")
    box = (await api.client.post("/v1/sandboxes", json={}, headers=acme)).json()
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tar:
        info = tarfile.TarInfo("../../outside.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    resp = await api.client.post(f"/v1/sandboxes/{box['id']}/archive", content=evil.getvalue(), headers=acme)
    assert 400 <= resp.status_code < 500, resp.text
    garbage = await api.client.post(
        f"/v1/sandboxes/{box['id']}/archive", content=b"not an archive", headers=acme
    )
    assert 400 <= garbage.status_code < 500, garbage.text


async def test_size_caps_refuse_without_losing_files(api) -> None:  # type: ignore[no-untyped-def]
    acme = await _key(api, "acme")
    box = (await api.client.post("/v1/sandboxes", json={}, headers=acme)).json()
    ok = await api.client.put(f"/v1/sandboxes/{box['id']}/files/keep.txt", content=b"k" * 1000, headers=acme)
    assert ok.status_code == 200
    big = await api.client.put(
        f"/v1/sandboxes/{box['id']}/files/big.bin", content=b"x" * (1_100_000), headers=acme
    )
    assert big.status_code == 413 and big.json()["error"]["code"] == "sandbox_too_large", big.text
    after = await api.client.get(f"/v1/sandboxes/{box['id']}/files", headers=acme)
    assert [f["path"] for f in after.json()] == ["keep.txt"]
    second = (await api.client.post("/v1/sandboxes", json={}, headers=acme)).json()
    over = await api.client.put(
        f"/v1/sandboxes/{second['id']}/files/more.bin", content=b"y" * 1_048_000, headers=acme
    )
    assert over.status_code == 413 and "max_project_mb" in over.json()["error"]["message"]


async def test_a_sandbox_bound_to_a_thread_is_used_by_its_runs(api) -> None:  # type: ignore[no-untyped-def]
    acme = await _key(api, "acme")
    thread = (await api.client.post("/v1/threads", json={}, headers=acme)).json()
    box = (await api.client.post("/v1/sandboxes", json={"thread_id": thread["id"]}, headers=acme)).json()
    await api.client.put(f"/v1/sandboxes/{box['id']}/files/hello.txt", content=b"from upload", headers=acme)
    agent = {"slug": "reader", "model": "test", "sandbox": {}}
    assert (await api.client.post("/v1/agents", json=agent, headers=acme)).status_code == 201
    steps = [{"name": "read_file", "params": {"path": "hello.txt"}}]
    run = await api.client.post(
        "/v1/runs",
        json={
            "agent": "reader",
            "prompt": "x",
            "thread_id": thread["id"],
            "cached_workflow": {"steps": steps},
        },
        headers=acme,
    )
    assert run.json()["sandbox_id"] == box["id"], run.text
    events = (await api.client.get(f"/v1/runs/{run.json()['id']}/events", headers=acme)).json()["data"]
    result = next(e for e in events if e["type"] == "tool_result")
    assert result["content"] == "from upload"


async def test_retention_deletes_sandboxes_nobody_used(api) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    import sqlalchemy as sa

    acme = await _key(api, "acme")
    old = (await api.client.post("/v1/sandboxes", json={}, headers=acme)).json()
    fresh = (await api.client.post("/v1/sandboxes", json={}, headers=acme)).json()
    for box in (old, fresh):  # both have a local copy on this process
        await api.client.put(f"/v1/sandboxes/{box['id']}/files/a.txt", content=b"a", headers=acme)
    async with api.services.store.engine.begin() as conn:  # as if unused for a year
        await conn.execute(
            sa.text("UPDATE sandboxes SET last_used_at = :t WHERE id = :id"),
            {"t": datetime(2025, 1, 1, tzinfo=UTC), "id": old["id"]},
        )
    workdir = api.settings.sandbox_workdir
    assert (workdir / old["id"]).exists()
    await api.services.worker.caretaker.apply_retention()  # what the worker's maintenance loop runs
    assert not (workdir / old["id"]).exists() and (workdir / fresh["id"]).exists()
    assert (await api.client.get(f"/v1/sandboxes/{old['id']}", headers=acme)).status_code == 404
    assert (await api.client.get(f"/v1/sandboxes/{fresh['id']}", headers=acme)).status_code == 200
