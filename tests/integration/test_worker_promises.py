"""Promises outside clients hold us to: apply keeps what it does not set, usage on every terminal
status, quiet cancels, heartbeats while draining, prompt webhook deliveries."""

from __future__ import annotations

import pytest

from tests.support.native_api import create_agent, shared_api, unique

pytestmark = pytest.mark.asyncio(loop_scope="module")
api = shared_api()


# --- 1. apply keeps the fields its body does not set ------------------------------------------


async def test_apply_of_an_unchanged_file_keeps_fields_set_elsewhere(api) -> None:  # type: ignore[no-untyped-def]
    slug = unique("apply-keep")
    file = {"slug": slug, "model": "test", "instructions": "be brief"}
    created = await api.client.put(f"/v1/agents/{slug}", json=file)
    assert created.status_code == 201, created.text
    patched = await api.client.patch(
        f"/v1/agents/{slug}", json={"description": "set by PATCH", "max_concurrency": 2}
    )
    assert patched.status_code == 200, patched.text

    again = await api.client.put(f"/v1/agents/{slug}", json=file)
    assert again.status_code == 200, again.text
    agent = (await api.client.get(f"/v1/agents/{slug}")).json()
    assert agent["description"] == "set by PATCH", agent
    assert agent["max_concurrency"] == 2, agent
    assert agent["latest_revision"] == 1, "an unchanged definition adds no revision"


async def test_apply_changes_the_fields_its_body_sets_including_null(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client, description="old", max_concurrency=3)
    slug = agent["slug"]
    resp = await api.client.put(
        f"/v1/agents/{slug}",
        json={"slug": slug, "model": "test", "description": "new", "max_concurrency": None},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["description"] == "new" and resp.json()["max_concurrency"] is None
