// The console's only way to the server: fetch with the API key as a Bearer header.
// The key lives in sessionStorage (gone when the tab closes) and never in a URL.

const KEY = "agentrun.console.key";
const KEYLESS = "agentrun.console.keyless";

export const auth = {
  get key() {
    return sessionStorage.getItem(KEY);
  },
  get ready() {
    return Boolean(sessionStorage.getItem(KEY)) || sessionStorage.getItem(KEYLESS) === "1";
  },
  useKey(key) {
    sessionStorage.setItem(KEY, key);
    sessionStorage.removeItem(KEYLESS);
  },
  useNoKey() {
    sessionStorage.removeItem(KEY);
    sessionStorage.setItem(KEYLESS, "1");
  },
  clear() {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(KEYLESS);
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    const error = body?.error || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || `http_${status}`;
    this.details = error.details ?? null;
  }
}

function headers(extra = {}, key = auth.key) {
  const all = { Accept: "application/json", ...extra };
  if (key) all.Authorization = `Bearer ${key}`;
  return all;
}

function url(path, query) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== null && v !== undefined && v !== "") search.set(k, v);
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

async function fail(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: keep the status
  }
  const err = new ApiError(response.status, body);
  if (response.status === 401) window.dispatchEvent(new CustomEvent("agentrun:unauthorized", { detail: err }));
  return err;
}

export async function api(path, { method = "GET", body, query, signal, extraHeaders } = {}) {
  const init = { method, signal, headers: headers(extraHeaders) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(url(path, query), init);
  if (!response.ok) throw await fail(response);
  if (response.status === 204) return null;
  return response.json();
}

/** The status code of `GET /v1/agents` with this key (or none): 200 means the key works. */
export async function probe(key) {
  const response = await fetch("/v1/agents?limit=1", { headers: headers({}, key) });
  return response.status;
}

/** Follow `next_cursor` until `max` items or the end; returns {data, next_cursor}. */
export async function collect(path, query, max, signal) {
  const data = [];
  let cursor = query.cursor || null;
  do {
    const limit = Math.min(200, max - data.length);
    const page = await api(path, { query: { ...query, cursor, limit }, signal });
    data.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor && data.length < max);
  return { data, next_cursor: cursor };
}

const TERMINAL_EVENTS = new Set(["run.completed", "run.failed", "run.cancelled", "run.timed_out"]);

/**
 * Follow a run's events over SSE with fetch (EventSource cannot send an Authorization header).
 * Reconnects after a drop with `Last-Event-ID`, so no event is lost or repeated. Resolves after
 * the terminal event, or when `signal` aborts.
 */
export async function followEvents(runId, { after = 0, onEvent, onState, signal }) {
  let last = after;
  let delay = 250;
  while (!signal?.aborted) {
    let done = false;
    try {
      const extra = { Accept: "text/event-stream" };
      if (last > 0) extra["Last-Event-ID"] = String(last);
      const response = await fetch(`/v1/runs/${encodeURIComponent(runId)}/events`, {
        headers: headers(extra),
        signal,
        cache: "no-store",
      });
      if (!response.ok) throw await fail(response);
      onState?.("live");
      for await (const message of sseMessages(response.body)) {
        if (!message.data) continue;
        const event = JSON.parse(message.data);
        if (event.seq <= last) continue;
        last = event.seq;
        delay = 250;
        onEvent(event);
        if (TERMINAL_EVENTS.has(event.type)) done = true;
      }
      if (done) {
        onState?.("done");
        return;
      }
    } catch (err) {
      if (signal?.aborted) return;
      if (err instanceof ApiError && err.status < 500) {
        onState?.("error", err);
        throw err;
      }
    }
    onState?.("reconnecting");
    await sleep(delay, signal);
    delay = Math.min(delay * 2, 5000);
  }
}

function sleep(millis, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, millis);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/** Parse a text/event-stream body into {id, event, data} messages (the WHATWG rules). */
export async function* sseMessages(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let message = { id: null, event: "message", data: [] };
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer[i];
        if (c !== "\n" && c !== "\r") continue;
        // A \r at the very end may be the first half of \r\n: wait for more input.
        if (c === "\r" && i === buffer.length - 1) break;
        const line = buffer.slice(start, i);
        start = c === "\r" && buffer[i + 1] === "\n" ? i + 2 : i + 1;
        if (c === "\r" && buffer[i + 1] === "\n") i++;
        if (line === "") {
          if (message.data.length) yield { id: message.id, event: message.event, data: message.data.join("\n") };
          message = { id: message.id, event: "message", data: [] };
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "data") message.data.push(value);
        else if (field === "event") message.event = value;
        else if (field === "id") message.id = value;
      }
      buffer = buffer.slice(start);
    }
  } finally {
    reader.releaseLock();
  }
}
