"""Agents and revisions through the native API: create, list, update, apply, publish, archive."""

from __future__ import annotations

import pytest

from tests.support.native_api import all_pages, assert_error, create_agent, run_sync, shared_api, unique

pytestmark = pytest.mark.asyncio(loop_scope="module")
api = shared_api()


async def test_create_returns_201_with_published_revision_1(api) -> None:  # type: ignore[no-untyped-def]
    slug = unique("create")
    resp = await api.client.post(
        "/v1/agents",
        json={
            "slug": slug,
            "name": "Creator",
            "model": "test",
            "instructions": "be brief",
            "description": "d",
        },
    )
    assert resp.status_code == 201, resp.text
    agent = resp.json()
    assert agent["id"].startswith("agt_")
    assert agent["slug"] == slug and agent["name"] == "Creator" and agent["description"] == "d"
    assert agent["latest_revision"] == 1 and agent["published_revision"] == 1
    assert agent["archived"] is False
    assert agent["definition"]["instructions"] == "be brief"


async def test_name_defaults_to_slug(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    assert agent["name"] == agent["slug"]


async def test_duplicate_slug_is_409_slug_taken(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    resp = await api.client.post("/v1/agents", json={"slug": agent["slug"], "model": "test"})
    error = assert_error(resp, 409, "slug_taken")
    assert agent["slug"] in error["message"]


async def test_invalid_slug_is_422(api) -> None:  # type: ignore[no-untyped-def]
    resp = await api.client.post("/v1/agents", json={"slug": "Not A Slug", "model": "test"})
    error = assert_error(resp, 422, "validation_error")
    assert "slug" in error["message"]


async def test_list_follows_cursor_pages_without_duplicates(api) -> None:  # type: ignore[no-untyped-def]
    created = {(await create_agent(api.client, slug=unique(f"list{i}")))["id"] for i in range(7)}
    pages = await all_pages(api.client, "/v1/agents", limit=3)
    ids = [a["id"] for page in pages for a in page]
    assert len(ids) == len(set(ids)), "an agent appeared on two pages"
    assert created <= set(ids)
    everything = (await api.client.get("/v1/agents", params={"limit": 200})).json()
    assert everything["next_cursor"] is None
    assert ids == [a["id"] for a in everything["data"]], "paging must yield the same agents in the same order"
    assert all(len(page) == 3 for page in pages[:-1]) and 1 <= len(pages[-1]) <= 3


async def test_get_by_id_and_by_slug(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, instructions="x")
    by_id = await api.client.get(f"/v1/agents/{agent['id']}")
    by_slug = await api.client.get(f"/v1/agents/{agent['slug']}")
    assert by_id.status_code == by_slug.status_code == 200
    assert by_id.json() == by_slug.json() == agent


async def test_patch_definition_creates_revision_name_only_does_not(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, instructions="v1")
    slug = agent["slug"]

    renamed = await api.client.patch(
        f"/v1/agents/{slug}", json={"name": "Renamed", "description": "new desc"}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Renamed" and renamed.json()["description"] == "new desc"
    assert renamed.json()["latest_revision"] == 1

    changed = await api.client.patch(f"/v1/agents/{slug}", json={"instructions": "v2"})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["latest_revision"] == 2
    assert body["published_revision"] == 1, "a PATCH without publish must not publish"
    assert body["definition"]["instructions"] == "v2"
    assert body["name"] == "Renamed"

    same = await api.client.patch(f"/v1/agents/{slug}", json={"instructions": "v2"})
    assert same.json()["latest_revision"] == 2, "an unchanged definition must not add a revision"

    published = await api.client.patch(f"/v1/agents/{slug}", json={"instructions": "v3", "publish": True})
    assert published.json()["latest_revision"] == 3 and published.json()["published_revision"] == 3


async def test_put_apply_creates_updates_and_is_a_noop_when_unchanged(api) -> None:  # type: ignore[no-untyped-def]
    slug = unique("apply")
    body = {"slug": slug, "model": "test", "instructions": "one"}
    created = await api.client.put(f"/v1/agents/{slug}", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["latest_revision"] == 1

    again = await api.client.put(f"/v1/agents/{slug}", json=body)
    assert again.status_code == 200, again.text
    assert again.json()["latest_revision"] == 1
    assert again.json()["id"] == created.json()["id"]

    updated = await api.client.put(f"/v1/agents/{slug}", json={**body, "instructions": "two"})
    assert updated.status_code == 200
    assert updated.json()["latest_revision"] == 2 and updated.json()["published_revision"] == 2
    assert updated.json()["definition"]["instructions"] == "two"

    revisions = (await api.client.get(f"/v1/agents/{slug}/revisions")).json()["data"]
    assert [r["number"] for r in revisions] == [1, 2]


async def test_put_with_other_slug_in_body_is_422(api) -> None:  # type: ignore[no-untyped-def]
    resp = await api.client.put("/v1/agents/path-slug", json={"slug": "body-slug", "model": "test"})
    assert_error(resp, 422, "validation_error")
    assert_error(await api.client.get("/v1/agents/path-slug"), 404, "agent_not_found")


async def test_revisions_list_pages_get_and_publish(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, instructions="r1")
    slug = agent["slug"]
    for text in ("r2", "r3"):
        assert (await api.client.patch(f"/v1/agents/{slug}", json={"instructions": text})).status_code == 200

    pages = await all_pages(api.client, f"/v1/agents/{slug}/revisions", limit=2)
    revisions = [r for page in pages for r in page]
    assert [r["number"] for r in revisions] == [1, 2, 3]
    assert [r["definition"]["instructions"] for r in revisions] == ["r1", "r2", "r3"]
    assert [r["published"] for r in revisions] == [True, False, False]

    second = await api.client.get(f"/v1/agents/{slug}/revisions/2")
    assert second.status_code == 200
    assert second.json()["number"] == 2 and second.json()["published"] is False
    assert second.json()["agent_id"] == agent["id"]

    published = await api.client.post(f"/v1/agents/{slug}/revisions/2/publish")
    assert published.status_code == 200, published.text
    assert published.json()["number"] == 2 and published.json()["published"] is True
    refreshed = (await api.client.get(f"/v1/agents/{slug}")).json()
    assert refreshed["published_revision"] == 2 and refreshed["latest_revision"] == 3
    first = (await api.client.get(f"/v1/agents/{slug}/revisions/1")).json()
    assert first["published"] is False

    assert_error(await api.client.get(f"/v1/agents/{slug}/revisions/9"), 404, "revision_not_found")
    assert_error(await api.client.post(f"/v1/agents/{slug}/revisions/9/publish"), 404, "revision_not_found")


async def test_runs_use_the_published_revision_unless_one_is_named(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, model="test")
    slug = agent["slug"]
    changed = await api.client.patch(f"/v1/agents/{slug}", json={"model": "test:echo"})
    assert changed.json()["latest_revision"] == 2

    default = await run_sync(api.client, slug)
    assert default["revision"] == 1 and default["model"] == "test"

    named = await run_sync(api.client, slug, revision=2)
    assert named["revision"] == 2 and named["model"] == "test:echo"
    assert named["status"] == "completed"

    await api.client.post(f"/v1/agents/{slug}/revisions/2/publish")
    after_publish = await run_sync(api.client, slug)
    assert after_publish["revision"] == 2 and after_publish["model"] == "test:echo"

    missing = await api.client.post("/v1/runs", json={"agent": slug, "prompt": "x", "revision": 7})
    assert_error(missing, 404, "revision_not_found")


async def test_run_without_published_revision_is_409_with_a_clear_message(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, publish=False)
    assert agent["published_revision"] is None
    resp = await api.client.post("/v1/runs", json={"agent": agent["slug"], "prompt": "hi"})
    error = assert_error(resp, 409, "no_published_revision")
    assert agent["slug"] in error["message"]
    assert "publish" in error["message"].lower() and "revision" in error["message"]

    named = await run_sync(api.client, agent["slug"], revision=1)
    assert named["status"] == "completed" and named["revision"] == 1
    runs = (await api.client.get("/v1/runs", params={"agent": agent["slug"]})).json()["data"]
    assert [r["id"] for r in runs] == [named["id"]], "the refused run must not have been created"


async def test_archive_refuses_new_runs_and_hides_from_list(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    before = await run_sync(api.client, agent["slug"])
    assert before["status"] == "completed"

    archived = await api.client.post(f"/v1/agents/{agent['slug']}/archive")
    assert archived.status_code == 200, archived.text
    assert archived.json()["archived"] is True

    resp = await api.client.post("/v1/runs", json={"agent": agent["slug"], "prompt": "again"})
    error = assert_error(resp, 409, "agent_archived")
    assert agent["slug"] in error["message"]
    by_id = await api.client.post("/v1/runs", json={"agent": agent["id"], "prompt": "again", "mode": "async"})
    assert_error(by_id, 409, "agent_archived")

    listed = {a["id"] for a in (await api.client.get("/v1/agents")).json()["data"]}
    assert agent["id"] not in listed
    with_archived = await api.client.get("/v1/agents", params={"include_archived": "true"})
    assert agent["id"] in {a["id"] for a in with_archived.json()["data"]}
    assert (await api.client.get(f"/v1/runs/{before['id']}")).json()["status"] == "completed"
