"""Hardening found by outside clients, through the public HTTP surface (SQLite and PostgreSQL):
finished-run SSE resumes, no input makes a 500, Host checks in keyless loopback mode, protected
metrics, offline API docs, private data files."""

from __future__ import annotations

import asyncio
import re
import stat
from pathlib import Path

import httpx
import pytest

from agentrun.api.app import create_app
from agentrun.settings import Settings
from tests.integration.conftest import running_lifespan
from tests.support.native_api import assert_error, create_agent, parse_sse

BIG = 10**20  # beyond int64, and far beyond PostgreSQL's integer
SSE = {"Accept": "text/event-stream"}


async def _finished_run(api) -> dict:  # type: ignore[no-untyped-def]
    resp = await api.client.post("/v1/runs", json={"agent": "demo", "prompt": "hi"})
    assert resp.status_code == 200, resp.text
    run = resp.json()
    assert run["status"] == "completed" and run["last_seq"] > 0
    return run


def _raw(body: bytes) -> dict:
    return {"content": body, "headers": {"Content-Type": "application/json"}}


# --- 2. SSE resume of a finished run ------------------------------------------------------------


async def test_sse_resume_of_a_finished_run_at_or_past_its_last_seq_closes_at_once(api) -> None:  # type: ignore[no-untyped-def]
    run = await _finished_run(api)
    path = f"/v1/runs/{run['id']}/events"
    for last in (run["last_seq"], run["last_seq"] + 7):
        started = asyncio.get_running_loop().time()
        resp = await asyncio.wait_for(api.client.get(path, headers={**SSE, "Last-Event-ID": str(last)}), 5)
        assert resp.status_code == 200
        assert parse_sse(resp.text) == [], "nothing follows the last event"
        assert asyncio.get_running_loop().time() - started < 3
        resp = await asyncio.wait_for(api.client.get(path, params={"after": last}, headers=SSE), 5)
        assert resp.status_code == 200 and parse_sse(resp.text) == []
    # One event before the end: the terminal event, then the stream ends.
    resp = await asyncio.wait_for(
        api.client.get(path, headers={**SSE, "Last-Event-ID": str(run["last_seq"] - 1)}), 5
    )
    assert [m["event"] for m in parse_sse(resp.text)] == ["run.completed"]


# --- 3. no input makes a 500 --------------------------------------------------------------------


@pytest.mark.parametrize("field", ["model", "tools", "config", "name", "description", "instructions"])
async def test_null_for_a_non_nullable_agent_field_is_422_naming_it(api, field: str) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    resp = await api.client.patch(f"/v1/agents/{agent['slug']}", json={field: None})
    error = assert_error(resp, 422, "validation_error")
    assert error["message"].startswith(f"{field}:"), error
    assert "null" in error["message"]
    assert [d["field"] for d in error["details"]] == [field]
    after = (await api.client.get(f"/v1/agents/{agent['slug']}")).json()
    assert after["latest_revision"] == agent["latest_revision"] and after["name"] == agent["name"]


