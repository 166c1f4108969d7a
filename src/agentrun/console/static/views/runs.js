// The run list: filters in the URL hash, cursor paging, and live updates by polling the first
// page (new runs, changed statuses) plus each still-active run further down.

import { api, collect } from "../api.js";
import {
  announce, esc, h, qs, runDuration, shortId, statusBadgeHtml, STATUSES, TERMINAL, tokens, when,
} from "../dom.js";

const POLL_MS = 2000;
const SIZES = [50, 200, 1000];
const MAX_SINGLE_REFRESH = 25;

function rowHtml(run, now) {
  const id = esc(run.id);
  const thread = run.thread_id
    ? `<a href="#/threads/${esc(run.thread_id)}" title="${esc(run.thread_id)}">${esc(shortId(run.thread_id))}</a>`
    : `<span class="muted">—</span>`;
  return `<tr data-id="${id}">`
    + `<td data-label="Run"><a href="#/runs/${id}" title="${id}">${esc(shortId(run.id))}</a></td>`
    + `<td data-label="Status">${statusBadgeHtml(run.status)}</td>`
    + `<td data-label="Agent"><a href="#/agents/${esc(run.agent_slug)}">${esc(run.agent_slug)}</a></td>`
    + `<td data-label="Revision" class="num">${run.revision}</td>`
    + `<td data-label="Thread">${thread}</td>`
    + `<td data-label="Created"><time datetime="${esc(run.created_at)}">${esc(when(run.created_at))}</time></td>`
    + `<td data-label="Duration" class="num dur">${esc(runDuration(run, now))}</td>`
    + `<td data-label="Tokens" class="num">${esc(tokens(run.usage))}</td>`
    + `</tr>`;
}

function fingerprint(run) {
  return `${run.status}|${run.last_seq}|${run.finished_at}|${run.started_at}|${tokens(run.usage)}`;
}

