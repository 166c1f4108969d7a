"""Workspace archives: deterministic snapshots, and safe extraction of snapshots and uploads.

Extraction never writes into the live workspace directly: archives are unpacked into a private
staging directory next to it (the sandbox cannot see it) with tarfile's 'data' filter (no
absolute paths, no '..', no device files, no links leaving the destination, no setuid bits),
after the member count and total size were checked. A restore then swaps the staging directory
in; an upload is merged in through the confined path walker, so a symlink a sandboxed command
planted in the workspace cannot redirect the write.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

from agentrun.sandbox.errors import InvalidArchive, SandboxLimitExceeded
from agentrun.sandbox.identity import Identity
from agentrun.sandbox.paths import Confined, split_relative

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_COPY_CHUNK = 1 << 20


class _CappedBuffer(io.BytesIO):
    """A BytesIO that refuses to grow past max_bytes, so a snapshot fails early, not at the end."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__()
        self.max_bytes = max_bytes

    def write(self, data) -> int:  # type: ignore[override]
        if self.tell() + len(data) > self.max_bytes:
            raise SandboxLimitExceeded(f"workspace snapshot is larger than {self.max_bytes} bytes")
        return super().write(data)


def _tarinfo(name: str, st: os.stat_result) -> tarfile.TarInfo:
    # Owner and names are normalised so that two identical trees give identical archives.
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode) & 0o777
    info.mtime = int(st.st_mtime)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def snapshot(root: Path, max_bytes: int) -> bytes:
    """tar + gzip of the tree under root, members sorted, gzip header without a timestamp.

    Regular files, directories and symlinks are kept; FIFOs and sockets are left out.
    """
    buf = _CappedBuffer(max_bytes)
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for dirpath, dirnames, filenames, dirfd in os.fwalk(root, follow_symlinks=False):
                dirnames.sort()
                rel = os.path.relpath(dirpath, root)
                for name in sorted(dirnames + filenames):
                    arcname = name if rel == "." else f"{rel}/{name}"
                    _add_member(tar, arcname, name, dirfd)
    return buf.getvalue()


