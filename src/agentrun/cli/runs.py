"""``agentrun run`` and ``agentrun runs ...``."""

from __future__ import annotations

import json
import sys
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from agentrun.cli._app import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    Group,
    client_of,
    err,
    fail,
    out,
    print_json,
)
from agentrun.cli._render import LiveRenderer, duration, log_line, runs_table, status_text, usage_text, when
from agentrun.cli._steps import cost_text, run_steps, steps_lines
from agentrun.client import Client, ConflictError, Run

app = typer.Typer(cls=Group, help="List, inspect, follow and cancel runs.", no_args_is_help=True)

EXIT_BY_STATUS = {
    "completed": EXIT_OK,
    "failed": EXIT_FAILED,
    "timed_out": EXIT_FAILED,
    "cancelled": EXIT_CANCELLED,
}


def exit_code_of(run: Run) -> int:
    return EXIT_BY_STATUS.get(run.status, EXIT_OK)


def parse_input(raw: str) -> dict[str, Any]:
    """``--input`` as inline JSON, ``@file.json``, or ``-`` for stdin."""
    text = raw
    if raw == "-":
        text = sys.stdin.read()
    elif raw.startswith("@"):
        try:
            text = Path(raw[1:]).read_text()
        except OSError as exc:
            fail(f"cannot read --input file: {exc}")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--input is not valid JSON: {exc}")
    if not isinstance(value, dict):
        fail("--input must be a JSON object")
    return value


def run_command(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="Agent slug or id.")],
    prompt: Annotated[str | None, typer.Argument(help="The prompt; '-' reads it from stdin.")] = None,
    thread: Annotated[str | None, typer.Option("--thread", "-t", help="Continue this thread.")] = None,
    input_: Annotated[
        str | None, typer.Option("--input", "-i", help="Structured input: JSON, @file.json, or - for stdin.")
    ] = None,
    revision: Annotated[int | None, typer.Option("--revision", "-r", help="Run this revision.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the final run as JSON.")] = False,
    no_wait: Annotated[bool, typer.Option("--async", help="Start the run, print its id, return.")] = False,
    idempotency_key: Annotated[
        str | None, typer.Option("--idempotency-key", help="Idempotency-Key header.")
    ] = None,
) -> None:
    """Run an agent and show its events live.

    Exit code: 0 completed, 1 failed or timed out, 2 cancelled, 3 usage or API error.
    """
    if prompt == "-":
        prompt = sys.stdin.read()
    if prompt is None and input_ is None:
        fail("give a prompt or --input")
    if prompt is not None and input_ is not None:
        fail("give a prompt or --input, not both")
    fields: dict[str, Any] = {
        "prompt": prompt,
        "input": parse_input(input_) if input_ is not None else None,
        "thread_id": thread,
        "revision": revision,
        "idempotency_key": idempotency_key,
    }
    client = client_of(ctx)
    if no_wait:
        run = client.runs.create(agent, mode="async", **fields)
        if as_json:
            print_json(run.model_dump(mode="json"))
        else:
            out.print(run.id, markup=False)
        raise typer.Exit(EXIT_OK)
    if as_json:
        run = client.runs.run(agent, **fields)
        print_json(run.model_dump(mode="json"))
        raise typer.Exit(exit_code_of(run))
    raise typer.Exit(exit_code_of(_stream_live(client, agent, fields)))


def _stream_live(client: Client, agent: str, fields: dict[str, Any]) -> Run:
    renderer = LiveRenderer(out, err, terminal=_is_terminal(sys.stdout))
    stream = client.runs.stream(agent, **fields)
    run: Run | None = None
    try:
        with stream:
            for item in stream:
                if isinstance(item, Run):
                    run = item
                else:
                    renderer.event(item)
                    if item.type == "run.requires_action" and stream.run_id is not None:
                        _on_waiting(client, stream.run_id)
    except KeyboardInterrupt:
        run = _cancel_and_follow(client, stream.run_id, stream.last_seq, renderer)
    if run is None:
        assert stream.run_id is not None
        run = client.runs.get(stream.run_id)
    renderer.summary(run)
    return run


