// Agents: the list, and one agent with its revisions, a diff between two of them, and publish.

import { api, collect } from "../api.js";
import { canonical, clear, errorBox, esc, h, pretty, when } from "../dom.js";
import { lineDiff } from "../diff.js";

export const list = {
  async mount(main, { query, signal }) {
    const archived = query.archived === "1";
    const { data } = await collect("/v1/agents", { include_archived: archived || "" }, 1000, signal);
    const rows = data.map((a) => `<tr>`
      + `<td data-label="Agent"><a href="#/agents/${esc(encodeURIComponent(a.slug))}">${esc(a.slug)}</a>${a.archived ? ' <span class="tag">archived</span>' : ""}</td>`
      + `<td data-label="Name">${esc(a.name)}</td>`
      + `<td data-label="Model"><code>${esc(a.definition.model)}</code></td>`
      + `<td data-label="Latest" class="num">${a.latest_revision}</td>`
      + `<td data-label="Published" class="num">${a.published_revision ?? "—"}</td>`
      + `<td data-label="Updated">${esc(when(a.updated_at))}</td></tr>`).join("");
    const table = h("table", { class: "agents" },
      h("caption", { class: "sr-only", text: "Agents" }),
      h("thead", {}, h("tr", {}, ["Agent", "Name", "Model", "Latest", "Published", "Updated"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody"));
    table.tBodies[0].innerHTML = rows;
    main.append(
      h("div", { class: "page-head" }, h("h1", { text: "Agents" }),
        h("a", { href: archived ? "#/agents" : "#/agents?archived=1", class: "button", text: archived ? "Hide archived" : "Show archived" })),
      data.length ? h("div", { class: "table-wrap" }, table) : h("p", { class: "muted", text: "No agents." }),
    );
  },
};

export const detail = {
  async mount(main, { params: [ref], signal }) {
    const agent = await api(`/v1/agents/${encodeURIComponent(ref)}`, { signal });
    const revisionsBox = h("section", { class: "card", "aria-labelledby": "h-revisions" });
    const diffBox = h("section", { class: "card", "aria-labelledby": "h-diff" });
    const definitionBox = h("section", { class: "card", "aria-labelledby": "h-definition" });
    main.append(
      h("p", { class: "crumbs" }, h("a", { href: "#/agents", text: "Agents" }), " / ", agent.slug),
      h("div", { class: "page-head" },
        h("h1", {}, agent.slug, agent.archived ? h("span", { class: "tag", text: "archived" }) : null),
        h("div", { class: "actions" },
          h("a", { class: "button primary", href: `#/start?agent=${encodeURIComponent(agent.slug)}`, text: "Start a run" }),
          h("a", { class: "button", href: `#/runs?agent=${encodeURIComponent(agent.slug)}`, text: "Runs" }),
          h("a", { class: "button", href: `#/threads?agent=${encodeURIComponent(agent.slug)}`, text: "Threads" }))),
      h("p", {}, agent.name && agent.name !== agent.slug ? h("strong", { text: `${agent.name}. ` }) : null, agent.description || ""),
      h("p", { class: "muted", text: `id ${agent.id} · latest revision ${agent.latest_revision} · published ${agent.published_revision ?? "none"}` }),
      revisionsBox, diffBox, definitionBox,
    );

    let revisions = [];
    const load = async () => {
      revisions = (await collect(`/v1/agents/${encodeURIComponent(agent.id)}/revisions`, {}, 1000, signal)).data
        .sort((a, b) => b.number - a.number);
      renderRevisions();
    };

    function renderRevisions() {
      const tbody = h("tbody");
      for (const rev of revisions) {
        const publish = rev.published
          ? h("span", { class: "tag good", text: "published" })
          : h("button", { type: "button", class: "small", "data-publish": rev.number, text: `Publish ${rev.number}`,
            onclick: async (e) => {
              e.target.disabled = true;
              try {
                await api(`/v1/agents/${encodeURIComponent(agent.id)}/revisions/${rev.number}/publish`, { method: "POST", signal });
                await load();
                revisionsBox.querySelector(`[data-rev="${rev.number}"] .tag`)?.focus();
              } catch (err) {
                revisionsBox.append(errorBox(err));
              }
            } });
        tbody.append(h("tr", { "data-rev": rev.number },
          h("td", { "data-label": "Revision", class: "num", text: String(rev.number) }),
          h("td", { "data-label": "Model" }, h("code", { text: rev.definition.model })),
          h("td", { "data-label": "Created", text: when(rev.created_at) }),
          h("td", { "data-label": "Status" }, publish)));
      }
      clear(revisionsBox).append(
        h("h2", { id: "h-revisions", text: "Revisions" }),
        h("div", { class: "table-wrap" }, h("table", { class: "revisions" },
          h("thead", {}, h("tr", {}, ["#", "Model", "Created", "Published"].map((t) => h("th", { scope: "col", text: t })))),
          tbody)));
      renderDiffControls();
      const shown = revisions.find((r) => r.published) || revisions[0];
      clear(definitionBox).append(
        h("h2", { id: "h-definition", text: `Definition (revision ${shown.number}${shown.published ? ", published" : ""})` }),
        h("pre", { class: "code", text: pretty(shown.definition) }));
    }

    function renderDiffControls() {
      const numbers = revisions.map((r) => r.number);
      const pick = (id, label, selected) => {
        const select = h("select", { id, name: id },
          numbers.map((n) => h("option", { value: String(n), text: `revision ${n}`, selected: n === selected })));
        return [select, h("div", { class: "field" }, h("label", { for: id, text: label }), select)];
      };
      const [from, fromField] = pick("diff-from", "From", numbers[1] ?? numbers[0]);
      const [to, toField] = pick("diff-to", "To", numbers[0]);
      const out = h("div", { id: "diff-out" });
      const show = () => {
        const a = revisions.find((r) => r.number === Number(from.value));
        const b = revisions.find((r) => r.number === Number(to.value));
        const lines = lineDiff(canonical(a.definition), canonical(b.definition));
        const added = lines.filter((l) => l.op === "+").length;
        const removed = lines.filter((l) => l.op === "-").length;
        const pre = h("pre", { class: "diff code", "aria-label": `Diff from revision ${a.number} to ${b.number}` });
        pre.innerHTML = lines.map((l) => `<span class="${l.op === "+" ? "add" : l.op === "-" ? "del" : "same"}">${l.op} ${esc(l.line)}</span>`).join("");
        clear(out).append(
          h("p", { class: "muted", text: added || removed ? `${added} line${added === 1 ? "" : "s"} added, ${removed} removed` : "No difference." }),
          pre);
      };
      from.addEventListener("change", show);
      to.addEventListener("change", show);
      clear(diffBox).append(h("h2", { id: "h-diff", text: "Compare revisions" }), h("div", { class: "row" }, fromField, toField), out);
      show();
    }

    await load();
  },
};
