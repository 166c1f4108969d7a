"""Which uid/gid the sandbox runs as, and making workspace files theirs.

Root is the problem case: RLIMIT_NPROC is not enforced for uid 0, and a sandbox running as root
could read any root-owned file that ends up bound into it. So when the server is root, bwrap is
started as an unprivileged uid (default 65534, "nobody"; configurable so a deployment can use a
dedicated one) and the workspace is chowned to it. When the server is not root, bwrap runs as
the server's own user and nothing is chowned.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SANDBOX_UID = 65534
DEFAULT_SANDBOX_GID = 65534


@dataclass(frozen=True)
class Identity:
    uid: int
    gid: int
    drop: bool  # True: the server is root and the child switches to uid/gid before exec'ing bwrap

    def chown(self, path: str | Path, *, dir_fd: int | None = None) -> None:
        if self.drop:
            os.chown(path, self.uid, self.gid, dir_fd=dir_fd, follow_symlinks=False)

    def fchown(self, fd: int) -> None:
        if self.drop:
            os.fchown(fd, self.uid, self.gid)

    def chown_tree(self, root: Path) -> None:
        """Give every entry under root (root included) to the sandbox user; never follows links."""
        if not self.drop:
            return
        self.chown(root)
        for _, dirnames, filenames, dirfd in os.fwalk(root, follow_symlinks=False):
            for name in dirnames + filenames:
                st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                if st.st_uid != self.uid or st.st_gid != self.gid:
                    self.chown(name, dir_fd=dirfd)

    def unsearchable_ancestor(self, root: Path) -> Path | None:
        """The first ancestor of root this identity cannot traverse, or None.

        bwrap resolves bind sources after it has switched to the sandbox's user namespace, so the
        sandbox uid itself must be able to reach the workspace (bubblewrap issues #569, #570).
        """
        for parent in reversed(root.resolve().parents):
            st = parent.stat()
            if st.st_uid == self.uid:
                bit = stat.S_IXUSR
            elif st.st_gid == self.gid:
                bit = stat.S_IXGRP
            else:
                bit = stat.S_IXOTH
            if not st.st_mode & bit:
                return parent
        return None


def resolve_identity(uid: int | None = None, gid: int | None = None) -> Identity:
    """The identity for sandboxes started by this process (uid/gid apply only when root)."""
    if os.geteuid() == 0:
        return Identity(
            uid=DEFAULT_SANDBOX_UID if uid is None else uid,
            gid=DEFAULT_SANDBOX_GID if gid is None else gid,
            drop=True,
        )
    return Identity(uid=os.getuid(), gid=os.getgid(), drop=False)
