"""The ``agentrun`` command line: serve, worker, agents, run, runs, logs, threads.

Every command except ``serve`` and ``worker`` talks to a server through the SDK
(:mod:`agentrun.client`), so it works against a local or a remote server alike.
"""

from __future__ import annotations

from typing import Annotated

import typer

from agentrun.cli import agents, ops, runs, server, threads
from agentrun.cli._app import Group, State, out

app = typer.Typer(
    cls=Group,
    name="agentrun",
    help="Run AI agents on a self-hosted server.\n\n"
    "Exit codes: 0 ok / run completed, 1 run failed or timed out, 2 run cancelled, 3 usage or API error.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            out.print(f"agentrun {version('agentrun')}", markup=False)
        except PackageNotFoundError:
            out.print("agentrun (source tree)", markup=False)
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Option("--url", envvar="AGENTRUN_URL", help="Server URL.", show_envvar=True)
    ] = "http://127.0.0.1:8000",
    api_key: Annotated[
        str | None, typer.Option("--api-key", envvar="AGENTRUN_API_KEY", help="API key.", show_envvar=True)
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    ctx.obj = State(url=url, api_key=api_key or None)


app.command("serve")(server.serve)
app.command("worker")(server.worker)
app.command("run")(runs.run_command)
app.command("logs", help="A run's events (same as `agentrun runs logs`).")(runs.logs)
app.add_typer(agents.app, name="agents")
app.add_typer(runs.app, name="runs")
app.add_typer(threads.app, name="threads")
app.add_typer(ops.db_app, name="db")
app.add_typer(ops.keys_app, name="keys")
app.command("mcp")(ops.mcp)


if __name__ == "__main__":
    app()
