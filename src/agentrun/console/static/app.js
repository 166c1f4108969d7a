// The console shell: login, navigation and a hash router (#/runs, #/runs/<id>, ...), so the
// server only serves one page and a reload or a shared link opens the same view.

import { auth, probe } from "./api.js";
import { clear, h } from "./dom.js";
import * as agents from "./views/agents.js";
import * as runDetail from "./views/run.js";
import * as runs from "./views/runs.js";
import * as start from "./views/start.js";
import * as threads from "./views/threads.js";

const ROUTES = [
  [/^\/runs\/([^/]+)$/, runDetail, "runs"],
  [/^\/runs$/, runs, "runs"],
  [/^\/start$/, start, "start"],
  [/^\/agents\/([^/]+)$/, agents.detail, "agents"],
  [/^\/agents$/, agents.list, "agents"],
  [/^\/threads\/([^/]+)$/, threads.detail, "threads"],
  [/^\/threads$/, threads.list, "threads"],
];

const main = document.getElementById("main");
let cleanup = null;
let loginNotice = "";

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/runs";
  const [path, search = ""] = raw.split("?");
  return { path, query: Object.fromEntries(new URLSearchParams(search)) };
}

async function route(moveFocus = false) {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const { path, query } = parseHash();
  if (path === "/login" || !auth.ready) {
    await showLogin();
    return;
  }
  document.getElementById("top").hidden = false;
  document.getElementById("who").textContent = auth.key ? "API key in use" : "no API key";
  const found = ROUTES.find(([pattern]) => pattern.test(path));
  if (!found) {
    clear(main).append(h("h1", { text: "Not found" }), h("p", {}, h("a", { href: "#/runs", text: "Back to runs" })));
    return;
  }
  const [pattern, view, section] = found;
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const params = path.match(pattern).slice(1).map(decodeURIComponent);
  const controller = new AbortController();
  cleanup = () => controller.abort();
  clear(main);
  // After a navigation, put keyboard and screen reader users at the new content, as a page load would.
  if (moveFocus) main.focus({ preventScroll: true });
  try {
    const dispose = await view.mount(main, { params, query, signal: controller.signal });
    if (typeof dispose === "function") {
      const abort = cleanup;
      cleanup = () => {
        abort();
        dispose();
      };
    }
  } catch (err) {
    if (controller.signal.aborted) return;
    main.append(h("div", { class: "error", role: "alert", text: `${err.code || "error"}: ${err.message}` }));
  }
}

async function showLogin() {
  document.getElementById("top").hidden = true;
  clear(main);
  let keyless = 0;
  try {
    keyless = await probe(null);
  } catch {
    keyless = 0;
  }
  const input = h("input", {
    id: "api-key", type: "password", name: "api-key", autocomplete: "off", spellcheck: "false", required: true,
  });
  const message = h("p", { class: "error", role: "alert", hidden: !loginNotice, text: loginNotice });
  const form = h(
    "form",
    { class: "login card", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title", text: "agentrun console" }),
    h("p", { class: "muted", text: "Sign in with an API key. It stays in this browser tab (sessionStorage) and is sent as a Bearer header." }),
    h("label", { for: "api-key", text: "API key" }),
    input,
    message,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", text: "Sign in" })),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    const status = await probe(key).catch(() => 0);
    if (status === 200) {
      auth.useKey(key);
      loginNotice = "";
      leaveLogin();
    } else {
      message.hidden = false;
      message.textContent = status === 401 ? "This key was refused." : `The server answered ${status || "nothing"}.`;
      input.focus();
    }
  });
  if (keyless === 200) {
    form.append(
      h("p", { class: "muted", text: "This server also accepts requests without a key (embedded loopback mode)." }),
      h("button", {
        type: "button",
        id: "keyless",
        text: "Continue without a key",
        onclick: () => {
          auth.useNoKey();
          loginNotice = "";
          leaveLogin();
        },
      }),
    );
  }
  main.append(form);
  input.focus();
}

function leaveLogin() {
  if (parseHash().path === "/login") location.hash = "#/runs";
  else route();
}

window.addEventListener("agentrun:unauthorized", () => {
  auth.clear();
  loginNotice = "The server refused the API key (401). Sign in again.";
  route();
});

document.getElementById("logout").addEventListener("click", () => {
  auth.clear();
  loginNotice = "";
  location.hash = "#/login";
});

window.addEventListener("hashchange", () => route(true));
route();
