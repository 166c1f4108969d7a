"""Confined access to a workspace directory from the (possibly root) server.

A command running in the sandbox can create symlinks and swap directories while the server
reads or writes the workspace, so paths are never handed to the kernel whole: each component is
opened relative to the previous directory's fd with O_NOFOLLOW. Symlinks met on the way are
resolved here, lexically, against the workspace root ("/workspace/..." absolute targets count as
inside, since that is how the sandbox sees them); one that leads outside is refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator

from agentrun.sandbox.errors import SandboxLimitExceeded

SANDBOX_ROOT = "/workspace"
_MAX_LINKS = 40  # like the kernel's MAXSYMLINKS
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def split_relative(path: str) -> list[str]:
    """Components of a caller-given relative path; refuses absolute paths and '..'."""
    if "\0" in path:
        raise SandboxLimitExceeded(f"path {path!r} contains a NUL byte")
    if path.startswith("/"):
        raise SandboxLimitExceeded(f"path {path!r} is absolute; give a path relative to the workspace")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise SandboxLimitExceeded(f"path {path!r} leaves the workspace ('..' is not allowed)")
    return parts


def _link_target_parts(current: list[str], target: str, original: str) -> list[str]:
    """Where a symlink found in workspace directory `current` points, as workspace components.

    Resolved lexically; the result is walked again with O_NOFOLLOW opens, so an odd target can
    at worst name another path inside the workspace, never one outside.
    """
    if target.startswith("/"):
        if target != SANDBOX_ROOT and not target.startswith(SANDBOX_ROOT + "/"):
            raise SandboxLimitExceeded(
                f"path {original!r} goes through a symlink that points outside the workspace"
            )
        result: list[str] = []
        rest = target[len(SANDBOX_ROOT) :]
    else:
        result = list(current)
        rest = target
    for part in rest.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not result:
                raise SandboxLimitExceeded(
                    f"path {original!r} goes through a symlink that points outside the workspace"
                )
            result.pop()
        else:
            result.append(part)
    return result


class Confined:
    """Opens paths inside one workspace root without ever following a symlink out of it."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)

    @contextlib.contextmanager
    def parent_of(
        self, path: str, *, create_dirs: bool = False, on_create=None
    ) -> Iterator[tuple[int, str, str]]:
        """Yield (dir fd, final name, clean relative path) for path; the final component may not exist.

        The final component, if it is a symlink, is resolved too, so the name yielded is never
        a symlink at the time of the call (callers still open it with O_NOFOLLOW).
        """
        parts = split_relative(path)
        if not parts:
            raise SandboxLimitExceeded("the workspace root itself is not a file")
        links = 0
        while True:
            fd, walked = self._walk(parts[:-1], path, create_dirs, on_create)
            name = parts[-1]
            try:
                target = os.readlink(name, dir_fd=fd)
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOENT):
                    os.close(fd)
                    raise
                try:
                    yield fd, name, "/".join(walked + [name])
                finally:
                    os.close(fd)
                return
            os.close(fd)
            links += 1
            if links > _MAX_LINKS:
                raise SandboxLimitExceeded(f"path {path!r} has too many levels of symlinks")
            parts = _link_target_parts(walked, target, path)
            if not parts:
                raise SandboxLimitExceeded(f"path {path!r} points at the workspace root, not a file")

    def open_dir(self, path: str, *, create: bool = False, on_create=None) -> tuple[int, str]:
        """An fd of the directory at path (caller closes it) and its clean relative path."""
        fd, walked = self._walk(split_relative(path), path, create, on_create)
        return fd, "/".join(walked)

    def _walk(self, parts: list[str], original: str, create: bool, on_create) -> tuple[int, list[str]]:
        """Open the directory at parts, resolving symlinks confined; returns (fd, resolved parts)."""
        pending = list(parts)
        walked: list[str] = []
        fd = os.open(self.root, _DIR_FLAGS)
        links = 0
        try:
            while pending:
                part = pending.pop(0)
                try:
                    nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(part, 0o755, dir_fd=fd)
                    if on_create:
                        on_create(part, fd)
                    nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    # ELOOP / ENOTDIR: a symlink (resolve it here) or not a directory.
                    st = os.stat(part, dir_fd=fd, follow_symlinks=False)
                    if not stat.S_ISLNK(st.st_mode):
                        raise NotADirectoryError(f"{'/'.join(walked + [part])} is not a directory") from exc
                    links += 1
                    if links > _MAX_LINKS:
                        raise SandboxLimitExceeded(
                            f"path {original!r} has too many levels of symlinks"
                        ) from exc
                    target = os.readlink(part, dir_fd=fd)
                    pending = _link_target_parts(walked, target, original) + pending
                    os.close(fd)
                    fd = os.open(self.root, _DIR_FLAGS)
                    walked = []
                    continue
                os.close(fd)
                fd = nfd
                walked.append(part)
            return fd, walked
        except BaseException:
            os.close(fd)
            raise