def _on_waiting(client: Client, run_id: str) -> None:
    """The run waits for a person: ask in a terminal, else say how to answer (and keep waiting)."""
    if not _is_terminal(sys.stdin):
        err.print(
            f"[yellow]run {escape(run_id)} waits for a person; answer with "
            f"`agentrun runs answer {escape(run_id)} CALL_ID approve|deny|answer`[/yellow]"
        )
        return
    waiting = client.runs.get(run_id)
    actions = [ask_action(p) for p in waiting.unanswered]
    if actions:
        client.runs.act(run_id, actions)


def ask_action(pending: Any, read: Any = None) -> dict[str, Any]:
    """One answer to ``pending``, asked on the terminal (stderr: stdout holds only the result)."""
    read = read or err.input
    if pending.kind == "question":
        schema = f" (JSON matching {json.dumps(pending.answer_schema)})" if pending.answer_schema else ""
        text = read(f"[bold]{escape(pending.question or pending.tool)}[/bold]{escape(schema)}\n> ")
        return {
            "call_id": pending.id,
            "decision": "answer",
            "answer": _answer_value(text, pending.answer_schema),
        }
    args = json.dumps(pending.args, ensure_ascii=False)
    choice = (
        read(f"Allow [bold]{escape(pending.tool)}[/bold]({escape(args)})? [y]es / [n]o / [e]dit: ")
        .strip()
        .lower()
    )
    if choice.startswith("e"):
        edited = read("arguments (JSON): ")
        try:
            value = json.loads(edited)
        except json.JSONDecodeError:
            fail("the edited arguments are not valid JSON")
        return {"call_id": pending.id, "decision": "approve", "args": value}
    if choice.startswith("y"):
        return {"call_id": pending.id, "decision": "approve"}
    reason = read("reason (the agent sees it; empty for none): ").strip()
    action: dict[str, Any] = {"call_id": pending.id, "decision": "deny"}
    if reason:
        action["reason"] = reason
    return action


def _answer_value(text: str, schema: dict[str, Any] | None) -> Any:
    """Free text stays text; with a schema (or text that is JSON of another kind) it is parsed."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return value if schema is not None or not isinstance(value, str) else text


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed stdout
        return False


def _cancel_and_follow(client: Client, run_id: str | None, after: int, renderer: LiveRenderer) -> Run:
    """First Ctrl-C: cancel the run and show how it ends; a second one stops waiting."""
    if run_id is None:
        raise typer.Exit(130)
    err.print(f"\n[yellow]cancelling run {escape(run_id)}… (Ctrl-C again to stop waiting)[/yellow]")
    try:
        try:
            client.runs.cancel(run_id)
        except ConflictError:
            pass  # it finished meanwhile
        with client.runs.stream_events(run_id, after=after) as events:
            for event in events:
                renderer.event(event)
        return client.runs.get(run_id)
    except KeyboardInterrupt:
        err.print(f"[yellow]stopped waiting; see `agentrun runs show {escape(run_id)}`[/yellow]")
        raise typer.Exit(130) from None


@app.command("list")
def list_runs(
    ctx: typer.Context,
    agent: Annotated[str | None, typer.Option("--agent", "-a", help="Only this agent's runs.")] = None,
    status: Annotated[str | None, typer.Option("--status", "-s", help="Only runs with this status.")] = None,
    thread: Annotated[str | None, typer.Option("--thread", "-t", help="Only this thread's runs.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Runs, newest first."""
    runs_iter = client_of(ctx).runs.list(
        agent=agent, status=status, thread_id=thread, page_size=min(limit, 200)
    )
    runs = list(islice(runs_iter, limit))
    if as_json:
        print_json([r.model_dump(mode="json") for r in runs])
    elif not runs:
        err.print("[dim]no runs[/dim]")
    else:
        out.print(runs_table(runs))


