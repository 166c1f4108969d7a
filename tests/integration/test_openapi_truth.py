"""What /openapi.json says about inputs is what the server accepts: a request valid against the
document is not refused for a rule the document leaves out (schemathesis's "valid request
rejected"), and one the document rules out is refused."""

from __future__ import annotations

import re

import pytest

from tests.support.native_api import create_agent, unique

MAX_PAGE = 37  # not the default, so the document must take it from the settings


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"limits": {"max_page_size": MAX_PAGE, "default_page_size": 20}}


def _parameter(document: dict, path: str, name: str) -> dict:
    return next(p for p in document["paths"][path]["get"]["parameters"] if p["name"] == name)


def _schema(document: dict, name: str) -> dict:
    return document["components"]["schemas"][name]


async def test_page_limits_state_the_configured_maximum(api) -> None:  # type: ignore[no-untyped-def]
    document = (await api.client.get("/openapi.json")).json()
    for path in ("/v1/runs", "/v1/agents", "/v1/threads", "/v1/webhooks", "/v1/run/threads"):
        schema = _parameter(document, path, "limit")["schema"]
        integer = next(b for b in schema.get("anyOf", [schema]) if b.get("type") == "integer")
        assert integer["maximum"] == MAX_PAGE, path
    assert (await api.client.get("/v1/runs", params={"limit": MAX_PAGE})).status_code == 200
    refused = await api.client.get("/v1/runs", params={"limit": MAX_PAGE + 1})
    assert refused.status_code == 422 and refused.json()["error"]["details"]["max"] == MAX_PAGE


async def test_patch_fields_that_refuse_null_are_not_nullable_in_the_document(api) -> None:  # type: ignore[no-untyped-def]
    document = (await api.client.get("/openapi.json")).json()
    properties = _schema(document, "AgentUpdate")["properties"]
    agent = await create_agent(api.client)
    for field in ("name", "description", "model", "instructions", "tools", "config"):
        assert "anyOf" not in properties[field] and properties[field].get("type") != "null", field
        refused = await api.client.patch(f"/v1/agents/{agent['slug']}", json={field: None})
        assert refused.status_code == 422, (field, refused.text)
    # The ones the document keeps nullable take null: it removes the limit or the schema.
    assert {"type": "null"} in properties["max_concurrency"]["anyOf"]
    cleared = await api.client.patch(f"/v1/agents/{agent['slug']}", json={"max_concurrency": None})
    assert cleared.status_code == 200 and cleared.json()["max_concurrency"] is None


async def test_slug_and_webhook_url_patterns_match_what_the_server_checks(api) -> None:  # type: ignore[no-untyped-def]
    document = (await api.client.get("/openapi.json")).json()
    slug_pattern = re.compile(_schema(document, "AgentCreate")["properties"]["slug"]["pattern"])
    for slug, ok in ((unique("ok"), True), ("-leading-dash", False), ("UPPER", False), ("a" * 64, False)):
        assert bool(slug_pattern.match(slug)) is ok, slug
        created = await api.client.post("/v1/agents", json={"slug": slug, "model": "test"})
        assert created.status_code == (201 if ok else 422), (slug, created.text)

    url_pattern = re.compile(_schema(document, "WebhookEndpointCreate")["properties"]["url"]["pattern"])
    for url in ("ftp://example.com/hook", "", "http://"):
        assert not url_pattern.match(url)
        refused = await api.client.post("/v1/webhooks", json={"url": url, "events": ["run.completed"]})
        assert refused.status_code == 422, (url, refused.text)

    run_create = _schema(document, "RunCreate")["properties"]
    assert run_create["messages"]["minItems"] == 1
    empty = await api.client.post("/v1/runs", json={"agent": "x", "messages": []})
    assert empty.status_code == 422
