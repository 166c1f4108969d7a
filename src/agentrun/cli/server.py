"""``agentrun serve`` and ``agentrun worker``: the only commands that import server modules.

They import them inside the command, so every other command starts fast and works with the SDK
alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from agentrun.cli._app import fail


def build_settings(**overrides: Any) -> Any:
    """Settings from the environment (AGENTRUN_*), with the flags that were given taking precedence."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from agentrun.settings import Settings

    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        fail(f"invalid settings:\n{exc}")
    except SettingsError as exc:  # a value that is not JSON where JSON is expected, e.g. a dict setting
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        fail(f"invalid settings: {exc}{cause}; JSON is expected for nested settings")


def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind. [default: 127.0.0.1, or AGENTRUN_HOST]")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port. [default: 8000, or AGENTRUN_PORT]")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory. [default: .agentrun, or AGENTRUN_DATA_DIR]"),
    ] = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="API only: runs execute on `agentrun worker` processes.")
    ] = False,
    log_level: Annotated[str | None, typer.Option("--log-level", help="debug, info, warning, error.")] = None,
) -> None:
    """Start the API server (and, unless --no-worker, the workers in the same process)."""
    settings = build_settings(
        host=host, port=port, data_dir=data_dir, run_worker=False if no_worker else None, log_level=log_level
    )
    from agentrun.api.server import run_server

    run_server(settings)


def worker(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory. [default: .agentrun, or AGENTRUN_DATA_DIR]"),
    ] = None,
    log_level: Annotated[str | None, typer.Option("--log-level", help="debug, info, warning, error.")] = None,
) -> None:
    """Start a worker that executes queued runs (distributed mode: shares AGENTRUN_DATABASE_URL)."""
    settings = build_settings(data_dir=data_dir, log_level=log_level)
    from agentrun.api.server import run_worker

    run_worker(settings)