def _add_member(tar: tarfile.TarFile, arcname: str, name: str, dirfd: int) -> None:
    st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    info = _tarinfo(arcname, st)
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    elif stat.S_ISLNK(st.st_mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(name, dir_fd=dirfd)
        tar.addfile(info)
    elif stat.S_ISREG(st.st_mode):
        fd = os.open(name, _READ_FLAGS, dir_fd=dirfd)
        with os.fdopen(fd, "rb") as f:
            fst = os.fstat(f.fileno())
            if not stat.S_ISREG(fst.st_mode):  # swapped between stat and open
                return
            info.size = fst.st_size
            tar.addfile(info, f)


def _open_archive(archive: bytes) -> tarfile.TarFile | zipfile.ZipFile:
    if zipfile.is_zipfile(io.BytesIO(archive)):
        try:
            return zipfile.ZipFile(io.BytesIO(archive))
        except zipfile.BadZipFile as exc:
            raise InvalidArchive(f"unreadable zip archive: {exc}") from exc
    try:
        return tarfile.open(fileobj=io.BytesIO(archive), mode="r:*")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise InvalidArchive(f"not a tar, tar.gz or zip archive: {exc}") from exc


def _check_totals(count: int, size: int, max_files: int, max_bytes: int) -> None:
    if count > max_files:
        raise SandboxLimitExceeded(f"archive has more than {max_files} entries")
    if size > max_bytes:
        raise SandboxLimitExceeded(f"archive unpacks to more than {max_bytes} bytes")


def _unpack_tar(tar: tarfile.TarFile, dest: str, max_bytes: int, max_files: int) -> None:
    count = size = 0
    try:
        for member in tar:  # streams headers; stops early on a bomb instead of listing it all
            # The data filter would strip a leading '/'; refuse instead, as for zip members.
            if member.name.startswith("/") or (member.islnk() and member.linkname.startswith("/")):
                raise InvalidArchive(f"archive member {member.name!r} has an absolute path")
            count += 1
            size += max(member.size, 0)
            _check_totals(count, size, max_files, max_bytes)
        tar.extractall(dest, filter="data")
    except tarfile.FilterError as exc:
        raise InvalidArchive(f"archive member refused: {exc}") from exc
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise InvalidArchive(f"unreadable tar archive: {exc}") from exc


def _unpack_zip(zf: zipfile.ZipFile, dest: str, max_bytes: int, max_files: int) -> None:
    infos = zf.infolist()
    _check_totals(len(infos), sum(i.file_size for i in infos), max_files, max_bytes)
    for info in infos:
        parts = split_relative(info.filename)  # refuses absolute names and '..'
        if not parts:
            continue
        target = os.path.join(dest, *parts)
        if info.is_dir():
            os.makedirs(target, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        # Symlink entries come out as small regular files holding the target: never a link.
        try:
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, _COPY_CHUNK)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise InvalidArchive(f"unreadable zip member {info.filename!r}: {exc}") from exc
        mode = (info.external_attr >> 16) & 0o777
        os.chmod(target, (mode or 0o644) & 0o755 | 0o600)


def _unpack(archive: bytes, dest: str, max_bytes: int, max_files: int) -> None:
    with _open_archive(archive) as arc:
        if isinstance(arc, zipfile.ZipFile):
            _unpack_zip(arc, dest, max_bytes, max_files)
        else:
            _unpack_tar(arc, dest, max_bytes, max_files)


def _staging(root: Path) -> str:
    """A private directory beside root (same filesystem, invisible to the sandbox)."""
    root.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkdtemp(prefix=f".{root.name}.staging-", dir=root.parent)


def restore(root: Path, archive: bytes, identity: Identity, *, max_bytes: int, max_files: int) -> None:
    staging = _staging(root)
    try:
        _unpack(archive, staging, max_bytes, max_files)
        os.chmod(staging, 0o700)
        identity.chown_tree(Path(staging))
        old = None
        if root.exists():
            old = tempfile.mkdtemp(prefix=f".{root.name}.old-", dir=root.parent)
            os.rename(root, os.path.join(old, "ws"))
        os.rename(staging, root)
        if old:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def extract_upload(
    root: Path, archive: bytes, into: str, identity: Identity, *, max_bytes: int, max_files: int
) -> int:
    staging = _staging(root)
    try:
        _unpack(archive, staging, max_bytes, max_files)
        return _merge(Path(staging), Confined(root), split_relative(into), identity)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _merge(staging: Path, ws: Confined, into: list[str], identity: Identity) -> int:
    """Copy the staged tree into the workspace under `into`, every write confined."""
    added = 0
    on_create = _chowner(identity)
    for dirpath, dirnames, filenames, dirfd in os.fwalk(staging, follow_symlinks=False):
        dirnames.sort()
        rel = os.path.relpath(dirpath, staging)
        base = into + ([] if rel == "." else rel.split("/"))
        for name in sorted(filenames + dirnames):
            st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            dest = "/".join(base + [name])
            if stat.S_ISDIR(st.st_mode):
                fd, _ = ws.open_dir(dest, create=True, on_create=on_create)
                os.close(fd)
                continue
            with ws.parent_of(dest, create_dirs=True, on_create=on_create) as (pfd, leaf, _):
                if stat.S_ISLNK(st.st_mode):
                    _replace_with_symlink(os.readlink(name, dir_fd=dirfd), leaf, pfd)
                    identity.chown(leaf, dir_fd=pfd)
                elif stat.S_ISREG(st.st_mode):
                    _copy_file(name, dirfd, leaf, pfd, st.st_mode, identity)
                else:
                    continue
            added += 1
    return added


def _chowner(identity: Identity):
    def on_create(name: str, dirfd: int) -> None:
        identity.chown(name, dir_fd=dirfd)

    return on_create


def _replace_with_symlink(target: str, leaf: str, pfd: int) -> None:
    try:
        os.unlink(leaf, dir_fd=pfd)
    except FileNotFoundError:
        pass
    except IsADirectoryError as exc:
        raise SandboxLimitExceeded(f"cannot replace directory {leaf!r} with a symlink") from exc
    os.symlink(target, leaf, dir_fd=pfd)


def _copy_file(name: str, src_dirfd: int, leaf: str, pfd: int, mode: int, identity: Identity) -> None:
    src = os.open(name, _READ_FLAGS, dir_fd=src_dirfd)
    try:
        dst = open_for_write(leaf, pfd, stat.S_IMODE(mode) & 0o755 | 0o600)
        try:
            identity.fchown(dst)
            while chunk := os.read(src, _COPY_CHUNK):
                os.write(dst, chunk)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def open_for_write(leaf: str, pfd: int, mode: int = 0o644) -> int:
    """Open (create/truncate) a regular file in dir pfd; refuses FIFOs, devices, directories."""
    try:
        fd = os.open(leaf, _WRITE_FLAGS, mode, dir_fd=pfd)
    except IsADirectoryError as exc:
        raise SandboxLimitExceeded(f"{leaf!r} is a directory") from exc
    except OSError as exc:  # ENXIO: a FIFO without reader
        raise SandboxLimitExceeded(f"{leaf!r} is not a regular file: {exc.strerror}") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise SandboxLimitExceeded(f"{leaf!r} is not a regular file")
    return fd
