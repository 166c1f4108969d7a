"""The console's run page shows the run's cost when the server prices its model, and its steps."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.test_console import goto, new_page
from tests.support.browser import PageErrors, chromium
from tests.support.live import LiveServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    expect.set_options(timeout=60_000)
    with chromium() as b:
        yield b


@pytest.fixture
def priced_server(tmp_path) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    prices = {"test:tools": {"input": 3.0, "output": 15.0}}
    server = LiveServer(
        tmp_path / "data", extra_env={"AGENTRUN_OBSERVABILITY__PRICES": json.dumps(prices)}
    ).start()
    try:
        yield server
    finally:
        server.stop()


def test_run_page_shows_cost_and_steps(browser: Browser, priced_server: LiveServer) -> None:
    with httpx.Client(base_url=priced_server.url, timeout=60) as api:
        agent = {
            "slug": "priced",
            "model": "test:tools",
            "tools": [{"kind": "builtin", "name": "calculator"}],
            "publish": True,
        }
        api.put("/v1/agents/priced", json=agent).raise_for_status()
        run = api.post("/v1/runs", json={"agent": "priced", "prompt": "2+2"}).json()
        assert run["status"] == "completed" and run["usage"]["cost_usd"] > 0, run
        plain = api.post("/v1/runs", json={"agent": "demo", "prompt": "hi"}).json()
    page = new_page(browser)
    errors = PageErrors(page)
    page.goto(f"{priced_server.url}/console")
    page.get_by_role("button", name="Continue without a key").click()
    goto(page, priced_server, f"/runs/{run['id']}")
    expect(page.locator("#run-cost")).to_contain_text(f"${run['usage']['cost_usd']:.6f}")
    expect(page.locator("#timing .step")).to_have_count(4)  # queued, model, tool, model
    goto(page, priced_server, f"/runs/{plain['id']}")
    expect(page.locator("#run-usage")).to_contain_text(str(plain["usage"]["input_tokens"]))
    expect(page.locator("#run-cost")).to_have_count(0)  # the demo's model has no price
    assert errors.errors == []
