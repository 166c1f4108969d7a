"""JSON Schemas given by clients are safe to store and to validate against.

Agents' ``input_schema`` / ``output_schema``, a run's ``output_schema`` and seed 001's
``json_schema``: only local ``$ref``s, no fetching ever (not even for schemas stored before the
check existed), patterns run on RE2 (no catastrophic backtracking), schemas checked against the
Draft 2020-12 metaschema and bounded in depth and size when they are stored.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from agentrun.domain.models import AgentDefinition
from agentrun.services.keys import DEFAULT_PROJECT
from tests.support.native_api import assert_error, create_agent, run_sync, shared_api, unique

pytestmark = pytest.mark.asyncio(loop_scope="module")
api = shared_api()

EVIL_PATTERN = "^(a+)+$"
EVIL_INPUT = "a" * 27 + "!"  # ~10 s of backtracking in Python's re; nothing for RE2


class Listener:
    """A local HTTP server that records every request it gets, then answers slowly."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                hits.append(self.path)
                time.sleep(3)
                body = b'{"type": "string"}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener() as server:
        yield server


def _remote_refs(listener: Listener) -> list[str]:
    return [f"{listener.url}/schema.json", "file:///etc/passwd", "other.json#/x"]


def _with_ref(ref: str) -> dict[str, Any]:
    return {"type": "object", "properties": {"x": {"$ref": ref}}}


async def _run_input(api: Any, slug: str, value: dict[str, Any]) -> dict[str, Any]:
    resp = await api.client.post("/v1/runs", json={"agent": slug, "input": value})
    assert resp.status_code == 200, resp.text
    return resp.json()


def _assert_ref_refused(resp: Any, field: str, ref: str) -> None:
    error = assert_error(resp, 422, "validation_error")
    assert field in error["message"] and "local" in error["message"] and ref in error["message"], error
    assert error["details"]["field"] == field
    assert "root:" not in resp.text  # no local file echoed back


# --- $ref: only local ones, never fetched ------------------------------------------------------


@pytest.mark.parametrize("field", ["input_schema", "output_schema"])
async def test_agent_create_refuses_non_local_refs_without_fetching(api, listener, field) -> None:  # type: ignore[no-untyped-def]
    for ref in _remote_refs(listener):
        resp = await api.client.post(
            "/v1/agents", json={"slug": unique("ref"), "model": "test", field: _with_ref(ref)}
        )
        _assert_ref_refused(resp, field, ref)
    assert listener.hits == []


async def test_agent_put_and_patch_refuse_non_local_refs(api, listener) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    ref = f"{listener.url}/patched.json"
    patched = await api.client.patch(f"/v1/agents/{agent['slug']}", json={"output_schema": _with_ref(ref)})
    _assert_ref_refused(patched, "output_schema", ref)
    put = await api.client.put(
        f"/v1/agents/{agent['slug']}",
        json={"slug": agent["slug"], "model": "test", "input_schema": _with_ref(ref)},
    )
    _assert_ref_refused(put, "input_schema", ref)
    current = (await api.client.get(f"/v1/agents/{agent['slug']}")).json()
    assert current["latest_revision"] == 1, "a refused schema must not create a revision"
    assert listener.hits == []


async def test_run_output_schema_refuses_non_local_refs(api, listener) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    for ref in _remote_refs(listener):
        resp = await api.client.post(
            "/v1/runs", json={"agent": agent["slug"], "prompt": "hi", "output_schema": _with_ref(ref)}
        )
        _assert_ref_refused(resp, "output_schema", ref)
    assert listener.hits == []


async def test_compat_001_json_schema_refuses_non_local_refs(api, listener) -> None:  # type: ignore[no-untyped-def]
    ref = f"{listener.url}/001.json"
    resp = await api.client.post(
        "/api/runs",
        json={
            "prompt": "What is 2 + 2?",
            "provider": "groq",
            "model": "m",
            "wait_for_completion": False,
            "response_format": "json",
            "json_schema": _with_ref(ref),
        },
    )
    _assert_ref_refused(resp, "json_schema", ref)
    assert listener.hits == []


async def test_schema_stored_before_the_check_is_never_fetched(api, listener) -> None:  # type: ignore[no-untyped-def]
    """A revision written before schemas were checked: its runs get a 422, and nothing is fetched."""
    slug = unique("legacy")
    ref = f"{listener.url}/legacy.json"
    schema = {"type": "object", "properties": {"x": {"$ref": ref}}, "required": ["x"]}
    definition = AgentDefinition(model="test", input_schema=schema, output_schema=schema)
    await api.services.store.agents.create(DEFAULT_PROJECT, slug, slug, "", definition, True, None)

    by_input = await api.client.post("/v1/runs", json={"agent": slug, "input": {"x": "y"}})
    error = assert_error(by_input, 422, "validation_error")
    assert "input_schema" in error["message"] and ref in error["message"], error
    by_prompt = await api.client.post("/v1/runs", json={"agent": slug, "prompt": "hi"})
    error = assert_error(by_prompt, 422, "validation_error")
    assert "output_schema" in error["message"] and ref in error["message"], error
    assert listener.hits == []


async def test_local_refs_resolve(api) -> None:  # type: ignore[no-untyped-def]
    schema = {
        "type": "object",
        "properties": {
            "city": {"$ref": "#/$defs/name"},
            "country": {"$ref": "#/definitions/code"},
            "self": {"$ref": "#"},
        },
        "required": ["city", "country"],
        "$defs": {"name": {"type": "string", "minLength": 1}},
        "definitions": {"code": {"type": "string", "pattern": "^[A-Z]{2}$"}},
    }
    agent = await create_agent(api.client, input_schema=schema)
    ok = await _run_input(api, agent["slug"], {"city": "Paris", "country": "FR"})
    assert ok["status"] == "completed", ok
    bad = await api.client.post(
        "/v1/runs", json={"agent": agent["slug"], "input": {"city": "Paris", "country": "France"}}
    )
    error = assert_error(bad, 422, "input_invalid")
    assert "input.country" in error["message"]
    nested = await api.client.post(
        "/v1/runs",
        json={"agent": agent["slug"], "input": {"city": "a", "country": "FR", "self": {"city": ""}}},
    )
    assert_error(nested, 422, "input_invalid")


