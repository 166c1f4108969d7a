// Start a run: pick an agent; its input schema becomes a form (or a JSON box), no schema means a
// prompt box; optional thread and mode. The new run opens and streams in the run view.

import { api, ApiError, auth, collect } from "../api.js";
import { clear, errorBox, h, pretty } from "../dom.js";
import { isFormable, schemaForm } from "../schema.js";

export async function mount(main, { query, signal }) {
  const { data: agents } = await collect("/v1/agents", {}, 1000, signal);
  main.append(h("h1", { text: "Start a run" }));
  if (!agents.length) {
    main.append(h("p", {}, "No agents yet. Create one with the API or ", h("code", { text: "agentrun agents apply" }), "."));
    return;
  }
  const chosen = agents.find((a) => a.slug === query.agent) || agents.find((a) => a.slug === "demo") || agents[0];
  const agentSelect = h("select", { id: "agent", name: "agent", required: true },
    agents.map((a) => h("option", { value: a.slug, text: a.name && a.name !== a.slug ? `${a.slug} — ${a.name}` : a.slug, selected: a === chosen })));
  const about = h("p", { class: "muted", id: "agent-about" });
  const inputArea = h("fieldset", { class: "input-area" }, h("legend", { text: "Input" }));
  const threadSelect = h("select", { id: "thread", name: "thread" });
  const multitask = h("select", { id: "multitask", name: "multitask" },
    ["enqueue", "reject", "interrupt"].map((m) => h("option", { value: m, text: m })));
  const modes = h("fieldset", { class: "modes" }, h("legend", { text: "Mode" }),
    radio("mode", "async", "async — start and watch the events (recommended)", true),
    radio("mode", "stream", "stream — the create request streams; the console follows the run's events"),
    radio("mode", "sync", "sync — wait for the finished run, then open it"));
  const revision = h("input", { id: "revision", name: "revision", type: "number", min: 1, step: 1, inputmode: "numeric", placeholder: "published" });
  const config = ["max_turns", "max_tokens", "timeout_s", "temperature"].map((name) => h("input", {
    id: `cfg-${name}`, name, type: "number", min: 0, step: name === "temperature" || name === "timeout_s" ? "any" : "1", placeholder: "agent default",
  }));
  const errors = h("div", { id: "start-errors" });
  // Disabled until the form is wired (below, after the agent's threads load): a click before that
  // would submit the form natively and reload the page instead of starting a run.
  const submit = h("button", { type: "submit", class: "primary", id: "start-submit", text: "Start run", disabled: true });
  const form = h("form", { class: "card start", id: "start-form", novalidate: true },
    field("Agent", agentSelect), about, inputArea,
    h("div", { class: "row" }, field("Thread", threadSelect), field("If the thread is busy", multitask)),
    modes,
    h("details", { class: "options" }, h("summary", { text: "Revision and limits" }),
      h("div", { class: "row" }, field("Revision", revision), ...config.map((c) => field(c.name, c)))),
    errors,
    h("div", { class: "actions" }, submit));
  main.append(form);

  let readInput = () => ({});

  async function selectAgent() {
    const agent = agents.find((a) => a.slug === agentSelect.value);
    const def = agent.definition;
    about.textContent = `${agent.description ? `${agent.description} · ` : ""}model ${def.model} · published revision ${agent.published_revision ?? "none"}`;
    clear(inputArea).append(h("legend", { text: "Input" }));
    readInput = buildInput(inputArea, def.input_schema);
    clear(threadSelect).append(h("option", { value: "", text: "No thread" }), h("option", { value: "new", text: "New thread" }));
    if (query.thread) threadSelect.append(h("option", { value: query.thread, text: query.thread, selected: true }));
    try {
      const page = await api("/v1/threads", { query: { agent: agent.slug, limit: 50 }, signal });
      for (const t of page.data) {
        if (t.id === query.thread) continue;
        threadSelect.append(h("option", { value: t.id, text: `${t.title || t.id} (${t.run_count} runs)` }));
      }
    } catch {
      // threads are optional here
    }
  }
  agentSelect.addEventListener("change", selectAgent);
  await selectAgent();

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clear(errors);
    const body = { agent: agentSelect.value, mode: form.elements.mode.value };
    try {
      Object.assign(body, readInput());
      if (revision.value) body.revision = Number(revision.value);
      const cfg = {};
      for (const c of config) if (c.value !== "") cfg[c.name] = Number(c.value);
      if (Object.keys(cfg).length) body.config = cfg;
    } catch (err) {
      errors.append(errorBox({ code: "input", message: err.message }));
      return;
    }
    submit.disabled = true;
    try {
      if (threadSelect.value === "new") {
        const thread = await api("/v1/threads", { method: "POST", body: { agent: body.agent }, signal });
        body.thread_id = thread.id;
      } else if (threadSelect.value) {
        body.thread_id = threadSelect.value;
      }
      if (body.thread_id) body.multitask = multitask.value;
      if (body.mode === "sync") errors.append(h("p", { class: "muted", role: "status", text: "Waiting for the run to finish (sync mode)…" }));
      const runId = body.mode === "stream" ? await startStream(body) : (await api("/v1/runs", { method: "POST", body, signal })).id;
      location.hash = `#/runs/${encodeURIComponent(runId)}`;
    } catch (err) {
      clear(errors).append(errorBox(err));
      submit.disabled = false;
    }
  });
  submit.disabled = false;
}

