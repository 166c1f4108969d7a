"""Snapshots, restores and uploads: deterministic and safe."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile

import pytest

from agentrun.sandbox import InvalidArchive, SandboxLimitExceeded, Workspace

from .conftest import SANDBOX_UID


def _tar(members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tar.addfile(m)
            else:
                name, data = m
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def _fill(ws: Workspace) -> None:
    ws.write_file("src/app.py", b"print('hi')\n", 100)
    ws.write_file("src/data/blob.bin", os.urandom(5000), 10_000)
    ws.write_file("README", b"readme", 100)
    os.symlink("src/app.py", ws.root / "link")


def test_snapshot_is_deterministic_and_restores(ws: Workspace, ws_base) -> None:
    _fill(ws)
    first = ws.snapshot(1 << 20)
    assert first == ws.snapshot(1 << 20)
    assert first[:2] == b"\x1f\x8b"  # gzip
    names = tarfile.open(fileobj=io.BytesIO(first)).getnames()
    assert names == sorted(names) or names == [
        "README",
        "link",
        "src",
        "src/app.py",
        "src/data",
        "src/data/blob.bin",
    ]

    ws.write_file("README", b"changed", 100)
    ws.write_file("new-file", b"gone after restore", 100)
    ws.restore(first)
    assert ws.read_file("README", 100) == b"readme"
    assert ws.read_file("link", 100) == b"print('hi')\n"
    assert not (ws.root / "new-file").exists()
    assert ws.root.stat().st_mode & 0o777 == 0o700
    assert {p.stat().st_uid for p in ws.root.rglob("*") if not p.is_symlink()} == {SANDBOX_UID}
    assert ws.snapshot(1 << 20) == first

    other = Workspace(ws_base / "copy")
    other.restore(first)
    assert other.read_file("src/data/blob.bin", 10_000) == ws.read_file("src/data/blob.bin", 10_000)
    assert not [p for p in os.listdir(ws_base) if p.startswith(".")]  # no staging dirs left


def test_snapshot_over_the_limit_raises(ws: Workspace) -> None:
    ws.write_file("noise", os.urandom(50_000), 100_000)
    with pytest.raises(SandboxLimitExceeded, match="snapshot is larger"):
        ws.snapshot(10_000)


@pytest.mark.parametrize(
    "member",
    [
        ("/etc/evil", b"x"),
        ("../evil", b"x"),
        ("a/../../evil", b"x"),
        _special("link", tarfile.SYMTYPE, "/etc/passwd"),
        _special("link", tarfile.SYMTYPE, "../../outside"),
        _special("hard", tarfile.LNKTYPE, "/etc/passwd"),
        _special("dev", tarfile.CHRTYPE),
        _special("fifo", tarfile.FIFOTYPE),
    ],
    ids=[
        "absolute",
        "dotdot",
        "nested-dotdot",
        "abs-symlink",
        "rel-symlink-out",
        "hardlink-out",
        "chardev",
        "fifo",
    ],
)
def test_unsafe_tar_members_are_refused(ws: Workspace, member) -> None:
    ws.write_file("keep", b"still here", 100)
    archive = _tar([member])
    with pytest.raises(SandboxLimitExceeded):
        ws.restore(archive)
    with pytest.raises(SandboxLimitExceeded):
        ws.extract_upload(archive)
    assert ws.read_file("keep", 100) == b"still here"  # a failed restore changes nothing
    assert not os.path.exists(os.path.join(os.path.dirname(ws.root), "evil"))


def test_upload_tar_and_zip_into_a_subdirectory(ws: Workspace) -> None:
    assert ws.extract_upload(_tar([("pkg/a.py", b"a"), ("pkg/b.py", b"b")], mode="w"), into="up") == 2
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("z/one.txt", "1")
        zf.writestr("z/two/three.txt", "3")
    assert ws.extract_upload(buf.getvalue(), into="up") == 2
    assert ws.read_file("up/pkg/a.py", 10) == b"a"
    assert ws.read_file("up/z/two/three.txt", 10) == b"3"
    assert (ws.root / "up/z/two/three.txt").stat().st_uid == SANDBOX_UID


@pytest.mark.parametrize("name", ["../evil.txt", "/abs.txt", "a/../../evil.txt"])
def test_zip_slip_is_refused(ws: Workspace, name: str) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, "evil")
    with pytest.raises(SandboxLimitExceeded):
        ws.extract_upload(buf.getvalue())


def test_upload_through_a_planted_symlink_stays_inside(ws: Workspace, ws_base) -> None:
    target = ws_base / "outside"
    target.mkdir()
    os.symlink(target, ws.root / "escape")  # as a sandboxed command could (absolute host path)
    with pytest.raises(SandboxLimitExceeded):
        ws.extract_upload(_tar([("escape/x.txt", b"x")]))
    assert list(target.iterdir()) == []


def test_archive_bombs_and_garbage(ws: Workspace) -> None:
    bomb = _tar([("zeros", b"\0" * 5_000_000)])
    assert len(bomb) < 10_000
    with pytest.raises(SandboxLimitExceeded, match="unpacks to more than"):
        ws.extract_upload(bomb, max_bytes=1_000_000)
    many = _tar([(f"f{i}", b"") for i in range(50)])
    with pytest.raises(SandboxLimitExceeded, match="more than 10 entries"):
        ws.extract_upload(many, max_files=10)
    with pytest.raises(InvalidArchive):
        ws.extract_upload(b"this is not an archive")
