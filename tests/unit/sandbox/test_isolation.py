"""What a sandboxed command can see and reach, checked with real bubblewrap."""

from __future__ import annotations

import asyncio
import io
import os
import tarfile
from pathlib import Path

import pytest

from agentrun.sandbox import SandboxLimits, SandboxUnavailable, Workspace

from .conftest import SANDBOX_UID

LIMITS = SandboxLimits(wall_s=20)
pytestmark = pytest.mark.slow


async def _listener() -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello from the host\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


CONNECT = "python3 -c 'import socket,sys; s=socket.create_connection((\"127.0.0.1\", int(sys.argv[1])), timeout=3); print(s.recv(100).decode())' {port}"


async def test_no_network_by_default_host_loopback_unreachable(ws: Workspace) -> None:
    server, port = await _listener()
    async with server:
        result = await ws.run(CONNECT.format(port=port), limits=LIMITS)
        links = await ws.run("cat /proc/net/dev", limits=LIMITS)
    assert result.exit_code != 0
    assert "hello from the host" not in result.stdout
    assert "Connection refused" in result.stderr or "unreachable" in result.stderr
    # A fresh network namespace: only its own (down) loopback device.
    devices = [line.split(":")[0].strip() for line in links.stdout.splitlines()[2:]]
    assert devices == ["lo"]


async def test_network_true_shares_only_the_network(ws: Workspace) -> None:
    server, port = await _listener()
    async with server:
        result = await ws.run(CONNECT.format(port=port), limits=LIMITS, network=True)
    assert result.exit_code == 0, result.stderr
    assert "hello from the host" in result.stdout
    inside = await ws.run(
        "for n in pid ipc uts mnt user cgroup net; do readlink /proc/self/ns/$n; done",
        limits=LIMITS,
        network=True,
    )
    host = [os.readlink(f"/proc/self/ns/{n}") for n in ("pid", "ipc", "uts", "mnt", "user", "cgroup", "net")]
    seen = inside.stdout.split()
    assert seen[:6] != host[:6] and all(a != b for a, b in zip(seen[:6], host[:6], strict=True))
    assert seen[6] == host[6]  # the network namespace is the only one shared


async def test_filesystem_view(ws: Workspace, ws_base: Path) -> None:
    other = Workspace(ws_base / "other")
    other.write_file("secret.txt", b"other workspace", 100)
    script = "; ".join(
        [
            "for p in /root /home /work /etc/shadow /etc/gshadow /var /opt /run /sys /srv /mnt "
            f"{other.root} {ws_base} /proc/1/root/root; do [ -e $p ] && echo VISIBLE $p; done",
            "for p in /usr/x /bin/x /etc/x /x /dev/x /proc/x; do touch $p 2>/dev/null && echo WROTE $p; done",
            "echo data > /workspace/ok && echo workspace-writable",
            "echo t > /tmp/t && echo tmp-writable",
            "ls /proc | grep -c '^[0-9]'",
            "cat /proc/1/cmdline | tr '\\0' ' '; echo",
            "ls /etc",
        ]
    )
    result = await ws.run(script, limits=LIMITS)
    assert not [line for line in result.stdout.splitlines() if line.startswith(("VISIBLE", "WROTE"))], (
        result.stdout
    )
    assert "workspace-writable" in result.stdout and "tmp-writable" in result.stdout
    lines = result.stdout.splitlines()
    nprocs = int(lines[2])
    assert nprocs <= 5  # a fresh /proc in a new PID namespace: bwrap's pid 1, the shell, ls, grep
    # pid 1 is the sandbox's own init, not the host's, and its command line hides the host paths.
    pid1 = lines[3].split()
    assert pid1[:2] == ["/usr/bin/bwrap", "--args"] and pid1[3:5] == ["--", "/usr/bin/prlimit"]
    assert str(ws.root) not in lines[3] and "--bind" not in lines[3]
    etc = set(lines[4:])
    assert "shadow" not in etc and "sudoers" not in etc and "ssh" not in etc
    assert {"passwd", "group", "hosts", "ld.so.cache"} <= etc
    assert (ws.root / "ok").read_bytes() == b"data\n"
    assert (ws.root / "ok").stat().st_uid == SANDBOX_UID


async def test_tmp_is_private_per_command(ws: Workspace) -> None:
    await ws.run("echo leftover > /tmp/x", limits=LIMITS)
    result = await ws.run("cat /tmp/x", limits=LIMITS)
    assert result.exit_code != 0


async def test_clean_environment_hides_server_secrets(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server-secret-do-not-leak")
    result = await ws.run(
        "env; cat /proc/self/environ | tr '\\0' '\\n'", limits=LIMITS, env={"GREETING": "hi"}
    )
    assert "sk-server-secret" not in result.stdout
    names = {line.split("=", 1)[0] for line in result.stdout.splitlines() if "=" in line}
    assert names <= {"PATH", "HOME", "LANG", "TMPDIR", "PWD", "GREETING"}, names
    assert "GREETING=hi" in result.stdout and "HOME=/workspace" in result.stdout


async def test_unprivileged_no_capabilities_own_session(ws: Workspace) -> None:
    result = await ws.run(
        "id -u; grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status; ps -o sid= -p $$; echo $$", limits=LIMITS
    )
    lines = result.stdout.split()
    assert int(lines[0]) == SANDBOX_UID
    assert lines[1:7] == [
        "CapPrm:",
        "0000000000000000",
        "CapEff:",
        "0000000000000000",
        "CapBnd:",
        "0000000000000000",
    ]


async def test_python3_runs_unittest_on_an_uploaded_project(ws: Workspace) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in {
            "proj/calc.py": "def add(a, b):\n    return a + b\n",
            "proj/test_calc.py": "import unittest\nfrom calc import add\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n    def test_fails(self):\n        self.assertEqual(add(2, 2), 5)\n",
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert ws.extract_upload(buf.getvalue()) == 2
    result = await ws.run("cd proj && python3 -m unittest -v", limits=LIMITS)
    assert result.exit_code == 1
    assert "test_add (test_calc.T.test_add) ... ok" in result.stderr
    assert "FAILED (failures=1)" in result.stderr
    version = await ws.run("command -v python3; python3 -c 'import sys; print(sys.prefix)'", limits=LIMITS)
    assert version.stdout.split() == ["/usr/bin/python3", "/usr"]


async def test_stdin_is_passed(ws: Workspace) -> None:
    result = await ws.run("tr a-z A-Z", limits=LIMITS, stdin="hello\n")
    assert result.stdout == "HELLO\n" and result.exit_code == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root server drops to another uid")
async def test_unsearchable_workspace_parent_is_explained(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    ws = Workspace(private / "ws")
    with pytest.raises(SandboxUnavailable, match="not searchable by the sandbox uid"):
        await ws.run("true", limits=LIMITS)
