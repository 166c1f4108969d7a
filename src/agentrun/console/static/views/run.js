// Run detail: header and cancel, result (checked against the output schema), usage, input,
// a timing bar per step, and the event timeline, live over SSE until the terminal event.

import { api, followEvents } from "../api.js";
import {
  announce, clear, duration, h, ms, pretty, runDuration, statusBadge, TERMINAL, when,
} from "../dom.js";
import { check } from "../schema.js";
import { Timeline } from "./timeline.js";

const STATUS_OF_EVENT = {
  "run.started": "running",
  "run.requires_action": "requires_action",
  "run.resumed": "queued",
  "run.completed": "completed",
  "run.failed": "failed",
  "run.cancelled": "cancelled",
  "run.timed_out": "timed_out",
};

export async function mount(main, { params: [runId], signal }) {
  let run = await api(`/v1/runs/${encodeURIComponent(runId)}`, { signal });
  let schema = null;
  let schemaSource = "";

  const statusSlot = h("span", { id: "run-status", role: "status" });
  const cancelButton = h("button", { type: "button", id: "cancel-run", class: "danger", text: "Cancel run" });
  const meta = h("dl", { class: "meta" });
  const resultSection = h("section", { "aria-labelledby": "h-result", class: "card" });
  const actionSection = h("section", { "aria-labelledby": "h-actions", class: "card action-card", id: "run-actions", hidden: true });
  const usageSection = h("section", { "aria-labelledby": "h-usage", class: "card" });
  const inputSection = h("section", { "aria-labelledby": "h-input", class: "card" });
  const streamState = h("span", { class: "muted", id: "stream-state" });
  const timeline = new Timeline();
  const eventList = h("ol", { class: "events", id: "events" });

  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/runs", text: "Runs" }), " / ", h("code", { text: run.id })),
    h("div", { class: "page-head" },
      h("h1", {}, "Run ", statusSlot),
      h("div", { class: "actions" }, cancelButton)),
    meta,
    actionSection,
    h("div", { class: "grid2" }, resultSection, usageSection),
    inputSection,
    h("section", { "aria-labelledby": "h-timing", class: "card" },
      h("h2", { id: "h-timing", text: "Timing" }), timeline.element),
    h("section", { "aria-labelledby": "h-events", class: "card" },
      h("h2", { id: "h-events" }, "Events ", streamState), eventList),
  );

  cancelButton.addEventListener("click", async () => {
    cancelButton.disabled = true;
    try {
      run = await api(`/v1/runs/${encodeURIComponent(run.id)}/cancel`, { method: "POST", signal });
    } catch (err) {
      if (err.code !== "run_finished") {
        cancelButton.after(h("span", { class: "error", role: "alert", text: ` ${err.message}` }));
      }
      run = await api(`/v1/runs/${encodeURIComponent(run.id)}`, { signal });
    }
    renderRun();
  });

  async function loadSchema() {
    if (run.output_schema) {
      schema = run.output_schema;
      schemaSource = "the run's output_schema";
      return;
    }
    try {
      const revision = await api(`/v1/agents/${encodeURIComponent(run.agent_id)}/revisions/${run.revision}`, { signal });
      schema = revision.definition.output_schema;
      schemaSource = `revision ${run.revision}'s output_schema`;
    } catch {
      schema = null;
    }
  }

  function renderRun() {
    clear(statusSlot).append(statusBadge(run.status));
    cancelButton.hidden = TERMINAL.has(run.status);
    cancelButton.disabled = run.status === "cancelling";
    clear(meta);
    const item = (term, ...value) => meta.append(h("div", {}, h("dt", { text: term }), h("dd", {}, ...value)));
    item("Id", h("code", { text: run.id }));
    item("Agent", h("a", { href: `#/agents/${encodeURIComponent(run.agent_slug)}`, text: run.agent_slug }), ` rev ${run.revision}`);
    item("Thread", run.thread_id ? h("a", { href: `#/threads/${encodeURIComponent(run.thread_id)}`, id: "thread-link", text: run.thread_id }) : "—");
    item("Model", run.model, run.offline ? h("span", { class: "tag", text: "offline test model" }) : null);
    item("Mode", run.mode);
    item("Created", when(run.created_at));
    item("Started", when(run.started_at) || "—");
    item("Finished", when(run.finished_at) || "—");
    item("Duration", h("span", { id: "run-duration", text: runDuration(run) || "—" }));
    if (run.attempt > 1) item("Attempts", String(run.attempt));
    renderResult();
    renderUsage();
    renderActions();
  }

  // ---- waiting for a person: approve / deny / edit / answer ----
  function renderActions() {
    const open = run.status === "requires_action" ? (run.pending_actions || []).filter((p) => !p.answer) : [];
    // Every status event refreshes the run and rebuilds these cards: carry over what the person
    // has typed (an answer, edited arguments, a reason) so a refresh never loses it.
    const typed = new Map();
    for (const field of actionSection.querySelectorAll(".pending textarea, .pending input")) {
      typed.set(`${field.closest(".pending").dataset.callId} ${field.className}`, field.value);
    }
    actionSection.hidden = open.length === 0;
    clear(actionSection);
    if (!open.length) return;
    actionSection.append(
      h("h2", { id: "h-actions", text: "Waiting for you" }),
      h("p", { class: "muted", text: run.action_deadline ? `The run resumes once every call is answered; it waits until ${when(run.action_deadline)}.` : "The run resumes once every call is answered." }),
      ...open.map(pendingCard),
    );
    for (const field of actionSection.querySelectorAll(".pending textarea, .pending input")) {
      const before = typed.get(`${field.closest(".pending").dataset.callId} ${field.className}`);
      if (before !== undefined) field.value = before;
    }
  }

  function pendingCard(pending) {
    const problem = h("p", { class: "error", role: "alert", hidden: true });
    const box = h("div", { class: "pending", "data-call-id": pending.id });
    const send = async (action, button) => {
      problem.hidden = true;
      button.disabled = true;
      try {
        run = await api(`/v1/runs/${encodeURIComponent(run.id)}/actions`, { method: "POST", body: { actions: [{ call_id: pending.id, ...action }] }, signal });
        announce(`Answered ${pending.tool}`);
        renderRun();
      } catch (err) {
        problem.textContent = err.message;
        problem.hidden = false;
        button.disabled = false;
      }
    };
    const reason = h("input", { type: "text", class: "deny-reason", "aria-label": `Reason for denying ${pending.tool} (the agent sees it)`, placeholder: "Reason (the agent sees it)" });
    const deny = h("button", { type: "button", class: "danger", text: "Deny" });
    deny.addEventListener("click", () => send(reason.value.trim() ? { decision: "deny", reason: reason.value.trim() } : { decision: "deny" }, deny));
    if (pending.kind === "question") {
      const answer = h("textarea", { rows: 3, class: "answer-input", "aria-label": `Answer: ${pending.question || ""}` });
      const submit = h("button", { type: "button", class: "primary", text: "Answer" });
      submit.addEventListener("click", () => {
        let value = answer.value;
        if (pending.answer_schema) {
          try {
            value = JSON.parse(answer.value);
          } catch {
            problem.textContent = "The answer must be JSON matching the schema.";
            problem.hidden = false;
            return;
          }
        }
        send({ decision: "answer", answer: value }, submit);
      });
      box.append(
        h("p", {}, h("strong", { text: "Question: " }), h("span", { class: "question", text: pending.question || "" })),
        pending.answer_schema ? h("details", {}, h("summary", { text: "Answer schema (JSON)" }), h("pre", { class: "code", text: pretty(pending.answer_schema) })) : null,
        answer, h("div", { class: "buttons" }, submit, reason, deny), problem);
      return box;
    }
    const args = h("textarea", { rows: 4, class: "code edit-args", "aria-label": `Arguments for ${pending.tool}` });
    args.value = pretty(pending.args || {});
    const approve = h("button", { type: "button", class: "primary", text: "Approve" });
    approve.addEventListener("click", () => {
      let edited;
      try {
        edited = JSON.parse(args.value);
      } catch {
        problem.textContent = "The arguments must be a JSON object.";
        problem.hidden = false;
        return;
      }
      const same = JSON.stringify(edited) === JSON.stringify(pending.args || {});
      send(same ? { decision: "approve" } : { decision: "approve", args: edited }, approve);
    });
    box.append(
      h("p", {}, "Allow ", h("strong", { class: "tool-name", text: pending.tool }), " with these arguments? Edit them to approve with others."),
      args, h("div", { class: "buttons" }, approve, reason, deny), problem);
    return box;
  }

  function renderResult() {
    clear(resultSection).append(h("h2", { id: "h-result", text: "Result" }));
    if (run.error) {
      const box = h("div", { class: "error", role: "alert", id: "run-error" },
        h("strong", { text: `${run.error.code}: ` }), run.error.message);
      if (run.error.details) box.append(h("pre", { text: pretty(run.error.details) }));
      resultSection.append(box);
    }
    if (run.result === null || run.result === undefined) {
      if (!run.error) resultSection.append(h("p", { class: "muted", text: TERMINAL.has(run.status) ? "No result." : "Not finished yet." }));
      return;
    }
    if (run.result_type === "json" || typeof run.result !== "string") {
      resultSection.append(h("p", { class: "muted", text: `result_type: ${run.result_type || "json"}` }));
      resultSection.append(h("pre", { class: "code", id: "run-result", text: pretty(run.result) }));
      if (schema) {
        const errors = check(schema, run.result);
        resultSection.append(errors.length
          ? h("div", { class: "error", id: "schema-check" }, `Does not match ${schemaSource}:`, h("ul", {}, errors.map((e) => h("li", { text: e }))))
          : h("p", { class: "ok", id: "schema-check", text: `✓ Valid against ${schemaSource} (checked in the browser).` }));
        resultSection.append(h("details", {}, h("summary", { text: "Output schema" }), h("pre", { class: "code", text: pretty(schema) })));
      }
    } else {
      resultSection.append(h("div", { class: "answer", id: "run-result", text: run.result }));
    }
  }

  function renderUsage() {
    const usage = run.usage || {};
    clear(usageSection).append(
      h("h2", { id: "h-usage", text: "Usage" }),
      h("dl", { class: "stats", id: "run-usage" },
        stat("Input tokens", usage.input_tokens),
        stat("Output tokens", usage.output_tokens),
        stat("Requests", usage.requests),
        stat("Tool calls", usage.tool_calls),
        stat("Iterations", run.iterations),
        // At the server's observability.prices; absent when the model has no price.
        usage.cost_usd == null ? null : h("div", { id: "run-cost" }, h("dt", { text: "Cost (USD)" }), h("dd", { text: `$${usage.cost_usd.toFixed(6)}` }))),
    );
  }

  function renderInput() {
    clear(inputSection).append(h("h2", { id: "h-input", text: "Input" }));
    if (run.prompt !== null) inputSection.append(h("div", { class: "answer", text: run.prompt }));
    if (run.input) inputSection.append(h("pre", { class: "code", text: pretty(run.input) }));
    if (run.messages) {
      inputSection.append(h("ol", { class: "messages" }, run.messages.map((m) => h("li", { class: `msg ${m.role}` },
        h("span", { class: "role", text: m.role }), h("div", { class: "text", text: m.content })))));
    }
    const config = Object.entries(run.config || {}).filter(([, v]) => v !== null);
    if (config.length) inputSection.append(h("p", { class: "muted", text: `config: ${config.map(([k, v]) => `${k}=${v}`).join(", ")}` }));
  }

  // ---- events ----
  const toolItems = new Map();
  let answer = null;
  let firstAt = NaN;

  function prefix(event) {
    if (!Number.isFinite(firstAt)) firstAt = ms(event.created_at);
    const offset = ms(event.created_at) - firstAt;
    return [
      h("span", { class: "seq", text: `#${event.seq}` }),
      h("span", { class: "at", text: `+${duration(offset) || "0 ms"}` }),
      h("span", { class: `type t-${event.type.replace(".", "-")}`, text: event.type }),
    ];
  }

  function addEvent(event) {
    timeline.add(event);
    const status = STATUS_OF_EVENT[event.type];
    if (status && run.status !== status) {
      run = { ...run, status };
      if (event.type === "run.started") run.started_at = event.created_at;
      renderRun();
      announce(`Run ${run.status}`);
    }
    if (event.type === "message.delta") {
      if (!answer) {
        answer = { text: h("div", { class: "text" }), head: prefix(event), first: event.seq };
        const li = h("li", { class: "ev answer-ev", "data-seq": event.seq }, h("div", { class: "ev-head" }, answer.head), answer.text);
        answer.li = li;
        eventList.append(li);
      }
      answer.head[0].textContent = `#${answer.first}–${event.seq}`;
      answer.text.append(event.content || "");
      return;
    }
    if (event.type === "message") {
      if (answer) {
        answer.text.textContent = event.content || "";
        answer.head[0].textContent = `#${answer.first}–${event.seq}`;
        answer.head[2].textContent = "message";
        answer = null;
        return;
      }
      eventList.append(h("li", { class: "ev answer-ev", "data-seq": event.seq }, h("div", { class: "ev-head" }, prefix(event)),
        h("div", { class: "text", text: event.content || "" })));
      return;
    }
    if (event.type === "tool_call") {
      const data = event.data || {};
      const result = h("div", { class: "tool-result" }, h("p", { class: "muted", text: "waiting for the result…" }));
      const state = h("span", { class: "tag pending", text: "running" });
      const details = h("details", { class: "tool", "data-tool-call-id": data.tool_call_id || "" },
        h("summary", {}, prefix(event), h("strong", { class: "tool-name", text: data.name || "tool" }), state),
        h("h3", { text: "Arguments" }),
        h("pre", { class: "code tool-args", text: pretty(data.args ?? {}) }),
        h("h3", { text: "Result" }),
        result);
      toolItems.set(data.tool_call_id, { details, result, state });
      eventList.append(h("li", { class: "ev", "data-seq": event.seq }, details));
      return;
    }
    if (event.type === "tool_result") {
      const data = event.data || {};
      const item = toolItems.get(data.tool_call_id);
      const body = [
        h("p", { class: "muted", text: `#${event.seq} · ${data.ok === false ? "failed" : "ok"}` }),
        h("pre", { class: "code", text: event.content ?? "" }),
      ];
      if (item) {
        clear(item.result).append(...body);
        item.state.className = `tag ${data.ok === false ? "bad" : "good"}`;
        item.state.textContent = data.ok === false ? "error" : "ok";
        return;
      }
      eventList.append(h("li", { class: "ev", "data-seq": event.seq }, h("details", { class: "tool" },
        h("summary", {}, prefix(event), h("strong", { text: data.name || "tool" })), ...body)));
      return;
    }
    eventList.append(simpleEvent(event, prefix(event)));
  }

  await loadSchema();
  renderRun();
  renderInput();
  timeline.setRun(run);

  const refresh = async () => {
    run = await api(`/v1/runs/${encodeURIComponent(run.id)}`, { signal });
    timeline.setRun(run);
    renderRun();
  };

  const pump = setInterval(() => {
    timeline.render();
    const clock = document.getElementById("run-duration");
    if (clock && !TERMINAL.has(run.status)) clock.textContent = runDuration(run) || "—";
  }, 500);
  followEvents(run.id, {
    signal,
    onEvent: (event) => {
      addEvent(event);
      if (event.type === "usage" || STATUS_OF_EVENT[event.type] && event.type !== "run.started") {
        refresh().catch(() => {});
      }
    },
    onState: (state, err) => {
      streamState.textContent = {
        live: "· live", done: "· complete", reconnecting: "· reconnecting…", error: `· ${err?.message || "error"}`,
      }[state] || "";
      if (state === "done") clearInterval(pump);
    },
  }).catch(() => {});
  return () => clearInterval(pump);
}

