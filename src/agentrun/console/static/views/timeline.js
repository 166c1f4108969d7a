// Timing bars of a run's steps, derived from event `created_at`: the queue wait, each model
// request (from the start or the last tool result to the next tool call or the end), and each
// tool call (from its call to its result). Steps still in flight grow until their end arrives.

import { clear, duration, h, ms } from "../dom.js";

const TERMINAL = new Set(["run.completed", "run.failed", "run.cancelled", "run.timed_out"]);

export class Timeline {
  constructor() {
    this.element = h("div", { class: "timing", id: "timing" });
    this.events = [];
    this.run = null;
    this.pending = false;
  }

  setRun(run) {
    this.run = run;
    this.render();
  }

  add(event) {
    this.events.push(event);
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  steps() {
    const steps = [];
    const open = new Map();
    let queuedAt = ms(this.run?.created_at);
    let turnStart = null;
    let turns = 0;
    let end = null;
    const closeTurn = (t) => {
      if (turnStart === null) return;
      steps.push({ label: `model request ${++turns}`, kind: "model", start: turnStart, end: t });
      turnStart = null;
    };
    for (const event of this.events) {
      const t = ms(event.created_at);
      if (event.type === "run.queued") queuedAt = t;
      else if (event.type === "run.started") {
        if (Number.isFinite(queuedAt)) steps.push({ label: "queued", kind: "wait", start: queuedAt, end: t });
        turnStart = t;
      } else if (event.type === "tool_call") {
        closeTurn(t);
        const step = { label: event.data?.name || "tool", kind: "tool", start: t, end: null };
        open.set(event.data?.tool_call_id, step);
        steps.push(step);
      } else if (event.type === "tool_result") {
        const step = open.get(event.data?.tool_call_id);
        if (step) {
          step.end = t;
          step.failed = event.data?.ok === false;
          open.delete(event.data.tool_call_id);
        }
        if (open.size === 0) turnStart = t;
      } else if (TERMINAL.has(event.type)) {
        end = t;
        closeTurn(t);
        for (const step of open.values()) step.end = t;
        open.clear();
      }
    }
    if (turnStart !== null && end === null) {
      steps.push({ label: `model request ${++turns}`, kind: "model", start: turnStart, end: null });
    }
    return { steps, start: queuedAt, end };
  }

  render() {
    const { steps, start, end } = this.steps();
    clear(this.element);
    if (!steps.length) {
      this.element.append(h("p", { class: "muted", text: "No steps yet." }));
      return;
    }
    const now = Date.now();
    const origin = Number.isFinite(start) ? start : steps[0].start;
    const last = Math.max(end ?? now, ...steps.map((s) => s.end ?? now));
    const span = Math.max(last - origin, 1);
    const list = h("ol", { class: "steps" });
    for (const step of steps) {
      const stop = step.end ?? now;
      const bar = h("span", { class: `bar ${step.kind}${step.end === null ? " live" : ""}${step.failed ? " failed" : ""}` });
      bar.style.left = `${((step.start - origin) / span) * 100}%`;
      bar.style.width = `${Math.max(((stop - step.start) / span) * 100, 0.5)}%`;
      list.append(h("li", { class: "step" },
        h("span", { class: "label", text: step.label }),
        h("span", { class: "track", "aria-hidden": "true" }, bar),
        h("span", { class: "dur", text: `${duration(stop - step.start) || "0 ms"}${step.end === null ? "…" : ""}` })));
    }
    this.element.append(list, h("p", { class: "muted", text: `total ${duration(last - origin)} from creation` }));
  }
}