function buildInput(area, schema) {
  if (!schema) {
    const prompt = h("textarea", { id: "prompt", name: "prompt", rows: 5, required: true, placeholder: "Ask the agent…" });
    area.append(h("div", { class: "field" }, h("label", { for: "prompt", text: "Prompt" }), prompt));
    return () => {
      if (!prompt.value.trim()) throw new Error("prompt: write something for the agent");
      return { prompt: prompt.value };
    };
  }
  const json = h("textarea", { id: "input-json", name: "input", rows: 8, class: "code", spellcheck: "false" });
  const jsonField = h("div", { class: "field" }, h("label", { for: "input-json", text: "Input (JSON)" }), json,
    h("details", {}, h("summary", { text: "Input schema" }), h("pre", { class: "code", text: pretty(schema) })));
  const readJson = () => {
    try {
      const value = JSON.parse(json.value || "{}");
      if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("not an object");
      return { input: value };
    } catch (err) {
      throw new Error(`input: ${err.message === "not an object" ? "must be a JSON object" : "not valid JSON"}`);
    }
  };
  if (!isFormable(schema)) {
    json.value = "{}";
    area.append(jsonField);
    return readJson;
  }
  const generated = schemaForm(schema);
  const asJson = h("input", { id: "as-json", type: "checkbox" });
  area.append(generated.element, jsonField, h("div", { class: "field check" }, asJson, h("label", { for: "as-json", text: "Edit as JSON" })));
  jsonField.hidden = true;
  asJson.addEventListener("change", () => {
    if (asJson.checked) {
      let value = {};
      try {
        value = generated.read();
      } catch {
        // incomplete form: start the JSON from what is there
      }
      json.value = pretty(value);
    }
    jsonField.hidden = !asJson.checked;
    generated.element.hidden = asJson.checked;
  });
  return () => (asJson.checked ? readJson() : { input: generated.read() });
}

/** POST with mode=stream: the run id comes in the X-Run-Id header; the run view then follows it. */
async function startStream(body) {
  const headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
  if (auth.key) headers.Authorization = `Bearer ${auth.key}`;
  const response = await fetch("/v1/runs", { method: "POST", headers, body: JSON.stringify(body) });
  if (!response.ok) {
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      // keep the status only
    }
    throw new ApiError(response.status, payload);
  }
  const runId = response.headers.get("X-Run-Id");
  // The run goes on without this connection; the run view reads the same events by seq.
  response.body?.cancel().catch(() => {});
  return runId;
}

function field(label, control) {
  return h("div", { class: "field" }, h("label", { for: control.id, text: label }), control);
}

function radio(name, value, label, checked = false) {
  const id = `${name}-${value}`;
  return h("div", { class: "check" }, h("input", { type: "radio", id, name, value, checked }), h("label", { for: id, text: label }));
}
