"""Building bubblewrap's command line, probing that it works, and running one command in it.

Everything a sandbox may see is listed here; anything not bound is invisible. The process tree
is stopped by SIGKILL to bwrap's process group: bwrap's pid 1 in the sandbox's PID namespace
dies with it (--die-with-parent), and the kernel then kills every process in that namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agentrun.sandbox.identity import Identity
from agentrun.sandbox.limits import MB, CommandResult, SandboxLimits, limit_reason

DEFAULT_BWRAP = "/usr/bin/bwrap"
PRLIMIT = "/usr/bin/prlimit"  # util-linux, Essential on Debian; must exist inside (it is under /usr)
SETPRIV = "/usr/bin/setpriv"  # util-linux too: drops root to the sandbox uid before bwrap
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)"

# System directories bound read-only (when the host has them). /usr/local comes with /usr.
_RO_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# The minimal /etc: the dynamic linker, alternatives symlinks (awk, pager...), time zone, TLS
# roots, Debian python's config, name service config. Not passwd/shadow/group of the host.
_ETC_ENTRIES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "localtime",
    "ssl",
    "ca-certificates",
    "python3",
    "python3.11",
    "python3.12",
    "python3.13",
    "nsswitch.conf",
    "host.conf",
    "gai.conf",
    "protocols",
    "services",
    "mime.types",
)
_NET_ETC_ENTRIES = ("resolv.conf",)  # only with network: DNS

_PASSWD = "sandbox:x:{uid}:{gid}:sandbox:/workspace:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
_GROUP = "sandbox:x:{gid}:\nnogroup:x:65534:\n"
_HOSTS = "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n"

_KILL_WAIT_S = 5.0  # after SIGKILL, reaping bwrap takes milliseconds; this only bounds a stuck kernel


def _bind_host_path(args: list[str], path: str) -> None:
    """Bind one host path read-only, recreating a symlink as a symlink (merged-/usr systems)."""
    if os.path.islink(path):
        args += ["--symlink", os.readlink(path), path]
    elif os.path.exists(path):
        args += ["--ro-bind", path, path]


def _memfd(name: str, text: str) -> int:
    """A file descriptor holding text, for bwrap's --ro-bind-data (no file on disk)."""
    fd = os.memfd_create(name, 0)
    os.write(fd, text.encode())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def build_argv(
    bwrap: str,
    workspace: Path,
    *,
    identity: Identity,
    limits: SandboxLimits,
    network: bool,
    env: Mapping[str, str] | None,
    command: str,
    data_fds: Mapping[str, int],
    data_binds: Mapping[str, str] | None = None,
) -> list[str]:
    args = [bwrap, "--unshare-all"]  # user, ipc, pid, net, uts, cgroup
    if network:
        args.append("--share-net")  # the host's network stack; every other namespace stays private
    args += ["--die-with-parent", "--new-session", "--cap-drop", "ALL", "--hostname", "sandbox"]
    args += ["--uid", str(identity.uid), "--gid", str(identity.gid)]
    for path in _RO_DIRS:
        _bind_host_path(args, path)
    args += ["--dir", "/etc"]
    for entry in _ETC_ENTRIES + (_NET_ETC_ENTRIES if network else ()):
        _bind_host_path(args, f"/etc/{entry}")
    for dest, fd in data_fds.items():
        args += ["--perms", "0644", "--ro-bind-data", str(fd), dest]
    for dest, source in (data_binds or {}).items():  # the same files from disk, for a process we do not spawn
        args += ["--ro-bind", source, dest]
    args += ["--proc", "/proc", "--dev", "/dev"]
    # Private, size-capped tmpfs: without --size they could take half the host's RAM.
    tmp_bytes = str(limits.max_file_mb * MB)
    args += ["--size", tmp_bytes, "--tmpfs", "/tmp", "--size", tmp_bytes, "--tmpfs", "/dev/shm"]
    args += ["--remount-ro", "/dev"]  # /dev itself is an uncapped tmpfs; device nodes stay usable
    args += ["--bind", str(workspace), "/workspace", "--chdir", "/workspace"]
    args += ["--remount-ro", "/"]  # the sandbox's root (a tmpfs bwrap made) is not writable either
    args += ["--clearenv", "--setenv", "PATH", SANDBOX_PATH, "--setenv", "HOME", "/workspace"]
    args += ["--setenv", "LANG", "C.UTF-8", "--setenv", "TMPDIR", "/tmp"]
    for key, value in (env or {}).items():
        if not key or "=" in key or "\0" in key or "\0" in value:
            raise ValueError(f"invalid environment variable name or value: {key!r}")
        args += ["--setenv", key, value]
    args += ["--", PRLIMIT, *limits.prlimit_args(), "--", "/bin/sh", "-c", command]
    return args


