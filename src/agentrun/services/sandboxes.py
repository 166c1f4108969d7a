"""Sandboxes: workspaces whose files persist in the store, and the sessions runs use them through.

A sandbox's files live in the store as one archive (``store/sandboxes.py``); each process keeps
a local copy under ``<data_dir>/sandboxes/<id>/`` and refreshes it when the stored version is
newer. Every change (an upload, a command, a file write) is archived back before it returns, so
a run resumed by another worker after a crash or a takeover sees every file its finished steps
wrote. Commands run isolated by bubblewrap (:mod:`agentrun.sandbox`).
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.models import (
    AgentDefinition,
    Page,
    RunCreate,
    Sandbox,
    SandboxCreate,
    SandboxFile,
    SandboxSpec,
)
from agentrun.settings import SandboxSettings, Settings
from agentrun.store.store import Store

if TYPE_CHECKING:  # the sandbox package is imported when a sandbox is first used
    from agentrun.sandbox import CommandResult, SandboxLimits, Workspace

MB = 1_048_576


class SandboxCommandStopped(RuntimeError):
    """A command was stopped by a limit: the model sees it as a failed tool call."""


def wants_sandbox(body: RunCreate, definition: AgentDefinition, required: bool = False) -> bool:
    """``required``: the definition uses a tool that runs in the sandbox (an in_sandbox MCP server)."""
    if body.sandbox_id is not None or required:
        return True
    if body.sandbox is not None:
        return body.sandbox
    return definition.sandbox is not None


def limits_for(spec: SandboxSpec | None, settings: SandboxSettings) -> SandboxLimits:
    """The agent's limits over the server's defaults, capped by the operator's ceilings."""
    from agentrun.sandbox import SandboxLimits

    spec = spec or SandboxSpec()
    return SandboxLimits(
        wall_s=min(spec.wall_s or settings.wall_s, settings.ceiling_wall_s),
        cpu_s=min(spec.cpu_s or settings.cpu_s, int(settings.ceiling_wall_s)),
        memory_mb=min(spec.memory_mb or settings.memory_mb, settings.ceiling_memory_mb),
        max_processes=spec.max_processes or settings.max_processes,
        max_file_mb=min(spec.max_file_mb or settings.max_file_mb, settings.max_workspace_mb),
        max_output_bytes=spec.max_output_bytes or settings.max_output_bytes,
        max_workspace_mb=settings.max_workspace_mb,
    )


