// Threads: the list, and one thread as a conversation (the messages of all its runs, in order),
// refreshed while a run of it is active, with a box to continue it.

import { api, collect } from "../api.js";
import { clear, errorBox, esc, h, shortId, statusBadge, when } from "../dom.js";

const POLL_MS = 2000;

export const list = {
  async mount(main, { query, signal }) {
    const { data } = await collect("/v1/threads", { agent: query.agent }, 1000, signal);
    const table = h("table", { class: "threads" },
      h("caption", { class: "sr-only", text: "Threads" }),
      h("thead", {}, h("tr", {}, ["Thread", "Title", "Runs", "Active run", "Updated"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody"));
    table.tBodies[0].innerHTML = data.map((t) => `<tr>`
      + `<td data-label="Thread"><a href="#/threads/${esc(t.id)}" title="${esc(t.id)}">${esc(shortId(t.id))}</a></td>`
      + `<td data-label="Title">${esc(t.title || "")}</td>`
      + `<td data-label="Runs" class="num">${t.run_count}</td>`
      + `<td data-label="Active run">${t.active_run_id ? `<a href="#/runs/${esc(t.active_run_id)}">${esc(shortId(t.active_run_id))}</a>` : "—"}</td>`
      + `<td data-label="Updated">${esc(when(t.updated_at))}</td></tr>`).join("");
    main.append(
      h("h1", { text: query.agent ? `Threads of ${query.agent}` : "Threads" }),
      data.length ? h("div", { class: "table-wrap" }, table) : h("p", { class: "muted", text: "No threads yet. Start a run with “New thread” to begin one." }),
    );
  },
};

export const detail = {
  async mount(main, { params: [threadId], signal }) {
    const path = `/v1/threads/${encodeURIComponent(threadId)}`;
    let thread = await api(path, { signal });
    const conversation = h("ol", { class: "conversation", id: "conversation", "aria-live": "polite" });
    const runsBox = h("div", { class: "table-wrap" });
    const status = h("p", { class: "muted", id: "thread-status" });
    const prompt = h("textarea", { id: "reply", rows: 3, required: true, placeholder: "Continue the conversation…" });
    const errors = h("div");
    const send = h("button", { type: "submit", class: "primary", text: "Send" });
    const reply = h("form", { class: "card reply" },
      h("label", { for: "reply", text: "Continue this thread" }), prompt, errors, h("div", { class: "actions" }, send));
    main.append(
      h("p", { class: "crumbs" }, h("a", { href: "#/threads", text: "Threads" }), " / ", h("code", { text: thread.id })),
      h("h1", { text: thread.title || "Thread" }),
      status,
      h("section", { class: "card", "aria-labelledby": "h-conv" }, h("h2", { id: "h-conv", text: "Conversation" }), conversation),
      thread.agent_id ? reply : null,
      h("section", { class: "card", "aria-labelledby": "h-thread-runs" }, h("h2", { id: "h-thread-runs", text: "Runs" }), runsBox),
    );

    reply.addEventListener("submit", async (e) => {
      e.preventDefault();
      clear(errors);
      if (!prompt.value.trim()) return;
      send.disabled = true;
      try {
        const run = await api("/v1/runs", {
          method: "POST", signal,
          body: { agent: thread.agent_id, thread_id: thread.id, prompt: prompt.value, mode: "async" },
        });
        location.hash = `#/runs/${encodeURIComponent(run.id)}`;
      } catch (err) {
        errors.append(errorBox(err));
        if (err.code === "input_invalid") {
          errors.append(h("a", { href: `#/start?thread=${encodeURIComponent(thread.id)}`, text: "Use the input form instead" }));
        }
        send.disabled = false;
      }
    });

    let renderedCount = -1;
    async function render() {
      const runs = (await collect("/v1/runs", { thread_id: thread.id }, 1000, signal)).data.reverse();
      status.textContent = `${thread.run_count} run${thread.run_count === 1 ? "" : "s"} · updated ${when(thread.updated_at)}`
        + (thread.active_run_id ? " · a run is active" : "");
      if (thread.messages.length !== renderedCount) {
        renderedCount = thread.messages.length;
        clear(conversation);
        for (const m of thread.messages) {
          conversation.append(h("li", { class: `msg ${m.role}` },
            h("div", { class: "msg-head" }, h("span", { class: "role", text: m.role }), " ",
              h("a", { href: `#/runs/${encodeURIComponent(m.run_id)}`, class: "muted", text: shortId(m.run_id) }), " ",
              h("time", { class: "muted", datetime: m.created_at, text: when(m.created_at) })),
            h("div", { class: "text", text: m.content })));
        }
        if (!thread.messages.length) conversation.append(h("li", { class: "muted", text: "No messages yet." }));
      }
      const tbody = h("tbody");
      for (const run of runs) {
        tbody.append(h("tr", {},
          h("td", { "data-label": "Run" }, h("a", { href: `#/runs/${encodeURIComponent(run.id)}`, text: shortId(run.id) })),
          h("td", { "data-label": "Status" }, statusBadge(run.status)),
          h("td", { "data-label": "Agent", text: `${run.agent_slug} rev ${run.revision}` }),
          h("td", { "data-label": "Created", text: when(run.created_at) })));
      }
      clear(runsBox).append(h("table", {},
        h("thead", {}, h("tr", {}, ["Run", "Status", "Agent", "Created"].map((t) => h("th", { scope: "col", text: t })))), tbody));
    }

    await render();
    let timer = null;
    const poll = () => {
      timer = setTimeout(async () => {
        try {
          thread = await api(path, { signal });
          await render();
        } catch {
          // keep the last view; the next poll retries
        }
        if (!signal.aborted) poll();
      }, POLL_MS);
    };
    poll();
    return () => clearTimeout(timer);
  },
};
