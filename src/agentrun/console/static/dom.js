// Small DOM and formatting helpers. Text from runs (model output, tool results) is never
// parsed as HTML: `h` sets text nodes, and `esc` escapes every value put in a template string.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export function announce(text) {
  const region = document.getElementById("announce");
  if (region) region.textContent = text;
}

export const TERMINAL = new Set(["completed", "failed", "cancelled", "timed_out"]);
export const STATUSES = ["queued", "running", "requires_action", "cancelling", "completed", "failed", "cancelled", "timed_out"];

export function statusBadge(status) {
  return h("span", { class: `badge s-${status}`, text: status.replaceAll("_", " ") });
}

export function statusBadgeHtml(status) {
  return `<span class="badge s-${esc(status)}">${esc(status.replaceAll("_", " "))}</span>`;
}

export function ms(iso) {
  return iso ? Date.parse(iso) : NaN;
}

export function duration(millis) {
  if (!Number.isFinite(millis) || millis < 0) return "";
  if (millis < 1000) return `${Math.round(millis)} ms`;
  if (millis < 60_000) return `${(millis / 1000).toFixed(millis < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(millis / 60_000);
  if (minutes < 60) return `${minutes} m ${Math.round((millis % 60_000) / 1000)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} m`;
}

export function runDuration(run, now = Date.now()) {
  const start = ms(run.started_at);
  if (!Number.isFinite(start)) return "";
  const end = run.finished_at ? ms(run.finished_at) : now;
  return duration(end - start);
}

const timeFormat = new Intl.DateTimeFormat(undefined, {
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
});

export function when(iso) {
  return iso ? timeFormat.format(new Date(iso)) : "";
}

export function tokens(usage) {
  if (!usage) return "";
  const total = (usage.input_tokens || 0) + (usage.output_tokens || 0);
  return total ? total.toLocaleString() : "0";
}

export function shortId(id) {
  if (!id) return "";
  const [prefix, rest] = id.includes("_") ? id.split("_", 2) : ["", id];
  return `${prefix ? prefix + "_" : ""}…${rest.slice(-8)}`;
}

export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

/** JSON with object keys sorted, so two definitions diff by content, not key order. */
export function canonical(value) {
  return JSON.stringify(sortKeys(value), null, 2);
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
  }
  return value;
}

export function errorBox(err) {
  const box = h("div", { class: "error", role: "alert" });
  box.append(h("strong", { text: err.code ? `${err.code}: ` : "Error: " }), err.message || String(err));
  if (err.details) box.append(h("pre", { text: pretty(err.details) }));
  return box;
}

export function qs(params) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") search.set(k, v);
  const text = search.toString();
  return text ? `?${text}` : "";
}
