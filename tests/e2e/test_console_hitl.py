"""The console and runs waiting for a person, in real headless Chromium: the run list shows
them, and the run page's card approves with edited arguments, denies, and answers questions."""

from __future__ import annotations

import time

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.test_console import api, browser, create_agent, goto, open_console  # noqa: F401
from tests.support.browser import screenshot
from tests.support.live import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _waiting(api: httpx.Client, agent: dict, prompt: str) -> dict:  # noqa: F811
    run = api.post("/v1/runs", json={"agent": agent["slug"], "prompt": prompt, "mode": "async"}).json()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = api.get(f"/v1/runs/{run['id']}").json()
        if run["status"] == "requires_action":
            return run
        time.sleep(0.1)
    raise AssertionError(f"the run never waited: {run}")


def test_the_card_approves_with_edited_arguments_and_answers_questions(
    browser: Browser,  # noqa: F811
    live_server: LiveServer,
    api: httpx.Client,  # noqa: F811
) -> None:
    # The offline test:tools model calls every tool once, then reports each result.
    careful = create_agent(
        api, model="test:tools", tools=[{"kind": "builtin", "name": "calculator", "requires_approval": True}]
    )
    asking = create_agent(api, model="test:tools", tools=[{"kind": "builtin", "name": "ask_human"}])
    approve_run = _waiting(api, careful, "compute")
    answer_run = _waiting(api, asking, "ask me")

    page, errors = open_console(browser, live_server)
    page.get_by_label("Status").select_option("requires_action")
    for run in (approve_run, answer_run):
        expect(page.locator(f"a[href='#/runs/{run['id']}']").first).to_be_visible()
    expect(page.locator(".badge.s-requires_action").first).to_have_text("requires action")
    screenshot(page, "runs-waiting")

    goto(page, live_server, f"/runs/{approve_run['id']}")
    card = page.locator("#run-actions")
    expect(card).to_be_visible()
    expect(card.locator(".tool-name")).to_have_text("calculator")
    page.get_by_label("Arguments for calculator").fill('{"expression": "6*7"}')
    screenshot(page, "run-approval-card")
    card.get_by_role("button", name="Approve").click()
    expect(page.locator("#run-status .badge")).to_have_text("completed")
    expect(card).to_be_hidden()
    expect(page.locator("#run-result")).to_contain_text("42")
    final = api.get(f"/v1/runs/{approve_run['id']}").json()
    assert final["pending_actions"][0]["answer"]["args"] == {"expression": "6*7"}

    goto(page, live_server, f"/runs/{answer_run['id']}")
    expect(page.locator("#run-actions .question")).to_be_visible()
    page.locator("#run-actions .answer-input").fill("the blue one")
    page.locator("#run-actions").get_by_role("button", name="Answer").click()
    expect(page.locator("#run-status .badge")).to_have_text("completed")
    expect(page.locator("#run-result")).to_contain_text("the blue one")
    assert errors.errors == []


def test_the_card_denies_with_a_reason(
    browser: Browser,  # noqa: F811
    live_server: LiveServer,
    api: httpx.Client,  # noqa: F811
) -> None:
    careful = create_agent(
        api, model="test:tools", tools=[{"kind": "builtin", "name": "calculator", "requires_approval": True}]
    )
    run = _waiting(api, careful, "compute")
    page, errors = open_console(browser, live_server)
    goto(page, live_server, f"/runs/{run['id']}")
    page.get_by_label("Reason for denying calculator (the agent sees it)").fill("no maths today")
    page.locator("#run-actions").get_by_role("button", name="Deny").click()
    expect(page.locator("#run-status .badge")).to_have_text("completed")
    expect(page.locator("#run-result")).to_contain_text("no maths today")
    assert errors.errors == []