class SandboxService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings.sandbox
        self._root = settings.sandbox_workdir
        self._bwrap = shutil.which(settings.sandbox.bwrap_path) or settings.sandbox.bwrap_path
        self._locks: dict[str, asyncio.Lock] = {}

    # --- the API's operations -------------------------------------------------------------

    async def create(self, project_id: str, body: SandboxCreate) -> Sandbox:
        return await self._store.sandboxes.create(project_id, body.thread_id)

    async def get(self, project_id: str, sandbox_id: str) -> Sandbox:
        return await self._store.sandboxes.get(project_id, sandbox_id)

    async def list(self, project_id: str, cursor: str | None, limit: int) -> Page[Sandbox]:
        return await self._store.sandboxes.list(project_id, cursor, limit)

    async def delete(self, project_id: str, sandbox_id: str) -> None:
        await self._store.sandboxes.delete(project_id, sandbox_id)
        await asyncio.to_thread(shutil.rmtree, self._root / sandbox_id, True)

    async def upload_file(self, project_id: str, sandbox_id: str, path: str, data: bytes) -> Sandbox:
        await self.get(project_id, sandbox_id)
        limit = self._settings.max_workspace_mb * MB
        if len(data) > limit:
            raise _too_large(len(data), limit)
        await self._change(sandbox_id, lambda ws: asyncio.to_thread(ws.write_file, path, data, limit))
        return await self.get(project_id, sandbox_id)

    async def upload_archive(self, project_id: str, sandbox_id: str, archive: bytes, into: str) -> Sandbox:
        await self.get(project_id, sandbox_id)
        await self._change(sandbox_id, lambda ws: asyncio.to_thread(ws.extract_upload, archive, into))
        return await self.get(project_id, sandbox_id)

    async def list_files(self, project_id: str, sandbox_id: str, path: str) -> list[SandboxFile]:
        await self.get(project_id, sandbox_id)
        workspace = await self._checkout(sandbox_id)
        entries = await _confined(asyncio.to_thread(workspace.list_files, path))
        return [SandboxFile.model_validate(e) for e in entries]

    async def download_file(self, project_id: str, sandbox_id: str, path: str) -> bytes:
        await self.get(project_id, sandbox_id)
        workspace = await self._checkout(sandbox_id)
        return await _confined(asyncio.to_thread(workspace.read_file, path, self._settings.max_upload_bytes))

    async def download_archive(self, project_id: str, sandbox_id: str) -> bytes:
        await self.get(project_id, sandbox_id)
        workspace = await self._checkout(sandbox_id)
        return await _confined(asyncio.to_thread(workspace.snapshot, self._settings.max_workspace_mb * MB))

    # --- runs -----------------------------------------------------------------------------

    async def for_new_run(
        self, project_id: str, body: RunCreate, definition: AgentDefinition, *, required: bool = False
    ) -> str | None:
        """The sandbox a new run uses: the one it names, its thread's, or a new one; None: none."""
        if not wants_sandbox(body, definition, required):
            return None
        if body.sandbox_id is not None:
            named = await self._store.sandboxes.get(project_id, body.sandbox_id)
            if body.thread_id is not None and named.thread_id is None:
                # A thread keeps the sandbox its run was given (unless it already has one).
                await self._store.sandboxes.bind_thread(named.id, body.thread_id)
            await self._store.sandboxes.touch(named.id)  # used: retention counts from now
            return named.id
        if body.thread_id is not None:
            existing = await self._store.sandboxes.for_thread(project_id, body.thread_id)
            if existing is not None:
                await self._store.sandboxes.touch(existing.id)
                return existing.id
        return (await self._store.sandboxes.create(project_id, body.thread_id)).id

    def session(self, sandbox_id: str, spec: SandboxSpec | None) -> SandboxSession:
        """What a run's sandbox tools talk to. Raises ``unavailable`` when bubblewrap is missing."""
        from agentrun.sandbox import sandbox_available

        reason = sandbox_available(self._bwrap)
        if reason is not None:
            raise AgentrunError(ErrorCode.unavailable, f"This run needs a sandbox, but {reason}")
        return SandboxSession(self, sandbox_id, limits_for(spec, self._settings), bool(spec and spec.network))

    async def apply_retention(self, cutoff: Any) -> int:
        """Delete sandboxes unused since ``cutoff``, and this process's local copies of any
        sandbox the store no longer has (deleted here, on another node, or by retention)."""
        removed = await self._store.sandboxes.delete_unused_before(cutoff)
        local = [p.name for p in self._root.iterdir() if p.is_dir()] if self._root.exists() else []
        known = await self._store.sandboxes.existing(local)
        for sandbox_id in set(local) - known:
            await asyncio.to_thread(shutil.rmtree, self._root / sandbox_id, True)
        return len(removed)

    # --- the local copy -------------------------------------------------------------------

    def _workspace(self, home: Any) -> Workspace:
        from agentrun.sandbox import Workspace

        return Workspace(home / "workspace", bwrap_path=self._bwrap)

    def _lock(self, sandbox_id: str) -> asyncio.Lock:
        return self._locks.setdefault(sandbox_id, asyncio.Lock())

    async def _checkout(self, sandbox_id: str) -> Workspace:
        """The local copy of the sandbox, refreshed from the store when the store's is newer."""
        async with self._lock(sandbox_id):
            return await self._checkout_locked(sandbox_id)

    async def _checkout_locked(self, sandbox_id: str) -> Workspace:
        home = self._root / sandbox_id
        if not home.exists():
            # Traversable, not listable: the sandbox's unprivileged user must reach its workspace.
            for folder in (self._root, home):
                folder.mkdir(mode=0o711, exist_ok=True)
                os.chmod(folder, 0o711)
        marker = home / "version"
        workspace = self._workspace(home)
        stored = await self._store.sandboxes.version(sandbox_id)
        local = marker.read_text().strip() if marker.exists() else None
        if local != str(stored):
            archive = await self._store.sandboxes.load(sandbox_id)
            if archive.data is not None:
                await asyncio.to_thread(workspace.restore, archive.data)
            else:  # never written: an empty workspace
                await asyncio.to_thread(workspace.delete)
                workspace = self._workspace(home)
            marker.write_text(str(archive.version))
        return workspace

    async def _change(self, sandbox_id: str, change: Any) -> Any:
        """``await change(workspace)`` on the current files, then archive them before returning.

        If the change fails half-way (cancelled, a limit), the local copy is marked stale so the
        next use restores what the store holds instead of trusting a copy nobody archived.
        """
        async with self._lock(sandbox_id):
            workspace = await self._checkout_locked(sandbox_id)
            marker = self._root / sandbox_id / "version"
            # Stale until archived: a process killed mid-change (SIGKILL runs no except) must
            # not leave a marker that makes its restart trust files no finished step wrote.
            marker.unlink(missing_ok=True)
            try:
                result = await _confined(change(workspace))
                await self._commit(sandbox_id, workspace)
            except BaseException:
                marker.unlink(missing_ok=True)
                raise
            return result

    async def _commit(self, sandbox_id: str, workspace: Workspace) -> None:
        cap = self._settings.max_workspace_mb * MB
        size = await asyncio.to_thread(workspace.size_bytes)
        if size > cap:
            raise _too_large(size, cap)
        archive = await _confined(asyncio.to_thread(workspace.snapshot, cap))
        count = sum(
            1 for e in await asyncio.to_thread(workspace.list_files, ".", 1_000_000) if e["type"] == "file"
        )
        version = await self._store.sandboxes.save(
            sandbox_id, archive, size, count, self._settings.max_project_mb * MB
        )
        (self._root / sandbox_id / "version").write_text(str(version))


