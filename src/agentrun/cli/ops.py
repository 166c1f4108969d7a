"""Operator commands that work on the database directly: ``db``, ``keys``, ``mcp``.

They need no running server (an operator bootstrapping a deployment has no key yet), so like
``serve`` they import server modules, lazily, inside each command.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from agentrun.cli._app import err, out

db_app = typer.Typer(help="Database schema (run once per deployment, or let servers do it at start).")
keys_app = typer.Typer(help="API keys: created, listed and revoked directly in the database.")

T = TypeVar("T")

DataDir = Annotated[
    str | None, typer.Option("--data-dir", help="Data dir (default: AGENTRUN_DATA_DIR or .agentrun).")
]


def _settings(data_dir: str | None) -> Any:
    from agentrun.settings import Settings

    return Settings(data_dir=data_dir) if data_dir else Settings()


def _with_store(data_dir: str | None, use: Callable[[Any], Awaitable[T]]) -> T:
    from agentrun.store.store import Store

    async def main() -> T:
        settings = _settings(data_dir)
        settings.ensure_data_dir()
        store = await Store.open(settings.store_url)
        try:
            return await use((store, settings))
        finally:
            await store.close()

    return asyncio.run(main())


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Bring the schema to the latest migration (safe to run from several machines at once)."""
    from agentrun.store.db import current_revision, head_revision, upgrade

    settings = _settings(data_dir)
    settings.ensure_data_dir()
    upgrade(settings.store_url)
    out.print(f"schema at {current_revision(settings.store_url)} (head {head_revision()})", markup=False)


@keys_app.command("create")
def keys_create(
    project: Annotated[str, typer.Option(help="Project id (created if new).")] = "default",
    name: Annotated[str, typer.Option(help="A label for the key.")] = "key",
    admin: Annotated[bool, typer.Option(help="May manage keys of every project.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a key and print it once (only its hash is stored)."""

    async def use(ctx: Any) -> Any:
        from agentrun.services.keys import KeyService

        store, settings = ctx
        return await KeyService(store, settings).create(project, name, admin)

    created = _with_store(data_dir, use)
    err.print(f"key {created.id} for project {created.project_id!r}; store it now, it is not shown again:")
    out.print(created.key, markup=False)


@keys_app.command("list")
def keys_list(
    project: Annotated[str | None, typer.Option(help="Only this project's keys.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    data_dir: DataDir = None,
) -> None:
    """List keys (ids, projects, prefixes; never the secrets)."""

    async def use(ctx: Any) -> Any:
        store, _ = ctx
        return await store.keys.list(project)

    keys = _with_store(data_dir, use)
    if as_json:
        out.print(json.dumps([k.model_dump(mode="json") for k in keys], indent=2), markup=False)
        return
    for key in keys:
        state = "revoked" if key.revoked_at else "active"
        role = "admin" if key.admin else "project"
        out.print(
            f"{key.id}  {key.project_id:<16} {key.prefix}…  {role:<7} {state:<7} {key.name}", markup=False
        )


@keys_app.command("revoke")
def keys_revoke(key_id: str, data_dir: DataDir = None) -> None:
    """Revoke a key: it stops working at once on every node."""

    async def use(ctx: Any) -> Any:
        store, _ = ctx
        return await store.keys.revoke(key_id, None)

    from agentrun.domain.errors import AgentrunError

    try:
        key = _with_store(data_dir, use)
    except AgentrunError as exc:
        err.print(exc.message, markup=False)
        raise typer.Exit(3) from exc
    out.print(f"revoked {key.id}", markup=False)


def mcp(
    data_dir: DataDir = None,
    no_worker: Annotated[
        bool,
        typer.Option(
            "--no-worker", help="Only queue runs; an `agentrun serve` on the same data executes them."
        ),
    ] = False,
) -> None:
    """Serve the MCP tools over stdio (for MCP clients that spawn a command)."""
    from agentrun.mcp.stdio import main

    settings = _settings(data_dir)
    # AGENTRUN_RUN_WORKER=false (what docs/compat/000-mcp.md says to set beside a running server)
    # counts as much as --no-worker: either one means this process only queues runs.
    run_worker = settings.run_worker and not no_worker
    updates: dict[str, Any] = {"run_worker": run_worker}
    if run_worker:
        # Its own executor id: a `serve` on the same data dir must not share one.
        updates["executor_id"] = settings.resolved_executor_id() + "-mcp"
    main(settings.model_copy(update=updates))
