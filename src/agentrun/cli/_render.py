"""How runs, events, agents and threads look in a terminal."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agentrun.client import Agent, Event, Run, Thread, Usage

STATUS_STYLE = {
    "queued": "cyan",
    "running": "blue",
    "cancelling": "yellow",
    "requires_action": "magenta",
    "completed": "green",
    "failed": "red",
    "timed_out": "red",
    "cancelled": "yellow",
}
LEVEL_STYLE = {"debug": "dim", "info": "", "warning": "yellow", "error": "red"}


def status_text(status: str) -> str:
    style = STATUS_STYLE.get(status, "")
    return f"[{style}]{escape(status)}[/{style}]" if style else escape(status)


def one_line(text: str | None, limit: int = 200) -> str:
    flat = (text or "").replace("\r", "").replace("\n", "\\n")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def compact_json(value: Any, limit: int = 200) -> str:
    return one_line(json.dumps(value, default=str, ensure_ascii=False), limit)


def when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def duration(run: Run) -> str:
    if run.started_at is None or run.finished_at is None:
        return "-"
    return f"{(run.finished_at - run.started_at).total_seconds():.2f}s"


def usage_text(usage: Usage) -> str:
    requests = "request" if usage.requests == 1 else "requests"
    calls = "tool call" if usage.tool_calls == 1 else "tool calls"
    return (
        f"{usage.input_tokens} in / {usage.output_tokens} out tokens · "
        f"{usage.requests} {requests} · {usage.tool_calls} {calls}"
    )


def event_summary(event: Event, limit: int = 200) -> str:
    """The gist of one event on one line (markup-escaped)."""
    data = event.data or {}
    kind = event.type
    if kind == "run.queued":
        text = f"agent {data.get('agent')} r{data.get('revision')}"
        if data.get("thread_id"):
            text += f" · thread {data['thread_id']}"
    elif kind == "run.started":
        parts = [f"model {data['model']}"] if data.get("model") else []
        if data.get("offline"):
            parts.append("offline test model")
        if data.get("attempt") not in (None, 1):
            parts.append(f"attempt {data['attempt']}")
        text = " · ".join(parts) or "started"
    elif kind == "tool_call":
        text = f"{data.get('name')}({compact_json(data.get('args', {}), limit)})"
    elif kind == "tool_result":
        if data.get("ok", True):
            text = f"{data.get('name')} -> {one_line(event.content, limit)}"
        else:
            text = f"{data.get('name')} -> error: {one_line(str(data.get('error') or event.content), limit)}"
    elif kind == "usage":
        text = compact_json(data, limit)
    elif kind == "run.completed":
        text = f"result {data.get('result_type')}"
        if isinstance(data.get("usage"), dict):
            text += " · " + usage_text(Usage.model_validate(data["usage"]))
    elif kind in ("run.failed", "run.timed_out", "run.cancelled"):
        error = data.get("error") or {}
        code = f"[{error.get('code')}] " if isinstance(error, dict) and error.get("code") else ""
        text = code + one_line(
            event.content or (error.get("message") if isinstance(error, dict) else ""), limit
        )
    else:
        text = one_line(event.content, limit) if event.content is not None else compact_json(data, limit)
    return escape(text)


def log_line(event: Event) -> str:
    stamp = event.created_at.astimezone().strftime("%H:%M:%S.%f")[:-3] if event.created_at else "--:--:--.---"
    style = LEVEL_STYLE.get(event.level, "") if event.type == "log" else ""
    kind = escape(event.type.ljust(13))
    summary = event_summary(event, limit=10_000)
    if event.type == "log":
        summary = f"{escape(event.level)}: {summary}"
    line = f"[dim]{event.seq:>5} {stamp}[/dim] {kind} {summary}"
    return f"[{style}]{line}[/{style}]" if style else line


class LiveRenderer:
    """Shows a run's events as they arrive, then writes its result.

    stdout gets the run's result and nothing else: text as is, any other value as JSON, written
    when the run ends. Everything else (start, planning and reasoning text, tool calls and
    results, logs, the status line) goes to stderr. The model's text streams live where a person
    watches it: on the terminal when stdout is one (and then the answer already shown is not
    written again), on stderr otherwise. Text the model streams before a tool call comes back
    whole as a ``planning`` event; having been shown, it is not shown again.

    So ``agentrun run demo "..." > answer.txt`` leaves exactly the result in the file.
    """

    def __init__(self, out: Console, err: Console, *, terminal: bool = False) -> None:
        self.out = out
        self.err = err
        self.terminal = terminal  # stdout is a terminal: the result may be shown as it streams
        self.live = out if terminal else err  # where the model's text streams
        self.mid_line = False  # the streamed text shown so far does not end with a newline
        self.streamed: list[str] = []  # deltas of the model response in progress
        self.shown: str | None = None  # the last complete answer text shown on the terminal
        self.printed_end = False  # a failed/cancelled/timed-out event already told why

    def _end_text(self) -> None:
        if self.mid_line:
            self.live.file.write("\n")
            self.live.file.flush()
            self.mid_line = False

    def _stream(self, text: str) -> None:
        if not text:
            return
        self.live.file.write(text)  # as is: no markup, emoji codes, tab expansion or wrapping
        self.live.file.flush()
        self.mid_line = not text.endswith("\n")

    def _note(self, line: str) -> None:
        self._end_text()
        self.err.print(line)

    def _text_done(self, content: str | None, *, answer: bool) -> None:
        """A model response's text is complete: show it unless its deltas already did."""
        streamed = "".join(self.streamed)
        self.streamed = []
        if streamed:
            self._end_text()
        elif content and answer:
            self._stream(content)
            self._end_text()
        elif content:
            self._note(f"[dim italic]{escape(content)}[/dim italic]")
        self.shown = (streamed or content or "") if answer and self.terminal else None

    def event(self, event: Event) -> None:
        kind = event.type
        if kind == "message.delta":
            self.streamed.append(event.content or "")
            self._stream(event.content or "")
        elif kind == "message":
            self._text_done(event.content, answer=True)
        elif kind == "planning":
            self._text_done(event.content, answer=False)
        elif kind == "reasoning":
            self._note(f"[dim italic]{escape(event.content or '')}[/dim italic]")
        elif kind == "tool_call":
            self._note(f"[cyan]→ {event_summary(event)}[/cyan]")
        elif kind == "tool_result":
            ok = (event.data or {}).get("ok", True)
            self._note(f"[{'dim' if ok else 'red'}]← {event_summary(event)}[/]")
        elif kind == "log" and (event.data or {}).get("superseded_from_seq") is not None:
            # The text streamed so far is streamed again by a new attempt: do not count it twice.
            self.streamed = []
            self._note("[yellow]↻ the model request is sent again; its text streams anew[/yellow]")
        elif kind == "log":
            style = LEVEL_STYLE.get(event.level) or "dim"
            self._note(f"[{style}]{escape(event.level)}: {escape(event.content or '')}[/{style}]")
        elif kind == "run.started":
            self._note(f"[dim]▶ {event_summary(event)}[/dim]")
        elif kind in ("run.failed", "run.timed_out", "run.cancelled"):
            self._note(f"[red]✗ {kind}: {event_summary(event)}[/red]")
            self.printed_end = True
        # run.queued, usage and run.completed are summed up by `summary`.

    def _was_shown(self, result: Any) -> bool:
        if self.shown is None:
            return False
        if isinstance(result, str):
            return self.shown.strip() == result.strip()
        try:
            return bool(json.loads(self.shown) == result)
        except ValueError:
            return False

    def summary(self, run: Run) -> None:
        self._end_text()
        if run.result is not None and not self._was_shown(run.result):
            self.out.file.write(result_text(run.result, terminal=self.terminal))
            self.out.file.flush()
        offline = " · offline test model" if run.offline else ""
        took = duration(run)
        self.err.print(
            f"{status_text(run.status)} · run {escape(run.id)} · {took} · {usage_text(run.usage)}{offline}"
        )
        if run.error is not None and not self.printed_end:
            self.err.print(f"[red]{escape(run.error.code)}: {escape(run.error.message)}[/red]")


