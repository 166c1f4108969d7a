"""The web console at /console in real headless Chromium against a real server process.

Each test drives the page as a user would (clicks, keyboard, forms) and checks what the page
shows against what the API says. Screenshots go to test-artifacts/console/.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import PageErrors, chromium, screenshot
from tests.support.live import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TOOLS = [{"kind": "builtin", "name": "current_time"}, {"kind": "builtin", "name": "calculator"}]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Generous waits: the suite shares two cores with servers and other tests; a wait that passes
    # ends as soon as its condition holds.
    expect.set_options(timeout=60_000)  # a CI machine running four test processes can be slow
    with chromium() as b:
        yield b


@pytest.fixture
def api(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        yield client


def slug(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def create_agent(api: httpx.Client, **fields: object) -> dict:
    response = api.post("/v1/agents", json={"slug": slug("agent"), **fields})
    assert response.status_code == 201, response.text
    return response.json()


def open_console(browser: Browser, server: LiveServer, viewport: dict = DESKTOP) -> tuple[Page, PageErrors]:
    """A fresh tab (fresh sessionStorage), signed in keylessly, on the run list."""
    page = new_page(browser, viewport)
    errors = PageErrors(page)
    page.goto(f"{server.url}/console")
    page.get_by_role("button", name="Continue without a key").click()
    expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible()
    return page, errors


def new_page(browser: Browser, viewport: dict = DESKTOP) -> Page:
    page = browser.new_context(viewport=viewport).new_page()
    page.set_default_timeout(60_000)
    return page


def goto(page: Page, server: LiveServer, route: str) -> None:
    page.goto(f"{server.url}/console/#{route}")


def no_horizontal_overflow(page: Page) -> int:
    return page.evaluate("document.scrollingElement.scrollWidth")


def run_id_from_url(page: Page) -> str:
    match = re.search(r"#/runs/(run_[0-9a-f]+)$", page.url)
    assert match, page.url
    return match.group(1)


def test_keyless_login_keyboard_and_assets(
    browser: Browser, live_server: LiveServer, api: httpx.Client
) -> None:
    page = new_page(browser)
    errors = PageErrors(page)
    response = page.goto(f"{live_server.url}/console")
    assert response is not None and response.ok
    # The page arrives through a redirect to /console/ with a strict policy: no inline script.
    csp = api.get("/console/").headers["content-security-policy"]
    assert "script-src 'self'" in csp
    expect(page.get_by_role("heading", name="agentrun console")).to_be_visible()
    screenshot(page, "login-keyless")
    page.get_by_role("button", name="Continue without a key").click()
    expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('agentrun.console.key')") is None

    # The choice lasts for the tab's session: a reload stays signed in.
    page.reload()
    expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible()
    # Keyboard: the skip link comes first, then the navigation; focus is visible.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "({text: document.activeElement.textContent, outline: getComputedStyle(document.activeElement).outlineStyle})"
    )
    assert focused == {"text": "Runs", "outline": "solid"}
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Start a run")).to_be_visible()
    # Every form control on the start page has a label.
    unlabelled = page.evaluate(
        """[...document.querySelectorAll('main input, main select, main textarea')]
             .filter(el => !el.labels || el.labels.length === 0).map(el => el.id || el.name)"""
    )
    assert unlabelled == []
    assert errors.errors == []


def test_start_runs_from_the_form_and_watch_events_live(
    browser: Browser, live_server: LiveServer, api: httpx.Client
) -> None:
    slow = create_agent(api, model="test:sleep-1500", instructions="Answer slowly.")
    page, errors = open_console(browser, live_server)

    page.get_by_role("link", name="Start a run").first.click()
    page.get_by_label("Agent").select_option(slow["slug"])
    page.get_by_label("Prompt").fill("Tell me about the console")
    page.get_by_label("async", exact=False).check()
    # Record when each event item enters the page, and the status shown at that moment.
    page.evaluate(
        """() => {
            window.arrivals = [];
            new MutationObserver(records => {
                for (const r of records) for (const node of r.addedNodes) {
                    if (node.nodeType !== 1 || !node.matches('#events > li')) continue;
                    window.arrivals.push({
                        type: node.querySelector('.type').textContent,
                        at: performance.now(),
                        status: document.querySelector('#run-status .badge')?.textContent,
                    });
                }
            }).observe(document.getElementById('main'), {childList: true, subtree: true});
        }"""
    )
    page.get_by_role("button", name="Start run").click(no_wait_after=True)  # the run page is awaited below

    # The run opens and streams: run.started reaches the page while the model still sleeps
    # (1.5 s); the answer comes later, shown with the run "running" - not all at once at the end.
    expect(page.locator("#events .t-run-started")).to_be_visible()
    screenshot(page, "run-live-running")
    expect(page.locator("#events .t-run-completed")).to_be_visible()
    expect(page.locator("#run-status .badge")).to_have_text("completed")
    arrivals = {a["type"]: a for a in page.evaluate("window.arrivals")}
    assert arrivals["message.delta"]["at"] - arrivals["run.started"]["at"] > 1000, arrivals
    assert arrivals["message.delta"]["status"] == "running", arrivals
    run_id = run_id_from_url(page)
    run = api.get(f"/v1/runs/{run_id}").json()
    assert run["prompt"] == "Tell me about the console"
    # The deltas formed the answer, the same text as the run's result.
    expect(page.locator("#events .answer-ev .text")).to_have_text(run["result"])
    expect(page.locator("#run-result")).to_have_text(run["result"])
    expect(page.locator("#run-usage")).to_contain_text(str(run["usage"]["input_tokens"]))
    # Every event of the run is on the page, in order (deltas are folded into one answer item).
    shown = page.eval_on_selector_all("#events > li", "items => items.map(li => Number(li.dataset.seq))")
    assert shown == sorted(shown) and shown[0] == 1
    expect(page.locator("#stream-state")).to_have_text("· complete")
    expect(page.locator("#timing .step")).to_have_count(2)  # queued + one model request
    screenshot(page, "run-completed")

    # The demo agent in stream mode: the create request streams, the run view follows it.
    page.get_by_role("link", name="Start a run").first.click()
    page.get_by_label("Agent").select_option("demo")
    page.get_by_label("Prompt").fill("hello from the stream")
    page.get_by_label("stream", exact=False).check()
    page.get_by_role("button", name="Start run").click(no_wait_after=True)  # the run page is awaited below
    expect(page.locator("#events .t-run-completed")).to_be_visible()
    expect(page.locator("#run-result")).to_contain_text("hello from the stream")
    assert errors.errors == []


def test_event_stream_resumes_after_a_drop_with_last_event_id(
    browser: Browser, live_server: LiveServer, api: httpx.Client
) -> None:
    run = api.post("/v1/runs", json={"agent": "demo", "prompt": "resume me"}).json()
    assert run["status"] == "completed" and run["last_seq"] > 5
    page, errors = open_console(browser, live_server)
    # The console's own SSE client, with the network cut mid-message on the first connection.
    result = page.evaluate(
        """async (runId) => {
            const { followEvents } = await import('/console/static/api.js');
            const realFetch = window.fetch;
            const calls = [];
            window.fetch = async (url, init) => {
                calls.push(init.headers['Last-Event-ID'] ?? null);
                const response = await realFetch(url, init);
                if (calls.length > 1) return response;
                const reader = response.body.getReader();
                let sent = 0;
                const cut = new ReadableStream({
                    async pull(controller) {
                        const { value, done } = await reader.read();
                        if (done || sent > 600) { reader.cancel(); controller.close(); return; }
                        const part = sent + value.length > 650 ? value.slice(0, 650 - sent) : value;
                        sent += part.length;
                        controller.enqueue(part);
                    },
                });
                return new Response(cut, { status: 200, headers: response.headers });
            };
            const seqs = [];
            try {
                await followEvents(runId, { onEvent: (e) => seqs.push(e.seq) });
            } finally {
                window.fetch = realFetch;
            }
            return { seqs, calls };
        }""",
        run["id"],
    )
    assert result["seqs"] == list(range(1, run["last_seq"] + 1))  # no gap, no repeat
    assert result["calls"][0] is None
    assert len(result["calls"]) == 2 and 1 <= int(result["calls"][1]) < run["last_seq"]
    assert errors.errors == []


def test_tool_calls_fold_arguments_and_results(
    browser: Browser, live_server: LiveServer, api: httpx.Client
) -> None:
    agent = create_agent(
        api,
        model="test:tools",
        tools=TOOLS,
        output_schema={
            "type": "object",
            "properties": {"answer": {"type": "string"}, "score": {"type": "integer"}},
            "required": ["answer"],
        },
    )
    page, errors = open_console(browser, live_server)
    goto(page, live_server, f"/start?agent={agent['slug']}")
    page.get_by_label("Prompt").fill("use your tools")
    page.get_by_role("button", name="Start run").click(no_wait_after=True)  # the run page is awaited below
    expect(page.locator("#events .t-run-completed")).to_be_visible()

    calls = page.locator("#events details.tool")
    expect(calls).to_have_count(2)
    calculator = calls.filter(has_text="calculator")
    expect(calculator.locator(".tool-args")).to_be_hidden()  # folded until opened
    calculator.locator("summary").click()
    expect(calculator.locator(".tool-args")).to_be_visible()
    expect(calculator.locator(".tool-args")).to_contain_text('"expression"')
    expect(calculator.locator(".tool-result")).to_contain_text("calculator failed")
    expect(calculator.locator("summary .tag")).to_have_text("error")
    expect(calls.filter(has_text="current_time").locator("summary .tag")).to_have_text("ok")

    # JSON result, pretty-printed and checked against the agent's output schema.
    run = api.get(f"/v1/runs/{run_id_from_url(page)}").json()
    assert run["result_type"] == "json"
    expect(page.locator("#schema-check")).to_contain_text("Valid against")
    expect(page.locator("#run-result")).to_contain_text('"answer"')
    expect(page.locator("#timing .step")).to_have_count(5)  # queued, model, 2 tools, model
    screenshot(page, "run-tool-calls")
    assert errors.errors == []


def test_form_generated_from_the_input_schema(
    browser: Browser, live_server: LiveServer, api: httpx.Client
) -> None:
    schema = {
        "type": "object",
        "properties": {
            "topic": {"type": "string", "description": "What to write about"},
            "count": {"type": "integer", "minimum": 1, "maximum": 10},
            "ratio": {"type": "number"},
            "tone": {"type": "string", "enum": ["formal", "casual"]},
            "urgent": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["topic", "count"],
    }
    agent = create_agent(api, model="test", input_schema=schema)
    page, errors = open_console(browser, live_server)
    goto(page, live_server, f"/start?agent={agent['slug']}")

    assert page.get_by_label("topic").evaluate("el => el.tagName + ':' + el.type") == "INPUT:text"
    assert page.get_by_label("count").get_attribute("type") == "number"
    assert page.get_by_label("count").get_attribute("step") == "1"
    assert page.get_by_label("ratio").get_attribute("step") == "any"
    assert page.get_by_label("tone").evaluate("el => [...el.options].map(o => o.text)") == [
        "—",
        "formal",
        "casual",
    ]
    assert page.get_by_label("urgent").get_attribute("type") == "checkbox"
    assert page.get_by_label("tags").evaluate("el => el.tagName") == "TEXTAREA"  # JSON fallback
    expect(page.get_by_label("topic")).to_have_accessible_description("What to write about")
    expect(page.get_by_label("Prompt")).to_have_count(0)
    screenshot(page, "start-form-generated")

    # A required field left empty is caught in the browser, before any request.
    page.get_by_role("button", name="Start run").click(no_wait_after=True)  # the run page is awaited below
    expect(page.locator("#start-errors")).to_contain_text("topic: required")

    page.get_by_label("topic").fill("consoles")
    page.get_by_label("count").fill("3")
    page.get_by_label("ratio").fill("0.5")
    page.get_by_label("tone").select_option(label="casual")
    page.get_by_label("urgent").check()
    page.get_by_label("tags").fill('["a", "b"]')
    page.get_by_role("button", name="Start run").click(no_wait_after=True)  # the run page is awaited below
    expect(page.locator("#run-status .badge")).to_have_text("completed")
    run = api.get(f"/v1/runs/{run_id_from_url(page)}").json()
    assert run["input"] == {
        "topic": "consoles",
        "count": 3,
        "ratio": 0.5,
        "tone": "casual",
        "urgent": True,
        "tags": ["a", "b"],
    }

    # The JSON fallback edits the same input; the server's 422 is shown as it is.
    goto(page, live_server, f"/start?agent={agent['slug']}")
    page.get_by_label("Edit as JSON").check()
    page.get_by_label("Input (JSON)").fill('{"topic": "x", "count": 99}')
    page.get_by_role("button", name="Start run").click(no_wait_after=True)  # the run page is awaited below
    expect(page.locator("#start-errors .error")).to_contain_text("input_invalid")
    # The browser logs the 422 response itself; nothing else went wrong.
    assert [e for e in errors.errors if "422" not in e] == []


def test_cancel_a_running_run(browser: Browser, live_server: LiveServer, api: httpx.Client) -> None:
    agent = create_agent(api, model="test:sleep-10000")
    run = api.post("/v1/runs", json={"agent": agent["slug"], "prompt": "wait", "mode": "async"}).json()
    page, errors = open_console(browser, live_server)
    # The list shows the run live as it starts.
    row = page.locator(f'tr[data-id="{run["id"]}"]')
    expect(row.locator(".badge")).to_have_text("running")
    row.get_by_role("link", name=re.compile("run_")).click()
    expect(page.locator("#events .t-run-started")).to_be_visible()
    page.get_by_role("button", name="Cancel run").click()
    expect(page.locator("#run-status .badge")).to_have_text("cancelled")
    expect(page.locator("#events .t-run-cancelled")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel run")).to_be_hidden()
    assert api.get(f"/v1/runs/{run['id']}").json()["status"] == "cancelled"
    screenshot(page, "run-cancelled")
    page.get_by_role("link", name="Runs", exact=True).first.click()
    expect(page.locator(f'tr[data-id="{run["id"]}"] .badge')).to_have_text("cancelled")
    assert errors.errors == []


def test_thread_conversation_view(browser: Browser, live_server: LiveServer, api: httpx.Client) -> None:
    thread = api.post("/v1/threads", json={"agent": "demo", "title": "Console chat"}).json()
    for prompt in ("first question", "second question"):
        done = api.post("/v1/runs", json={"agent": "demo", "prompt": prompt, "thread_id": thread["id"]})
        assert done.json()["status"] == "completed", done.text
    page, errors = open_console(browser, live_server)
    # Filter the run list by thread, open a run, follow its thread link.
    goto(page, live_server, f"/runs?thread={thread['id']}")
    expect(page.locator("#runs-table tbody tr")).to_have_count(2)
    page.locator("#runs-table tbody tr").first.get_by_role("link", name=re.compile("run_")).click()
    page.locator("#thread-link").click()
    expect(page.get_by_role("heading", name="Console chat")).to_be_visible()
    messages = page.locator("#conversation > li")
    expect(messages).to_have_count(4)
    expect(messages.nth(0)).to_contain_text("first question")
    expect(messages.nth(0)).to_have_class(re.compile("user"))
    expect(messages.nth(1)).to_have_class(re.compile("assistant"))
    expect(messages.nth(3)).to_contain_text("second question")  # the echo of the second prompt
    screenshot(page, "thread")

    # Continue the thread from its page: the new run opens, and the thread grows.
    page.get_by_label("Continue this thread").fill("third question")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#run-status .badge")).to_have_text("completed")
    page.locator("#thread-link").click()
    expect(page.locator("#conversation > li")).to_have_count(6)
    assert errors.errors == []


def test_agent_revisions_diff_and_publish(
    browser: Browser, live_server: LiveServer, api: httpx.Client
) -> None:
    agent = create_agent(api, model="test", instructions="Be brief.")
    updated = api.patch(f"/v1/agents/{agent['slug']}", json={"instructions": "Be thorough.", "tools": TOOLS})
    assert updated.json()["latest_revision"] == 2
    page, errors = open_console(browser, live_server)
    page.get_by_role("link", name="Agents").click()
    page.get_by_role("link", name=agent["slug"]).click()
    expect(page.get_by_role("heading", name="Revisions", exact=True)).to_be_visible()
    diff = page.locator("#diff-out")
    expect(diff.locator(".del", has_text='"instructions": "Be brief."')).to_have_count(1)
    expect(diff.locator(".add", has_text='"instructions": "Be thorough."')).to_have_count(1)
    expect(diff.locator(".del", has_text='"tools": []')).to_have_count(1)
    expect(diff.locator(".add", has_text="calculator")).to_have_count(1)
    screenshot(page, "agent-diff")

    page.get_by_label("From", exact=True).select_option("2")
    expect(diff).to_contain_text("No difference.")

    page.get_by_role("button", name="Publish 2").click()
    expect(page.locator('tr[data-rev="2"] .tag')).to_have_text("published")
    expect(page.get_by_role("button", name="Publish 1")).to_be_visible()
    assert api.get(f"/v1/agents/{agent['slug']}").json()["published_revision"] == 2
    assert errors.errors == []


def test_phone_width_has_no_horizontal_overflow(
    browser: Browser, live_server: LiveServer, api: httpx.Client
) -> None:
    agent = create_agent(api, model="test:tools", tools=TOOLS)
    thread = api.post("/v1/threads", json={"agent": agent["slug"], "title": "Phone"}).json()
    run = api.post(
        "/v1/runs", json={"agent": agent["slug"], "prompt": "x" * 300, "thread_id": thread["id"]}
    ).json()
    api.patch(f"/v1/agents/{agent['slug']}", json={"instructions": "A much longer instruction " * 12})
    page, errors = open_console(browser, live_server, viewport=PHONE)
    views = {
        "runs": "/runs",
        "run": f"/runs/{run['id']}",
        "start": f"/start?agent={agent['slug']}",
        "agents": "/agents",
        "agent": f"/agents/{agent['slug']}",
        "threads": "/threads",
        "thread": f"/threads/{thread['id']}",
    }
    ready = {
        "runs": f'tr[data-id="{run["id"]}"]',
        "run": "#events .t-run-completed",
        "start": "#prompt",
        "agents": f'a[href="#/agents/{agent["slug"]}"]',
        "agent": "#diff-out pre",
        "threads": f'a[href="#/threads/{thread["id"]}"]',
        "thread": "#conversation .msg",
    }
    widths = {}
    for name, route in views.items():
        goto(page, live_server, route)
        expect(page.locator("main h1").first).to_be_visible()
        expect(page.locator(ready[name]).first).to_be_visible()
        if name == "run":
            expect(page.locator("#stream-state")).to_have_text("· complete")
            page.locator("#events details.tool summary").first.click()
        widths[name] = no_horizontal_overflow(page)
        screenshot(page, f"phone-{name}")
    assert all(width <= 390 for width in widths.values()), widths
    assert errors.errors == []


def test_login_with_an_api_key_when_keys_are_required(browser: Browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = LiveServer(tmp_path / "data", extra_env={"AGENTRUN_AUTH_MODE": "required"}).start()
    try:
        match = re.search(r"\(shown once\): (\S+)", server.log())
        assert match, server.log()
        key = match.group(1)
        headers = {"Authorization": f"Bearer {key}"}
        run = httpx.post(
            f"{server.url}/v1/runs", json={"agent": "demo", "prompt": "keyed"}, headers=headers, timeout=60
        ).json()
        page = new_page(browser)
        errors = PageErrors(page)
        page.goto(f"{server.url}/console/#/runs/{run['id']}")
        expect(page.get_by_label("API key")).to_be_visible()
        expect(page.get_by_role("button", name="Continue without a key")).to_have_count(0)

        page.get_by_label("API key").fill("not-a-key")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_have_text("This key was refused.")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        # The deep link opens after sign-in, and the SSE stream carries the key (fetch, not EventSource).
        expect(page.locator("#events .t-run-completed")).to_be_visible()
        assert page.evaluate("sessionStorage.getItem('agentrun.console.key')") == key
        assert key not in page.url
        page.reload()
        expect(page.locator("#run-status .badge")).to_have_text("completed")
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_label("API key")).to_be_visible()
        assert page.evaluate("sessionStorage.getItem('agentrun.console.key')") is None
        # 401s logged by the browser for the refused key and the keyless probe are expected.
        assert [e for e in errors.errors if "401" not in e] == []
    finally:
        server.stop()


def _create_runs(api: httpx.Client, count: int) -> None:
    def one(i: int) -> int:
        return api.post("/v1/runs", json={"agent": "demo", "prompt": f"run {i}", "mode": "async"}).status_code

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(one, range(count))) == {202}


@pytest.mark.timeout(300)
def test_run_list_renders_1000_runs(browser: Browser, live_server: LiveServer, api: httpx.Client) -> None:
    _create_runs(api, 1000)
    page, errors = open_console(browser, live_server)
    timings = page.evaluate(
        """async () => {
            const t0 = performance.now();
            location.hash = '#/runs?limit=1000';
            while (document.querySelectorAll('#runs-table tbody tr').length < 1000) {
                await new Promise(r => setTimeout(r, 5));
            }
            const shown = performance.now() - t0;
            await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
            return {
                shown_ms: shown,
                painted_ms: performance.now() - t0,
                render_ms: Number(document.getElementById('runs-table').dataset.renderMs),
                rows: document.querySelectorAll('#runs-table tbody tr').length,
            };
        }"""
    )
    print(
        f"\nconsole: 1000 runs — DOM render {timings['render_ms']:.1f} ms; "
        f"fetch (5 pages of 200) + render {timings['shown_ms']:.0f} ms; to next paint {timings['painted_ms']:.0f} ms"
    )
    assert timings["rows"] == 1000
    screenshot(page, "runs-1000", full_page=False)

    # The list stays live with 1000 rows: a new run appears on top without a reload.
    new = api.post("/v1/runs", json={"agent": "demo", "prompt": "newest", "mode": "async"}).json()
    expect(page.locator("#runs-table tbody tr").first).to_have_attribute("data-id", new["id"])
    expect(page.locator("#runs-table tbody tr")).to_have_count(1001)
    assert errors.errors == []