@dataclass
class SandboxSession:
    """One run's handle on its sandbox: what the shell and file tools call."""

    service: SandboxService
    sandbox_id: str
    limits: SandboxLimits
    network: bool

    async def run_command(self, command: str) -> str:
        async def run(workspace: Workspace) -> CommandResult:
            return await workspace.run(command, limits=self.limits, network=self.network)

        result: CommandResult = await self.service._change(self.sandbox_id, run)
        if result.killed is not None:
            raise SandboxCommandStopped(
                f"the command was stopped: {_STOPPED.get(result.killed, result.killed)} "
                f"after {result.duration_s:.1f} s.\n{_output(result)}"
            )
        return f"exit code: {result.exit_code}\n{_output(result)}"

    async def read_file(self, path: str) -> str:
        workspace = await self.service._checkout(self.sandbox_id)
        limit = self.service._settings.max_read_bytes
        data = await _confined(asyncio.to_thread(workspace.read_file, path, limit))
        return data.decode("utf-8", errors="replace")

    async def write_file(self, path: str, content: str) -> str:
        data = content.encode()
        limit = self.limits.max_file_mb * MB
        await self.service._change(
            self.sandbox_id, lambda ws: asyncio.to_thread(ws.write_file, path, data, limit)
        )
        return f"wrote {len(data)} bytes to {path}"

    async def list_files(self, path: str) -> list[dict[str, Any]]:
        workspace = await self.service._checkout(self.sandbox_id)
        return await _confined(asyncio.to_thread(workspace.list_files, path, 1000))

    async def server_argv(self, argv: list[str], env: dict[str, str]) -> list[str]:
        workspace = await self.service._checkout(self.sandbox_id)
        return workspace.server_argv(argv, limits=self.limits, network=self.network, env=env)

    async def commit(self) -> None:
        async def unchanged(_workspace: Workspace) -> None:
            return None  # the files were changed by a process in the sandbox; archive them as they are

        await self.service._change(self.sandbox_id, unchanged)


_STOPPED = {
    "timeout": "wall-clock limit",
    "cpu": "CPU time limit",
    "memory": "memory limit",
    "output": "output limit",
    "processes": "process limit",
    "file_size": "file size limit",
    "cancelled": "the run was cancelled",
}


def _output(result: CommandResult) -> str:
    parts = [f"stdout:\n{result.stdout}" if result.stdout else "stdout: (empty)"]
    if result.stderr:
        parts.append(f"stderr:\n{result.stderr}")
    if result.truncated:
        parts.append("[output truncated]")
    return "\n".join(parts)


def _too_large(size: int, cap: int) -> AgentrunError:
    return AgentrunError(
        ErrorCode.sandbox_too_large,
        f"The sandbox's files would take {size} bytes; the limit is {cap} (sandbox.max_workspace_mb). "
        "The change was not kept.",
        {"limit_bytes": cap, "size_bytes": size},
    )


async def _confined(work: Any) -> Any:
    """A path escape or an oversized file is the caller's mistake: a 4xx, not a 500."""
    from agentrun.sandbox import SandboxLimitExceeded

    try:
        return await work
    except SandboxLimitExceeded as exc:
        raise AgentrunError(ErrorCode.validation_error, str(exc)) from None
    except FileNotFoundError as exc:
        raise AgentrunError(
            ErrorCode.not_found, f"No such file in the sandbox: {exc.filename or exc}"
        ) from None
    except OSError as exc:
        if exc.errno in (errno.ENAMETOOLONG, errno.ENOTDIR, errno.ELOOP):  # the caller's path, not our fault
            raise AgentrunError(
                ErrorCode.validation_error, f"Bad path in the sandbox: {exc.strerror}"
            ) from None
        raise