def result_text(result: Any, *, terminal: bool = False) -> str:
    """A run's result as ``agentrun run`` writes it: text as is, any other value as JSON.

    On a terminal text gets a final newline, so the prompt that follows starts on its own line.
    """
    if isinstance(result, str):
        return result + "\n" if terminal and not result.endswith("\n") else result
    return json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n"


def runs_table(runs: list[Run]) -> Table:
    table = Table(box=None, pad_edge=False)
    table.add_column("ID", no_wrap=True, min_width=max((len(r.id) for r in runs), default=2))
    table.add_column("AGENT", no_wrap=True)
    table.add_column("STATUS", no_wrap=True)
    table.add_column("CREATED", no_wrap=True)
    table.add_column("DURATION", justify="right", no_wrap=True)
    table.add_column("TOKENS", justify="right")
    table.add_column("THREAD", no_wrap=True)
    for run in runs:
        table.add_row(
            escape(run.id),
            escape(f"{run.agent_slug or run.agent_id} r{run.revision}"),
            status_text(run.status),
            when(run.created_at),
            duration(run),
            str(run.usage.total_tokens),
            escape(run.thread_id or "-"),
        )
    return table


def agents_table(agents: list[Agent]) -> Table:
    table = Table(box=None, pad_edge=False)
    for name in ("SLUG", "NAME", "MODEL", "LATEST", "PUBLISHED", "UPDATED"):
        table.add_column(name, no_wrap=name != "NAME")
    for agent in agents:
        slug = escape(agent.slug) + (" [dim](archived)[/dim]" if agent.archived else "")
        table.add_row(
            slug,
            escape(agent.name or ""),
            escape(agent.definition.model),
            f"r{agent.latest_revision}",
            f"r{agent.published_revision}" if agent.published_revision else "-",
            when(agent.updated_at),
        )
    return table


def threads_table(threads: list[Thread]) -> Table:
    table = Table(box=None, pad_edge=False)
    table.add_column("ID", no_wrap=True, min_width=max((len(t.id) for t in threads), default=2))
    for name in ("TITLE", "AGENT", "RUNS", "ACTIVE RUN", "UPDATED"):
        table.add_column(name, no_wrap=name != "TITLE")
    for thread in threads:
        table.add_row(
            escape(thread.id),
            escape(thread.title or ""),
            escape(thread.agent_id or "-"),
            str(thread.run_count),
            escape(thread.active_run_id or "-"),
            when(thread.updated_at),
        )
    return table