export async function mount(main, { query, signal }) {
  const limit = SIZES.includes(Number(query.limit)) ? Number(query.limit) : 50;
  const filters = { agent: query.agent || "", status: query.status || "", thread_id: query.thread || "" };
  const runs = new Map();
  const rows = new Map();
  let nextCursor = null;

  const agentSelect = h("select", { id: "f-agent", name: "agent" }, h("option", { value: "", text: "All agents" }));
  const statusSelect = h(
    "select",
    { id: "f-status", name: "status" },
    h("option", { value: "", text: "Any status" }),
    STATUSES.map((s) => h("option", { value: s, text: s.replace("_", " "), selected: s === filters.status })),
  );
  const threadInput = h("input", { id: "f-thread", name: "thread", value: filters.thread_id, placeholder: "thr_…", autocomplete: "off" });
  const sizeSelect = h(
    "select",
    { id: "f-limit", name: "limit" },
    SIZES.map((n) => h("option", { value: String(n), text: String(n), selected: n === limit })),
  );
  const filterForm = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter runs" },
    field("Agent", agentSelect),
    field("Status", statusSelect),
    field("Thread", threadInput),
    field("Show", sizeSelect),
    h("div", { class: "actions" },
      h("button", { type: "submit", text: "Apply" }),
      h("a", { href: "#/runs", class: "button", text: "Reset" })),
  );
  const apply = (e) => {
    e?.preventDefault();
    location.hash = `#/runs${qs({
      agent: agentSelect.value, status: statusSelect.value, thread: threadInput.value.trim(),
      limit: sizeSelect.value === "50" ? "" : sizeSelect.value,
    })}`;
  };
  filterForm.addEventListener("submit", apply);
  agentSelect.addEventListener("change", apply);
  statusSelect.addEventListener("change", apply);
  sizeSelect.addEventListener("change", apply);

  const info = h("p", { class: "muted", id: "runs-info", "aria-live": "polite" });
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "runs", id: "runs-table" },
    h("caption", { class: "sr-only", text: "Runs, newest first" }),
    h("thead", {}, h("tr", {}, ["Run", "Status", "Agent", "Rev", "Thread", "Created", "Duration", "Tokens"].map(
      (t) => h("th", { scope: "col", text: t }),
    ))),
    tbody,
  );
  const more = h("button", { type: "button", id: "runs-more", hidden: true, text: `Load ${limit} more` });
  main.append(
    h("div", { class: "page-head" }, h("h1", { text: "Runs" }), h("a", { href: "#/start", class: "button primary", text: "Start a run" })),
    filterForm,
    info,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "actions" }, more),
  );

  api("/v1/agents", { query: { limit: 200 }, signal }).then((page) => {
    for (const agent of page.data) {
      agentSelect.append(h("option", { value: agent.slug, text: agent.slug, selected: agent.slug === filters.agent }));
    }
    if (filters.agent && !page.data.some((a) => a.slug === filters.agent)) {
      agentSelect.append(h("option", { value: filters.agent, text: filters.agent, selected: true }));
    }
  }).catch(() => {});

  function matches(run) {
    return !filters.status || run.status === filters.status;
  }

  function indexRows() {
    rows.clear();
    for (const tr of tbody.rows) rows.set(tr.dataset.id, tr);
  }

  function renderAll() {
    const t0 = performance.now();
    const now = Date.now();
    tbody.innerHTML = Array.from(runs.values(), (run) => rowHtml(run, now)).join("");
    indexRows();
    const elapsed = performance.now() - t0;
    performance.measure?.("console:runs-render", { start: t0, duration: elapsed });
    table.dataset.renderMs = elapsed.toFixed(1);
    updateInfo(elapsed);
  }

  function appendRuns(list) {
    const t0 = performance.now();
    const now = Date.now();
    const fresh = list.filter((run) => !runs.has(run.id));
    for (const run of fresh) runs.set(run.id, run);
    tbody.insertAdjacentHTML("beforeend", fresh.map((run) => rowHtml(run, now)).join(""));
    indexRows();
    updateInfo(performance.now() - t0);
  }

  function updateInfo(renderMs) {
    const count = runs.size;
    info.textContent = count
      ? `${count} run${count === 1 ? "" : "s"}${nextCursor ? " (more available)" : ""}`
        + (renderMs !== undefined ? ` · rendered in ${renderMs.toFixed(0)} ms` : "")
      : "No runs match these filters.";
    more.hidden = !nextCursor;
  }

  function makeRow(run) {
    const tpl = document.createElement("template");
    tpl.innerHTML = rowHtml(run, Date.now());
    return tpl.content.firstElementChild;
  }

  function update(run) {
    const old = runs.get(run.id);
    if (!old) return;
    if (!matches(run)) {
      runs.delete(run.id);
      rows.get(run.id)?.remove();
      rows.delete(run.id);
      return;
    }
    if (fingerprint(old) === fingerprint(run)) return;
    runs.set(run.id, run);
    const tr = makeRow(run);
    rows.get(run.id)?.replaceWith(tr);
    rows.set(run.id, tr);
    if (old.status !== run.status) announce(`Run ${shortId(run.id)} is ${run.status}`);
  }

  function prepend(run) {
    const entries = [...runs];
    runs.clear();
    runs.set(run.id, run);
    for (const [id, r] of entries) runs.set(id, r);
    const tr = makeRow(run);
    tbody.prepend(tr);
    rows.set(run.id, tr);
  }

  async function load(cursor) {
    const page = await collect("/v1/runs", { ...filters, cursor }, limit, signal);
    nextCursor = page.next_cursor;
    return page.data;
  }

  async function poll() {
    const page = await api("/v1/runs", { query: { ...filters, limit: Math.min(limit, 50) }, signal });
    // Oldest first, so each prepend leaves the newest on top. A run older than the top row
    // that was never seen belongs to a later page, not to the top.
    for (const run of page.data.filter((r) => !runs.has(r.id)).reverse()) {
      const top = runs.values().next().value;
      if (matches(run) && (!top || run.created_at >= top.created_at)) prepend(run);
    }
    const seen = new Set(page.data.map((run) => run.id));
    for (const run of page.data) update(run);
    const stale = [...runs.values()].filter((run) => !seen.has(run.id) && !TERMINAL.has(run.status)).slice(0, MAX_SINGLE_REFRESH);
    await Promise.all(stale.map(async (run) => {
      try {
        update(await api(`/v1/runs/${encodeURIComponent(run.id)}`, { signal }));
      } catch {
        // deleted or unreachable: leave the row as it was
      }
    }));
    updateInfo();
  }

  function tickDurations() {
    const now = Date.now();
    for (const run of runs.values()) {
      if (TERMINAL.has(run.status) || !run.started_at) continue;
      const cell = rows.get(run.id)?.querySelector(".dur");
      if (cell) cell.textContent = runDuration(run, now);
    }
  }

  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      appendRuns(await load(nextCursor));
    } finally {
      more.disabled = false;
    }
  });

  const first = await load(null);
  for (const run of first) runs.set(run.id, run);
  renderAll();

  let timer = null;
  const schedule = () => {
    timer = setTimeout(async () => {
      if (signal.aborted) return;
      if (!document.hidden) await poll().catch(() => {});
      if (!signal.aborted) schedule();
    }, POLL_MS);
  };
  schedule();
  const ticker = setInterval(tickDurations, 1000);
  return () => {
    clearTimeout(timer);
    clearInterval(ticker);
  };
}

function field(label, control) {
  return h("div", { class: "field" }, h("label", { for: control.id, text: label }), control);
}