function stat(label, value) {
  return h("div", {}, h("dt", { text: label }), h("dd", { text: (value ?? 0).toLocaleString() }));
}

function simpleEvent(event, head) {
  const li = h("li", { class: `ev${event.level && event.level !== "info" ? ` lvl-${event.level}` : ""}`, "data-seq": event.seq },
    h("div", { class: "ev-head" }, head));
  const data = event.data || {};
  if (event.type === "usage") {
    li.append(h("div", { class: "muted", text: `${data.input_tokens ?? 0} in / ${data.output_tokens ?? 0} out tokens, ${data.requests ?? 0} requests, ${data.tool_calls ?? 0} tool calls` }));
  } else if (event.type === "planning" || event.type === "reasoning") {
    li.append(h("div", { class: `text ${event.type}`, text: event.content || "" }));
  } else if (event.type === "run.queued") {
    li.append(h("div", { class: "muted", text: `agent ${data.agent} rev ${data.revision}${data.thread_id ? ` · thread ${data.thread_id}` : ""}` }));
  } else if (event.type === "run.started") {
    const bits = [data.model && `model ${data.model}`, data.offline && "offline", data.executor && `executor ${data.executor}`, data.attempt > 1 && `attempt ${data.attempt}`];
    li.append(h("div", { class: "muted", text: bits.filter(Boolean).join(" · ") }));
  } else if (event.type === "run.completed") {
    li.append(h("div", { class: "muted", text: `result_type ${data.result_type ?? "—"}` }));
  } else if (data.error || event.content) {
    li.append(h("div", { class: event.type.startsWith("run.") ? "error" : "text", text: event.content || data.error?.message || "" }));
    if (event.type === "log" && Object.keys(data).length) li.append(h("pre", { class: "code", text: pretty(data) }));
  }
  return li;
}