def server_argv(
    bwrap: str,
    workspace: Path,
    argv: list[str],
    *,
    identity: Identity,
    limits: SandboxLimits,
    network: bool,
    env: Mapping[str, str] | None,
    data_dir: Path,
) -> list[str]:
    """The host command line that starts ``argv`` inside the sandbox, for a process someone
    else spawns and talks to over stdin/stdout (an MCP stdio server).

    Such a spawner passes no extra file descriptors, so the small /etc files are written under
    ``data_dir`` (readable by the sandbox uid) and bound from there. The wall-clock and output
    limits are the caller's business (the process lives as long as its session); the rlimits
    apply. bwrap dies with its parent, and its PID namespace with it.
    """
    data_dir.mkdir(mode=0o711, exist_ok=True)
    os.chmod(data_dir, 0o711)
    binds: dict[str, str] = {}
    for dest, text in _data_files(identity).items():
        source = data_dir / dest.rsplit("/", 1)[-1]
        source.write_text(text)
        os.chmod(source, 0o644)
        binds[dest] = str(source)
    command = "exec " + " ".join(shlex.quote(part) for part in argv)
    full = build_argv(
        bwrap,
        workspace,
        identity=identity,
        limits=limits,
        network=network,
        env=env,
        command=command,
        data_fds={},
        data_binds=binds,
    )
    return _as_identity(full, identity)


def via_args_fd(argv: list[str]) -> tuple[list[str], int]:
    """Move bwrap's options (not the command: bwrap wants it on argv) into a memfd read with --args.

    The sandbox's pid 1 is a fork of bwrap, so its /proc/1/cmdline would otherwise show the
    host paths of the binds to the sandboxed command.
    """
    split = argv.index("--")
    fd = os.memfd_create("bwrap-args", 0)
    os.write(fd, b"".join(arg.encode() + b"\0" for arg in argv[1:split]))
    os.lseek(fd, 0, os.SEEK_SET)
    return [argv[0], "--args", str(fd), *argv[split:]], fd


def _data_files(identity: Identity) -> dict[str, str]:
    return {
        "/etc/passwd": _PASSWD.format(uid=identity.uid, gid=identity.gid),
        "/etc/group": _GROUP.format(gid=identity.gid),
        "/etc/hosts": _HOSTS,
        "/etc/hostname": "sandbox\n",
    }


def _spawn_kwargs(identity: Identity, pass_fds: tuple[int, ...]) -> dict:
    return {"start_new_session": True, "pass_fds": pass_fds, "env": {"PATH": SANDBOX_PATH}, "cwd": "/"}


def _as_identity(argv: list[str], identity: Identity) -> list[str]:
    """Root drops to the sandbox uid through setpriv, not Popen's user=/group=: uvloop (which
    the server runs on) refuses those keywords in subprocess_exec."""
    if not identity.drop:
        return argv
    return [SETPRIV, f"--regid={identity.gid}", f"--reuid={identity.uid}", "--clear-groups", "--", *argv]