@app.command("show")
def show_run(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """A run's status, result, usage and error."""
    run = client_of(ctx).runs.get(run_id)
    if as_json:
        print_json(run.model_dump(mode="json"))
        return
    rows = [
        ("id", escape(run.id)),
        ("agent", escape(f"{run.agent_slug or run.agent_id} r{run.revision}")),
        ("status", status_text(run.status)),
        ("model", escape(str(run.model)) + (" [yellow](offline test model)[/yellow]" if run.offline else "")),
        ("thread", escape(run.thread_id or "-")),
        ("created", when(run.created_at)),
        ("started", when(run.started_at)),
        ("finished", when(run.finished_at)),
        ("duration", duration(run)),
        ("usage", usage_text(run.usage)),
        ("iterations", str(run.iterations)),
        ("events", str(run.last_seq)),
    ]
    if run.error is not None:
        rows.append(("error", f"[red]{escape(run.error.code)}: {escape(run.error.message)}[/red]"))
    if (cost := cost_text(run.usage.cost_usd)) is not None:
        rows.append(("cost", cost))
    for key, value in rows:
        out.print(f"[bold]{key:>10}[/bold]  {value}")
    steps = run_steps(_pages(client_of(ctx), run_id, 0))  # per-step timing (cli/_steps.py)
    if steps:
        out.print("[bold]     steps[/bold]")
        for line in steps_lines(steps):
            out.print(line)
    if run.result is not None:
        out.print("[bold]    result[/bold]")
        result = run.result if isinstance(run.result, str) else json.dumps(run.result, indent=2)
        out.print(result, markup=False)


@app.command("logs")
def logs(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep streaming until the run ends.")
    ] = False,
    after: Annotated[int, typer.Option("--after", min=0, help="Only events after this seq.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON event per line.")] = False,
) -> None:
    """A run's events, one per line; with --follow, live until the run ends."""
    client = client_of(ctx)
    for event in _follow(client, run_id, after) if follow else _pages(client, run_id, after):
        if as_json:
            sys.stdout.write(event.model_dump_json() + "\n")
            sys.stdout.flush()
        else:
            out.print(log_line(event))


def _pages(client: Client, run_id: str, after: int) -> Any:
    while True:
        page = client.runs.events(run_id, after=after)
        yield from page.data
        if not page.data or page.next_after <= after:
            return
        after = page.next_after


def _follow(client: Client, run_id: str, after: int) -> Any:
    with client.runs.stream_events(run_id, after=after) as events:
        yield from events


@app.command("answer")
def answer(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id (status requires_action).")],
    call_id: Annotated[
        str | None, typer.Argument(help="The pending call; omit to be asked for each.")
    ] = None,
    decision: Annotated[str | None, typer.Argument(help="approve, deny or answer.")] = None,
    value: Annotated[
        str | None,
        typer.Option("--answer", help="answer: the value (JSON, or text for a free-text question)."),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="deny: what the agent is told.")] = None,
    args: Annotated[
        str | None, typer.Option("--args", help="approve: edited arguments (JSON object).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Answer a run that waits for a person: approve, deny or edit a tool call, answer a question."""
    client = client_of(ctx)
    if call_id is None:
        waiting = client.runs.get(run_id)
        if not waiting.unanswered:
            fail(f"run {run_id} waits for no answer (status {waiting.status})")
        actions = [ask_action(p) for p in waiting.unanswered]
    else:
        if decision not in ("approve", "deny", "answer"):
            fail("give the decision: approve, deny or answer")
        action: dict[str, Any] = {"call_id": call_id, "decision": decision}
        if decision == "answer":
            if value is None:
                fail("answer needs --answer")
            action["answer"] = _answer_value(value, None)
        if reason is not None:
            action["reason"] = reason
        if args is not None:
            try:
                action["args"] = json.loads(args)
            except json.JSONDecodeError:
                fail("--args is not valid JSON")
        actions = [action]
    run = client.runs.act(run_id, actions)
    if as_json:
        print_json(run.model_dump(mode="json"))
    else:
        out.print(f"{escape(run.id)} {status_text(run.status)}")


@app.command("cancel")
def cancel(ctx: typer.Context, run_id: Annotated[str, typer.Argument(help="Run id.")]) -> None:
    """Cancel a queued or running run."""
    run = client_of(ctx).runs.cancel(run_id)
    out.print(f"{escape(run.id)} {status_text(run.status)}")
