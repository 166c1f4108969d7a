"""Shared CLI plumbing: exit codes, consoles, the client of the current command, error reporting."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from agentrun.client import AgentrunError, Client

try:  # typer >= 0.20 ships its own copy of click
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - older typer on the real click
    from click.exceptions import UsageError  # type: ignore[assignment]

EXIT_OK = 0
EXIT_FAILED = 1  # the run failed or timed out
EXIT_CANCELLED = 2  # the run was cancelled
EXIT_ERROR = 3  # usage error, API error (404, 409, 422...), server unreachable

# Piped output is read by programs, not people: no 80-column wrap that would cut ids short.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 250)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 250)


@dataclass
class State:
    url: str
    api_key: str | None
    client: Client | None = field(default=None)


def client_of(ctx: typer.Context) -> Client:
    """The SDK client for this invocation, closed when the command ends."""
    state: State = ctx.find_root().obj
    if state.client is None:
        state.client = ctx.find_root().with_resource(Client(state.url, state.api_key))
    return state.client


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def report(error: AgentrunError) -> None:
    status = f" ({error.status})" if error.status else ""
    err.print(f"[red]error{status}:[/red] {escape(error.message)} [dim]\\[{escape(error.code)}][/dim]")
    if error.details not in (None, {}, []):
        err.print(f"[dim]{escape(json.dumps(error.details, default=str)[:2000])}[/dim]")


def print_json(data: Any) -> None:
    """JSON on stdout, unstyled, for scripts."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


class Group(TyperGroup):
    """Maps failures to documented exit codes: usage and API errors exit 3 (click's default is 2,
    which `agentrun run` uses for a cancelled run)."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as exc:
            exc.exit_code = EXIT_ERROR
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            exc.exit_code = EXIT_ERROR
            raise
        except AgentrunError as exc:
            report(exc)
            raise typer.Exit(EXIT_ERROR) from exc
