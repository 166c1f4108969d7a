"""Without bubblewrap the server still starts; a run that needs a sandbox fails at once, saying what to install."""

from __future__ import annotations

import pytest


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"sandbox": {"bwrap_path": "/nonexistent/bin/bwrap"}}


async def test_a_sandboxed_run_fails_at_once_with_the_install_hint(api) -> None:  # type: ignore[no-untyped-def]
    assert (await api.client.get("/healthz")).status_code == 200
    agent = {"slug": "boxed", "model": "test", "sandbox": {}}
    assert (await api.client.post("/v1/agents", json=agent)).status_code == 201
    run = (await api.client.post("/v1/runs", json={"agent": "boxed", "prompt": "x"})).json()
    assert run["status"] == "failed", run
    assert run["error"]["code"] == "sandbox_unavailable"
    assert "apt-get install bubblewrap" in run["error"]["message"]
    assert run["usage"]["requests"] == 0  # failed before any model call
    plain = {"slug": "plain", "model": "test"}
    assert (await api.client.post("/v1/agents", json=plain)).status_code == 201
    ok = (await api.client.post("/v1/runs", json={"agent": "plain", "prompt": "x"})).json()
    assert ok["status"] == "completed"  # runs without a sandbox are unaffected