async def test_null_still_clears_the_nullable_agent_fields(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(
        api.client, max_concurrency=3, input_schema={"type": "object"}, output_schema={"type": "object"}
    )
    resp = await api.client.patch(
        f"/v1/agents/{agent['slug']}",
        json={"max_concurrency": None, "input_schema": None, "output_schema": None},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["max_concurrency"] is None
    assert body["definition"]["input_schema"] is None and body["definition"]["output_schema"] is None


async def test_integers_beyond_the_database_range_are_422(api) -> None:  # type: ignore[no-untyped-def]
    agent = await create_agent(api.client)
    slug = agent["slug"]
    run = await _finished_run(api)
    cases = [
        ("PATCH", f"/v1/agents/{slug}", {"json": {"max_concurrency": BIG}}, "max_concurrency"),
        ("PATCH", f"/v1/agents/{slug}", _raw(b'{"max_concurrency": 1e20}'), "max_concurrency"),
        ("POST", "/v1/agents", {"json": {"slug": "big-conc", "max_concurrency": 2**31}}, "max_concurrency"),
        ("GET", f"/v1/agents/{slug}/revisions/{BIG}", {}, "number"),
        ("POST", f"/v1/agents/{slug}/revisions/{BIG}/publish", {}, "number"),
        ("POST", "/v1/runs", {"json": {"agent": slug, "prompt": "x", "revision": BIG}}, "revision"),
        ("GET", f"/v1/runs/{run['id']}/events", {"params": {"after": BIG}}, "after"),
        ("GET", f"/v1/runs/{run['id']}/events", {"params": {"after": BIG}, "headers": SSE}, "after"),
    ]
    for method, path, kwargs, field in cases:
        resp = await api.client.request(method, path, **kwargs)
        error = assert_error(resp, 422, "validation_error")
        assert field in error["message"], (method, path, error)
    # A huge Last-Event-ID is refused before the stream starts, not by aborting it mid-body.
    resp = await api.client.get(f"/v1/runs/{run['id']}/events", headers={**SSE, "Last-Event-ID": str(BIG)})
    error = assert_error(resp, 422, "validation_error")
    assert "Last-Event-ID" in error["message"]
    assert (await api.client.get(f"/v1/agents/{slug}")).json()["max_concurrency"] is None


async def test_a_lone_surrogate_in_a_string_is_422_with_a_clear_message(api) -> None:  # type: ignore[no-untyped-def]
    cases = [
        ("/v1/runs", b'{"agent": "demo", "prompt": "hi \\ud800 there"}', "prompt"),
        ("/v1/runs", b'{"agent": "demo", "prompt": "x", "metadata": {"k": ["\\udc00"]}}', "metadata.k.0"),
        ("/v1/threads", b'{"title": "\\uDBFF"}', "title"),
        ("/v1/agents", b'{"slug": "sur-agent", "instructions": "\\ud800"}', "instructions"),
    ]
    for path, body, field in cases:
        resp = await api.client.post(path, **_raw(body))
        error = assert_error(resp, 422, "validation_error")
        assert "surrogate" in error["message"] and field in error["message"], error
    # A proper pair (an emoji written as escapes) is fine.
    resp = await api.client.post("/v1/runs", **_raw(b'{"agent": "demo", "prompt": "\\ud83d\\ude00"}'))
    assert resp.status_code == 200, resp.text
    assert resp.json()["prompt"] == "\U0001f600"


async def test_nan_and_infinity_in_a_json_body_are_422_not_stored_as_null(api) -> None:  # type: ignore[no-untyped-def]
    cases = [
        ("/v1/runs", b'{"agent": "demo", "prompt": "x", "metadata": {"a": NaN}}'),
        ("/v1/runs", b'{"agent": "demo", "prompt": "x", "metadata": {"a": Infinity}}'),
        ("/v1/runs", b'{"agent": "demo", "prompt": "x", "config": {"temperature": -Infinity}}'),
        ("/v1/threads", b'{"metadata": {"a": [1, NaN]}}'),
    ]
    for path, body in cases:
        resp = await api.client.post(path, **_raw(body))
        error = assert_error(resp, 422, "validation_error")
        assert "NaN" in error["message"] or "Infinity" in error["message"], error
    # The words inside strings are just text.
    resp = await api.client.post(
        "/v1/runs", json={"agent": "demo", "prompt": "NaN Infinity", "metadata": {"NaN": "x"}}
    )
    assert resp.status_code == 200, resp.text


async def test_an_unexpected_error_is_a_proper_500_that_says_connection_close(api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(api.services.agents, "get", broken)
    resp = await api.client.get("/v1/agents/demo")
    error = assert_error(resp, 500, "internal")
    assert "simulated bug" not in error["message"]
    assert resp.headers["connection"] == "close"
    monkeypatch.undo()
    assert (await api.client.get("/v1/agents/demo")).status_code == 200


# --- 4. Host checks while keyless on loopback ---------------------------------------------------


async def test_keyless_loopback_server_refuses_foreign_host_names_on_every_route(api) -> None:  # type: ignore[no-untyped-def]
    mcp = {
        "json": {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        "headers": {"Accept": "application/json, text/event-stream"},
    }
    routes = [
        ("GET", "/v1/agents", {}),
        ("POST", "/v1/runs", {"json": {"agent": "demo", "prompt": "x"}}),
        ("GET", "/healthz", {}),
        ("GET", "/console", {}),
        ("POST", "/mcp", mcp),
    ]
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost.evil.example:80"):
        for method, path, kwargs in routes:
            headers = {**kwargs.get("headers", {}), "Host": host}
            resp = await api.client.request(method, path, **{**kwargs, "headers": headers})
            error = assert_error(resp, 403, "forbidden")
            assert error["details"]["reason"] == "host_not_allowed", error
            assert host.split(":")[0] in error["message"]
    runs = (await api.client.get("/v1/runs", params={"agent": "demo"})).json()["data"]
    assert runs == [], "a refused request must not have created a run"
    for host in (
        "localhost",
        "localhost:8000",
        "127.0.0.1",
        "127.0.0.1:1234",
        "[::1]",
        "[::1]:8000",
        "LOCALHOST:1",
    ):
        resp = await api.client.get("/v1/agents/demo", headers={"Host": host})
        assert resp.status_code == 200, (host, resp.text)
    resp = await api.client.post("/mcp", **{**mcp, "headers": {**mcp["headers"], "Host": "127.0.0.1:8000"}})
    assert resp.status_code == 200, resp.text


async def test_keyless_loopback_server_refuses_a_foreign_origin(api) -> None:  # type: ignore[no-untyped-def]
    resp = await api.client.post(
        "/v1/runs", json={"agent": "demo", "prompt": "x"}, headers={"Origin": "http://evil.example"}
    )
    assert assert_error(resp, 403, "forbidden")["details"]["reason"] == "origin_not_allowed"
    resp = await api.client.get("/v1/agents/demo", headers={"Origin": "http://localhost:8000"})
    assert resp.status_code == 200


@pytest.mark.parametrize("settings_overrides", [{"security": {"allowed_hosts": ["agentrun.internal"]}}])
async def test_allowed_hosts_setting_admits_more_host_names(api) -> None:  # type: ignore[no-untyped-def]
    assert (
        await api.client.get("/v1/agents/demo", headers={"Host": "agentrun.internal:8000"})
    ).status_code == 200
    assert (await api.client.get("/v1/agents/demo", headers={"Host": "localhost"})).status_code == 200
    assert_error(
        await api.client.get("/v1/agents/demo", headers={"Host": "other.internal"}), 403, "forbidden"
    )


@pytest.mark.parametrize("settings_overrides", [{"auth_mode": "required"}])
async def test_with_keys_required_any_host_name_is_fine(api) -> None:  # type: ignore[no-untyped-def]
    key = (await api.services.keys.create("default", "t", False)).key
    resp = await api.client.get("/v1/agents/demo", headers={"Host": "api.example.com", "X-API-Key": key})
    assert resp.status_code == 200, resp.text


# --- 5. /metrics and /readyz with keys required -------------------------------------------------

TOKEN = "scrape-secret-5b1e"


@pytest.mark.parametrize(
    "settings_overrides", [{"auth_mode": "required", "security": {"metrics_token": TOKEN}}]
)
async def test_metrics_need_an_admin_key_or_the_metrics_token(api) -> None:  # type: ignore[no-untyped-def]
    admin = (await api.services.keys.create("default", "admin", True)).key
    project = (await api.services.keys.create("acme", "project", False)).key
    assert_error(await api.client.get("/metrics"), 401, "unauthorized")
    assert_error(
        await api.client.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized"
    )
    assert_error(await api.client.get("/metrics", headers={"X-API-Key": project}), 403, "forbidden")
    for headers in ({"X-API-Key": admin}, {"Authorization": f"Bearer {TOKEN}"}):
        resp = await api.client.get("/metrics", headers=headers)
        assert resp.status_code == 200 and "agentrun_queue_depth" in resp.text
    # The token opens the metrics only, not the API.
    assert_error(
        await api.client.get("/v1/agents", headers={"Authorization": f"Bearer {TOKEN}"}), 401, "unauthorized"
    )
    # Probes: liveness stays open; readiness answers its status to anyone, its details to the operator.
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    resp = await api.client.get("/readyz")
    assert resp.status_code == 200 and resp.json() == {"status": "ready"}
    detailed = (await api.client.get("/readyz", headers={"Authorization": f"Bearer {TOKEN}"})).json()
    assert detailed["status"] == "ready" and detailed["migration"]
    assert (await api.client.get("/readyz", headers={"X-API-Key": admin})).json()["migration"]


@pytest.mark.parametrize("settings_overrides", [{"auth_mode": "required"}])
async def test_without_a_metrics_token_an_admin_key_still_reads_metrics(api) -> None:  # type: ignore[no-untyped-def]
    admin = (await api.services.keys.create("default", "admin", True)).key
    assert_error(await api.client.get("/metrics"), 401, "unauthorized")
    assert (await api.client.get("/metrics", headers={"Authorization": f"Bearer {admin}"})).status_code == 200


# --- 6. API docs without a CDN -------------------------------------------------------------------


async def test_api_docs_load_their_assets_from_the_server_itself(api) -> None:  # type: ignore[no-untyped-def]
    for page in ("/docs", "/redoc"):
        resp = await api.client.get(page)
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
        html = resp.text
        assert not re.search(r"""(?:src|href|url)\s*[=:(]\s*['"]?(?:https?:)?//""", html, re.I), html
        assert "cdn" not in html.lower() and "googleapis" not in html
        assets = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]+)['"]""", html)
        assets += re.findall(r"""url\s*:\s*['"]([^'"]+)['"]""", html)
        assets += re.findall(r"""spec-url\s*=\s*['"]([^'"]+)['"]""", html)
        assert any(a.endswith(".js") for a in assets), assets
        for asset in assets:
            assert asset.startswith("/"), asset
            loaded = await api.client.get(asset)
            assert loaded.status_code == 200, (page, asset)
            assert len(loaded.content) > 0


# --- 7. private data dir -------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_fresh_data_dir_and_its_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    settings = Settings(data_dir=data, demo_agent=True)  # SQLite store and DBOS, persisted executor id
    app = create_app(settings)
    async with running_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost", timeout=30) as client:
            assert (await client.post("/v1/runs", json={"agent": "demo", "prompt": "hi"})).status_code == 200
            await client.post("/v1/webhooks", json={"url": "http://93.184.216.34/hook"})
        files = sorted(p for p in data.iterdir() if p.is_file())
        names = {p.name for p in files}
        assert {"agentrun.sqlite", "dbos.sqlite", "executor-id"} <= names, names
        assert any(n.endswith("-wal") for n in names), names
        assert _mode(data) == 0o700
        assert {p.name: oct(_mode(p)) for p in files} == {p.name: oct(0o600) for p in files}


async def test_an_existing_world_readable_store_is_made_private(tmp_path: Path) -> None:
    data = tmp_path / "old"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "executor-id").write_text("host-abc")
    (data / "executor-id").chmod(0o644)
    settings = Settings(data_dir=data, demo_agent=False)
    app = create_app(settings)
    async with running_lifespan(app):
        pass
    for path in data.iterdir():
        if path.is_file():
            assert _mode(path) == 0o600, path.name