# --- patterns: RE2, no catastrophic backtracking -------------------------------------------------


async def test_evil_pattern_does_not_freeze_the_server(api) -> None:  # type: ignore[no-untyped-def]
    schema = {"type": "object", "properties": {"s": {"type": "string", "pattern": EVIL_PATTERN}}}
    agent = await create_agent(api.client, input_schema=schema)
    slow = asyncio.create_task(
        api.client.post("/v1/runs", json={"agent": agent["slug"], "input": {"s": EVIL_INPUT}})
    )
    gaps: list[float] = []  # between consecutive answers of GET /healthz, one more after the run's
    last = time.monotonic()
    while True:
        finished = slow.done()
        health = await api.client.get("/healthz")
        assert health.status_code == 200
        now = time.monotonic()
        gaps.append(now - last)
        last = now
        if finished:
            break
        await asyncio.sleep(0.01)
    resp = await slow
    error = assert_error(resp, 422, "input_invalid")
    assert "input.s" in error["message"]
    # Generous: a blocked event loop leaves one gap of many seconds.
    assert max(gaps) < 2.0, f"GET /healthz waited {max(gaps):.1f} s while the input was validated"


async def test_evil_pattern_properties_key_is_bounded(api) -> None:  # type: ignore[no-untyped-def]
    schema = {"type": "object", "patternProperties": {EVIL_PATTERN: {}}, "additionalProperties": False}
    agent = await create_agent(api.client, input_schema=schema)
    resp = await asyncio.wait_for(
        api.client.post("/v1/runs", json={"agent": agent["slug"], "input": {"a" * 40 + "!": 1}}), 30
    )
    assert_error(resp, 422, "input_invalid")


@pytest.mark.parametrize(
    "schema, pattern",
    [
        ({"type": "string", "pattern": "^(?=a)a+$"}, "^(?=a)a+$"),
        ({"type": "object", "patternProperties": {r"^(a)\1$": {}}}, r"^(a)\1$"),
    ],
)
async def test_pattern_re2_cannot_run_is_refused_when_stored(api, schema, pattern) -> None:  # type: ignore[no-untyped-def]
    resp = await api.client.post(
        "/v1/agents",
        json={"slug": unique("re2"), "model": "test", "input_schema": {"properties": {"v": schema}}},
    )
    error = assert_error(resp, 422, "validation_error")
    assert "input_schema" in error["message"] and pattern in error["message"], error
    assert error["details"]["field"] == "input_schema"


# --- metaschema and bounds ---------------------------------------------------------------------


@pytest.mark.parametrize("bad", [{"type": 5}, {"pattern": "("}, {"properties": {"x": {"minLength": -1}}}])
@pytest.mark.parametrize("field", ["input_schema", "output_schema"])
async def test_invalid_schema_is_422_on_create(api, field, bad) -> None:  # type: ignore[no-untyped-def]
    resp = await api.client.post("/v1/agents", json={"slug": unique("meta"), "model": "test", field: bad})
    error = assert_error(resp, 422, "validation_error")
    assert field in error["message"], error
    assert error["details"]["field"] == field


async def test_invalid_schema_is_422_on_patch_and_put(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    patched = await api.client.patch(f"/v1/agents/{agent['slug']}", json={"input_schema": {"type": 5}})
    assert "input_schema" in assert_error(patched, 422, "validation_error")["message"]
    put = await api.client.put(
        f"/v1/agents/{agent['slug']}",
        json={"slug": agent["slug"], "model": "test", "output_schema": {"type": 5}},
    )
    assert "output_schema" in assert_error(put, 422, "validation_error")["message"]
    # The agent still takes runs: nothing bad was stored.
    run = await run_sync(api.client, agent["slug"], prompt="still fine")
    assert run["status"] == "completed"


async def test_unicode_classes_are_accepted(api) -> None:  # type: ignore[no-untyped-def]
    """RE2 (and JSON Schema's ECMA-262 flavour) know \\p{L}; Python's re does not."""
    schema = {"type": "object", "properties": {"name": {"type": "string", "pattern": r"^\p{L}+$"}}}
    agent = await create_agent(api.client, input_schema=schema)
    ok = await _run_input(api, agent["slug"], {"name": "Zoë"})
    assert ok["status"] == "completed", ok
    bad = await api.client.post("/v1/runs", json={"agent": agent["slug"], "input": {"name": "Zoë 2"}})
    assert_error(bad, 422, "input_invalid")


async def test_too_deep_or_too_large_schemas_are_refused(api) -> None:  # type: ignore[no-untyped-def]
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(70):
        deep = {"type": "array", "items": deep}
    resp = await api.client.post(
        "/v1/agents", json={"slug": unique("deep"), "model": "test", "input_schema": deep}
    )
    error = assert_error(resp, 422, "validation_error")
    assert "input_schema" in error["message"] and "deep" in error["message"], error

    wide = {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(6000)}}
    resp = await api.client.post(
        "/v1/agents", json={"slug": unique("wide"), "model": "test", "output_schema": wide}
    )
    error = assert_error(resp, 422, "validation_error")
    assert "output_schema" in error["message"] and "keys" in error["message"], error
