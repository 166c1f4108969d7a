"""``agentrun threads ...``."""

from __future__ import annotations

from itertools import islice
from typing import Annotated

import typer
from rich.markup import escape

from agentrun.cli._app import Group, client_of, err, out, print_json
from agentrun.cli._render import threads_table, when

app = typer.Typer(cls=Group, help="List, read and delete conversation threads.", no_args_is_help=True)

ROLE_STYLE = {"user": "bold cyan", "assistant": "bold green", "system": "bold magenta", "tool": "bold yellow"}


@app.command("list")
def list_threads(
    ctx: typer.Context,
    agent: Annotated[str | None, typer.Option("--agent", "-a", help="Only this agent's threads.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Threads."""
    threads = list(islice(client_of(ctx).threads.list(agent=agent, page_size=min(limit, 200)), limit))
    if as_json:
        print_json([t.model_dump(mode="json") for t in threads])
    elif not threads:
        err.print("[dim]no threads[/dim]")
    else:
        out.print(threads_table(threads))


@app.command("show")
def show(
    ctx: typer.Context,
    thread_id: Annotated[str, typer.Argument(help="Thread id.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """A thread's messages, in order."""
    thread = client_of(ctx).threads.get(thread_id)
    if as_json:
        print_json(thread.model_dump(mode="json"))
        return
    title = f" · {escape(thread.title)}" if thread.title else ""
    created = when(thread.created_at)
    out.print(f"[bold]thread {escape(thread.id)}[/bold]{title} · {thread.run_count} runs · {created}")
    if thread.active_run_id:
        out.print(f"[blue]active run {escape(thread.active_run_id)}[/blue]")
    for message in thread.messages:
        style = ROLE_STYLE.get(message.role, "bold")
        out.print(f"\n[{style}]{escape(message.role)}[/{style}] [dim]{escape(message.run_id or '')}[/dim]")
        out.print(message.content, markup=False)


@app.command("delete")
def delete(
    ctx: typer.Context,
    thread_id: Annotated[str, typer.Argument(help="Thread id.")],
) -> None:
    """Delete a thread (refused while one of its runs is active)."""
    client_of(ctx).threads.delete(thread_id)
    out.print(f"deleted thread {escape(thread_id)}")
