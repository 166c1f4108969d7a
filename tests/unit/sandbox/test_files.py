"""Confined file access from the server side, including symlinks a sandboxed command planted."""

from __future__ import annotations

import os

import pytest

from agentrun.sandbox import SandboxLimitExceeded, SandboxLimits, Workspace

from .conftest import SANDBOX_UID


def test_workspace_root_is_private_and_owned_by_the_sandbox_user(ws: Workspace) -> None:
    st = ws.root.stat()
    assert st.st_mode & 0o777 == 0o700
    assert st.st_uid == SANDBOX_UID


def test_write_read_list_size(ws: Workspace) -> None:
    ws.write_file("a/b/c.txt", b"hello", 100)
    ws.write_file("top.bin", b"\0" * 10, 100)
    assert ws.read_file("a/b/c.txt", 100) == b"hello"
    assert ws.read_file("./a//b/c.txt", 5) == b"hello"
    assert (ws.root / "a" / "b").stat().st_uid == SANDBOX_UID
    assert (ws.root / "a/b/c.txt").stat().st_uid == SANDBOX_UID
    assert ws.list_files() == [
        {"path": "a", "type": "dir", "size": (ws.root / "a").stat().st_size},
        {"path": "a/b", "type": "dir", "size": (ws.root / "a/b").stat().st_size},
        {"path": "a/b/c.txt", "type": "file", "size": 5},
        {"path": "top.bin", "type": "file", "size": 10},
    ]
    assert [e["path"] for e in ws.list_files("a")] == ["a/b", "a/b/c.txt"]
    assert len(ws.list_files(max_entries=2)) == 2
    assert ws.size_bytes() >= 15


def test_size_limits_on_read_and_write(ws: Workspace) -> None:
    with pytest.raises(SandboxLimitExceeded, match="write limit"):
        ws.write_file("x", b"12345", 4)
    ws.write_file("x", b"12345", 5)
    with pytest.raises(SandboxLimitExceeded, match="read limit"):
        ws.read_file("x", 4)


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/passwd", "a/../b", "\0"])
def test_escaping_paths_are_refused(ws: Workspace, path: str) -> None:
    with pytest.raises(SandboxLimitExceeded):
        ws.read_file(path, 100)
    with pytest.raises(SandboxLimitExceeded):
        ws.write_file(path, b"x", 100)


@pytest.mark.slow
async def test_symlinks_planted_by_a_command_cannot_lead_outside(ws: Workspace) -> None:
    script = (
        "ln -s /etc/passwd abs_out; ln -s ../../../../../../etc rel_out; ln -s / root_link; "
        "mkdir d; ln -s ../.. d/up; echo inside > real; ln -s real rel_in; ln -s /workspace/real abs_in; "
        "mkdir sub; ln -s sub subdir_link; mkfifo fifo"
    )
    result = await ws.run(script, limits=SandboxLimits(wall_s=20))
    assert result.exit_code == 0, result.stderr
    for path in ["abs_out", "rel_out/passwd", "root_link/etc/passwd", "d/up/x", "root_link"]:
        with pytest.raises(SandboxLimitExceeded):
            ws.read_file(path, 10_000)
        with pytest.raises(SandboxLimitExceeded):
            ws.write_file(path, b"owned", 100)
    assert ws.read_file("rel_in", 100) == b"inside\n"
    assert ws.read_file("abs_in", 100) == b"inside\n"
    ws.write_file("subdir_link/new.txt", b"via link", 100)
    assert (ws.root / "sub" / "new.txt").read_bytes() == b"via link"
    with pytest.raises(SandboxLimitExceeded, match="not a regular file"):
        ws.read_file("fifo", 100)  # would block the server thread if opened blindly
    with pytest.raises(SandboxLimitExceeded):
        ws.write_file("fifo", b"x", 100)
    assert [e for e in ws.list_files() if e["path"] == "abs_out"] == [
        {"path": "abs_out", "type": "symlink", "size": 11}
    ]
    with pytest.raises(SandboxLimitExceeded):
        ws.list_files("root_link")
    assert os.path.exists("/etc/passwd") and b"owned" not in open("/etc/passwd", "rb").read()


def test_delete_removes_the_tree_but_not_link_targets(ws: Workspace, ws_base) -> None:
    outside = ws_base / "keep.txt"
    outside.write_text("keep")
    ws.write_file("f", b"x", 10)
    os.symlink(outside, ws.root / "link")
    os.symlink(ws_base, ws.root / "dirlink")
    ws.delete()
    assert not ws.root.exists()
    assert outside.read_text() == "keep"