@functools.cache
def probe(bwrap: str, identity: Identity) -> str | None:
    """None when bwrap can start a sandbox here as this identity, else why not (cached)."""
    if not os.path.isfile(bwrap) or not os.access(bwrap, os.X_OK):
        return f"bubblewrap not found at {bwrap}: {INSTALL_HINT}"
    for tool in (PRLIMIT, SETPRIV) if identity.drop else (PRLIMIT,):
        if not os.access(tool, os.X_OK):
            return f"{tool} not found: install util-linux"
    import tempfile

    with tempfile.TemporaryDirectory(prefix="agentrun-sandbox-probe-") as tmp:
        os.chmod(tmp, 0o755)  # reachable by the sandbox uid
        fds = {dest: _memfd(dest, text) for dest, text in _data_files(identity).items()}
        try:
            argv = build_argv(
                bwrap,
                Path(tmp),
                identity=identity,
                limits=SandboxLimits(),
                network=False,
                env=None,
                command="echo ok",
                data_fds=fds,
            )
            short, fds["--args"] = via_args_fd(argv)
            proc = subprocess.run(
                _as_identity(short, identity),
                capture_output=True,
                timeout=30,
                **_spawn_kwargs(identity, tuple(fds.values())),
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return f"bubblewrap at {bwrap} could not be started: {exc}"
        finally:
            for fd in fds.values():
                os.close(fd)
    if proc.returncode != 0 or proc.stdout.strip() != b"ok":
        err = proc.stderr.decode(errors="replace").strip()
        hint = ""
        if "namespace" in err or "Operation not permitted" in err:
            hint = " (user namespaces may be disabled: sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces)"
        return f"bubblewrap at {bwrap} cannot create a sandbox: {err or f'exit code {proc.returncode}'}{hint}"
    return None


def _kill_tree(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # bwrap and its pid 1: the PID namespace goes with them


async def _reap(proc: asyncio.subprocess.Process) -> int | None:
    try:
        return await asyncio.wait_for(proc.wait(), _KILL_WAIT_S)
    except TimeoutError:
        return None


class _Output:
    """stdout + stderr under one byte budget; knows when it was exceeded."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.chunks: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
        self.over = asyncio.Event()

    async def pump(self, name: str, stream: asyncio.StreamReader) -> None:
        buf = self.chunks[name]
        while chunk := await stream.read(65536):
            room = self.budget - len(self.chunks["stdout"]) - len(self.chunks["stderr"])
            buf += chunk[: max(room, 0)]
            if len(chunk) > room:
                # Keep draining (and dropping) until EOF: a reader that stops pauses the pipe
                # transport, and asyncio then never sees the pipe close after the kill.
                self.over.set()

    def text(self, name: str) -> str:
        return self.chunks[name].decode("utf-8", errors="replace")


async def _feed(proc: asyncio.subprocess.Process, stdin: bytes | None) -> None:
    if proc.stdin is None:
        return
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        if stdin:
            proc.stdin.write(stdin)
            await proc.stdin.drain()
    proc.stdin.close()


async def run_command(
    bwrap: str,
    workspace: Path,
    command: str,
    *,
    identity: Identity,
    limits: SandboxLimits,
    network: bool,
    env: Mapping[str, str] | None,
    stdin: str | None,
) -> CommandResult:
    fds = {dest: _memfd(dest, text) for dest, text in _data_files(identity).items()}
    try:
        argv = build_argv(
            bwrap,
            workspace,
            identity=identity,
            limits=limits,
            network=network,
            env=env,
            command=command,
            data_fds=fds,
        )
        short, fds["--args"] = via_args_fd(argv)
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *_as_identity(short, identity),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **_spawn_kwargs(identity, tuple(fds.values())),
        )
    finally:
        for fd in fds.values():
            os.close(fd)
    return await _supervise(proc, limits, stdin, started)


async def _supervise(
    proc: asyncio.subprocess.Process, limits: SandboxLimits, stdin: str | None, started: float
) -> CommandResult:
    assert proc.stdout is not None and proc.stderr is not None
    out = _Output(limits.max_output_bytes)
    workers = [
        asyncio.ensure_future(out.pump("stdout", proc.stdout)),
        asyncio.ensure_future(out.pump("stderr", proc.stderr)),
        asyncio.ensure_future(_feed(proc, stdin.encode() if stdin is not None else None)),
    ]
    over = asyncio.ensure_future(out.over.wait())
    done_all = asyncio.ensure_future(_finish(proc, workers))
    killed: str | None = None
    try:
        await asyncio.wait({done_all, over}, timeout=limits.wall_s, return_when=asyncio.FIRST_COMPLETED)
        if not done_all.done():
            killed = "output" if over.done() else "timeout"
            _kill_tree(proc)
    except asyncio.CancelledError:
        _kill_tree(proc)
        await _reap(proc)
        for task in (*workers, over, done_all):
            task.cancel()
        raise
    rc = await _reap(proc)
    for task in (*workers, over, done_all):
        task.cancel()
    stderr = out.text("stderr")
    if killed is None and rc is not None:
        killed = limit_reason(rc, stderr[-4096:])
    return CommandResult(
        exit_code=None if killed in ("timeout", "output") else rc,
        stdout=out.text("stdout"),
        stderr=stderr,
        truncated=out.over.is_set(),
        killed=killed,
        duration_s=time.monotonic() - started,
    )


async def _finish(proc: asyncio.subprocess.Process, workers: Sequence[asyncio.Future[Any]]) -> None:
    await asyncio.gather(*workers)
    await proc.wait()
