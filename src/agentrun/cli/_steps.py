"""A run's steps (model requests and tool calls) with their timing and tokens, from its events.

Computed client-side from the events every run already records: a model request lasts from the
run's start (or the end of the tools it asked for) to its first answer event (text, plan, tool
call, or the terminal event); a tool call from its ``tool_call`` to its ``tool_result``; a model
request's tokens are the difference between consecutive ``usage`` events (they are cumulative).
Times are when the server stored the events: accurate to a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

ANSWER = {"message", "planning", "tool_call"}
TERMINAL = {"run.completed", "run.failed", "run.cancelled", "run.timed_out"}


@dataclass
class Step:
    kind: str  # "model" or "tool"
    name: str
    started: datetime
    ended: datetime | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    ok: bool = True

    @property
    def seconds(self) -> float | None:
        return None if self.ended is None else (self.ended - self.started).total_seconds()


def _type(event: Any) -> str:
    kind = event.type
    return kind.value if hasattr(kind, "value") else str(kind)


def run_steps(events: Iterable[Any]) -> list[Step]:
    steps: list[Step] = []
    model: Step | None = None
    tools: dict[str, Step] = {}
    usage: list[tuple[int, int, int]] = []  # (requests, input, output), cumulative
    for event in events:
        kind, at, data = _type(event), event.created_at, event.data or {}
        if kind == "run.started" and model is None and not steps:
            model = Step("model", "model request", at)
        elif kind == "usage":
            usage.append(
                (
                    int(data.get("requests", 0)),
                    int(data.get("input_tokens", 0)),
                    int(data.get("output_tokens", 0)),
                )
            )
        elif kind in ANSWER or kind in TERMINAL:
            if model is not None:
                model.ended = at
                steps.append(model)
                model = None
            if kind == "tool_call":
                tool = Step("tool", str(data.get("name", "?")), at)
                tools[str(data.get("tool_call_id", len(tools)))] = tool
                steps.append(tool)
        elif kind == "tool_result":
            tool = tools.pop(str(data.get("tool_call_id")), None)
            if tool is not None:
                tool.ended = at
                tool.ok = bool(data.get("ok", True))
            if not tools:  # every tool the model asked for answered: the next request starts
                model = Step("model", "model request", at)
    _tokens([s for s in steps if s.kind == "model"], usage)
    return steps


def _tokens(models: list[Step], usage: list[tuple[int, int, int]]) -> None:
    """Request k's tokens: the cumulative usage after request k minus that after request k-1."""
    by_request: dict[int, tuple[int, int]] = {}
    for requests, input_tokens, output_tokens in usage:
        by_request[requests] = (input_tokens, output_tokens)
    previous = (0, 0)
    for index, step in enumerate(models, start=1):
        current = by_request.get(index)
        if current is None:
            return  # a gap (a replayed or stopped request): no guesses from here on
        step.input_tokens, step.output_tokens = current[0] - previous[0], current[1] - previous[1]
        previous = current


def steps_lines(steps: list[Step]) -> list[str]:
    """One line per step (rich markup)."""
    lines = []
    for n, step in enumerate(steps, start=1):
        took = f"{step.seconds * 1000:8.1f} ms" if step.seconds is not None else "       -   "
        tokens = (
            f"  {step.input_tokens} in / {step.output_tokens} out tokens"
            if step.input_tokens is not None
            else ""
        )
        status = "" if step.ok else "  [red]error[/red]"
        name = "model" if step.kind == "model" else f"tool  {step.name}"
        lines.append(f"{n:>10}  {took}  {name}{tokens}{status}")
    return lines


def cost_text(cost: float | None) -> str | None:
    return None if cost is None else f"${cost:.6f} (at the server's prices)"
