"""A workspace: one directory on local disk that a sandbox's commands see as /workspace.

File methods are synchronous (call them via asyncio.to_thread) and confined (paths.py); `run`
is async and goes through bubblewrap (bwrap.py).
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path

from agentrun.sandbox import archive, bwrap
from agentrun.sandbox.errors import SandboxLimitExceeded, SandboxUnavailable
from agentrun.sandbox.identity import Identity, resolve_identity
from agentrun.sandbox.limits import MB, CommandResult, SandboxLimits
from agentrun.sandbox.paths import Confined

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
DEFAULT_MAX_ARCHIVE_BYTES = 1 << 30
DEFAULT_MAX_ARCHIVE_FILES = 100_000


def sandbox_available(
    bwrap_path: str | os.PathLike[str] = bwrap.DEFAULT_BWRAP,
    *,
    uid: int | None = None,
    gid: int | None = None,
) -> str | None:
    """None when sandboxes can run here, else the reason (what to install or fix). Cached."""
    return bwrap.probe(os.fspath(bwrap_path), resolve_identity(uid, gid))


class Workspace:
    def __init__(
        self,
        root: Path,
        *,
        bwrap_path: str | os.PathLike[str] = bwrap.DEFAULT_BWRAP,
        uid: int | None = None,
        gid: int | None = None,
    ) -> None:
        """root is created (0700, owned by the sandbox uid when the server is root) if missing.

        uid/gid: the unprivileged identity sandboxes run as when the server is root (default
        65534); ignored otherwise. Every ancestor of root must be searchable by it (mode o+x,
        0711 is enough): bwrap opens the bind source as that uid.
        """
        self.root = Path(root).absolute()
        self.bwrap_path = os.fspath(bwrap_path)
        self.identity: Identity = resolve_identity(uid, gid)
        if self.identity.drop and self.identity.uid == 0:
            raise ValueError("the sandbox uid must not be 0")
        if not self.root.exists():
            self.root.mkdir(mode=0o700, parents=True)
            self.identity.chown(self.root)
        self._confined = Confined(self.root)

    # -- commands -----------------------------------------------------------------------

    async def run(
        self,
        command: str,
        *,
        limits: SandboxLimits,
        network: bool = False,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
    ) -> CommandResult:
        """Run `/bin/sh -c command` in the sandbox, cwd /workspace.

        Raises SandboxUnavailable when bwrap cannot run, SandboxLimitExceeded (with `.result`)
        when the command left the workspace over max_workspace_mb. Cancelling the awaiting task
        kills the whole process tree before CancelledError propagates.
        """
        self._check_runnable()
        result = await bwrap.run_command(
            self.bwrap_path,
            self.root,
            command,
            identity=self.identity,
            limits=limits,
            network=network,
            env=_check_env(env),
            stdin=stdin,
        )
        size = self.size_bytes()
        if size > limits.max_workspace_mb * MB:
            raise SandboxLimitExceeded(
                f"workspace is {size} bytes after the command, over the {limits.max_workspace_mb} MB limit",
                result=result,
            )
        return result

    def server_argv(
        self,
        argv: list[str],
        *,
        limits: SandboxLimits,
        network: bool = False,
        env: dict[str, str] | None = None,
    ) -> list[str]:
        """The command line that starts a long-lived ``argv`` (e.g. an MCP stdio server) in this
        sandbox, cwd /workspace. Spawn it with an empty environment; killing it ends the sandbox."""
        self._check_runnable()
        return bwrap.server_argv(
            self.bwrap_path,
            self.root,
            argv,
            identity=self.identity,
            limits=limits,
            network=network,
            env=_check_env(env),
            data_dir=self.root.parent / "sandbox-etc",
        )

    def _check_runnable(self) -> None:
        """SandboxUnavailable, saying what to fix, when bwrap cannot start here or cannot reach root."""
        reason = bwrap.probe(self.bwrap_path, self.identity)
        if reason:
            raise SandboxUnavailable(reason)
        blocked = self.identity.unsearchable_ancestor(self.root)
        if blocked is not None:
            raise SandboxUnavailable(
                f"{blocked} is not searchable by the sandbox uid {self.identity.uid}: "
                f"chmod o+x {blocked} (0711 allows traversal, not listing) or keep workspaces elsewhere"
            )

    # -- files --------------------------------------------------------------------------

    def read_file(self, path: str, max_bytes: int) -> bytes:
        with self._confined.parent_of(path) as (pfd, leaf, clean):
            try:
                fd = os.open(leaf, _READ_FLAGS, dir_fd=pfd)
            except FileNotFoundError:
                raise FileNotFoundError(f"{clean}: no such file in the workspace") from None
            with os.fdopen(fd, "rb") as f:
                st = os.fstat(f.fileno())
                if not stat.S_ISREG(st.st_mode):  # a FIFO would block the server thread
                    raise SandboxLimitExceeded(f"{clean} is not a regular file")
                if st.st_size > max_bytes:
                    raise SandboxLimitExceeded(
                        f"{clean} is {st.st_size} bytes, over the {max_bytes}-byte read limit"
                    )
                data = f.read(max_bytes + 1)  # the file may grow while we read
        if len(data) > max_bytes:
            raise SandboxLimitExceeded(f"{clean} is over the {max_bytes}-byte read limit")
        return data

    def write_file(self, path: str, data: bytes, max_bytes: int) -> None:
        if len(data) > max_bytes:
            raise SandboxLimitExceeded(f"{len(data)} bytes is over the {max_bytes}-byte write limit")
        chown = self._on_create
        with self._confined.parent_of(path, create_dirs=True, on_create=chown) as (pfd, leaf, _):
            fd = archive.open_for_write(leaf, pfd)
            try:
                self.identity.fchown(fd)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)

    def list_files(self, path: str = ".", max_entries: int = 1000) -> list[dict]:
        """[{path, type: file|dir|symlink, size}] under path, recursive, sorted, relative to the root.

        Stops after max_entries entries (callers wanting to know about more ask for one extra).
        Other kinds (FIFOs, sockets) are left out.
        """
        fd, clean = self._confined.open_dir(path)
        entries: list[dict] = []
        try:
            for dirpath, dirnames, filenames, dirfd in os.fwalk(".", dir_fd=fd, follow_symlinks=False):
                dirnames.sort()
                rel = os.path.normpath(os.path.join(clean, dirpath)) if clean else os.path.normpath(dirpath)
                for name in sorted(dirnames + filenames):
                    st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                    kind = _kind(st.st_mode)
                    if kind is None:
                        continue
                    entries.append(
                        {"path": name if rel == "." else f"{rel}/{name}", "type": kind, "size": st.st_size}
                    )
                    if len(entries) >= max_entries:
                        return sorted(entries, key=lambda e: e["path"])
        finally:
            os.close(fd)
        return sorted(entries, key=lambda e: e["path"])

    def size_bytes(self) -> int:
        """Disk use of the tree: per entry the larger of apparent size and allocated blocks.

        Counting blocks makes a million empty files count; the apparent size makes sparse files
        count as what they claim to be.
        """
        total = 0
        for _, dirnames, filenames, dirfd in os.fwalk(self.root, follow_symlinks=False):
            for name in dirnames + filenames:
                try:
                    st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                total += max(st.st_size if not stat.S_ISDIR(st.st_mode) else 0, st.st_blocks * 512)
        return total

    # -- archives -----------------------------------------------------------------------

    def snapshot(self, max_bytes: int) -> bytes:
        return archive.snapshot(self.root, max_bytes)

    def restore(
        self,
        archive_bytes: bytes,
        *,
        max_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES,
        max_files: int = DEFAULT_MAX_ARCHIVE_FILES,
    ) -> None:
        """Replace the workspace content by the archive's (atomically: a rename swap)."""
        archive.restore(self.root, archive_bytes, self.identity, max_bytes=max_bytes, max_files=max_files)

    def extract_upload(
        self,
        archive_bytes: bytes,
        into: str = ".",
        *,
        max_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES,
        max_files: int = DEFAULT_MAX_ARCHIVE_FILES,
    ) -> int:
        """Add a tar / tar.gz / zip's content under `into`; returns files (and symlinks) added."""
        return archive.extract_upload(
            self.root, archive_bytes, into, self.identity, max_bytes=max_bytes, max_files=max_files
        )

    def delete(self) -> None:
        # rmtree works on dir fds here (rmtree.avoids_symlink_attacks), so a planted symlink
        # cannot make it delete outside the workspace.
        if self.root.exists():
            shutil.rmtree(self.root)

    def _on_create(self, name: str, dirfd: int) -> None:
        self.identity.chown(name, dir_fd=dirfd)


def _kind(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return None


def _check_env(env: Mapping[str, str] | None) -> dict[str, str]:
    return dict(env or {})
