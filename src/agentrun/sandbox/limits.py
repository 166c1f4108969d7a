"""Per-command limits, the result type, and how limits become rlimits inside the sandbox.

The rlimits are applied by `prlimit` (util-linux) *inside* the sandbox, after bubblewrap has
created the user namespace. That placement matters for RLIMIT_NPROC: the kernel counts
processes per (user namespace, uid), so a limit set inside a fresh namespace bounds that one
sandbox, even when every sandbox runs as the same uid. Set before bwrap instead, the limit would
also count every other process of that uid on the host (other sandboxes, or the server itself
when it is not root). See docs/decisions/0007-sandbox-bubblewrap.md.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class SandboxLimits:
    wall_s: float = 60.0  # wall clock per command; then the whole process tree is killed
    cpu_s: int = 60  # RLIMIT_CPU per process: SIGXCPU at cpu_s, SIGKILL one second later
    memory_mb: int = 512  # RLIMIT_AS per process: allocations beyond it fail (ENOMEM / MemoryError)
    max_processes: int = 64  # RLIMIT_NPROC inside the sandbox's user namespace (fork bombs)
    max_file_mb: int = 64  # RLIMIT_FSIZE: a write past it gets SIGXFSZ; also the /tmp tmpfs size
    max_output_bytes: int = 65536  # stdout+stderr kept; one byte more and the command is killed
    max_workspace_mb: int = 256  # workspace size checked after each command

    def __post_init__(self) -> None:
        for name in (
            "wall_s",
            "cpu_s",
            "memory_mb",
            "max_processes",
            "max_file_mb",
            "max_output_bytes",
            "max_workspace_mb",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"SandboxLimits.{name} must be positive")

    def prlimit_args(self) -> list[str]:
        """Arguments for `prlimit` (soft:hard) that wrap the command inside the sandbox."""
        return [
            f"--cpu={self.cpu_s}:{self.cpu_s + 1}",  # soft sends SIGXCPU, hard SIGKILLs a process ignoring it
            f"--as={self.memory_mb * MB}:{self.memory_mb * MB}",
            f"--nproc={self.max_processes}:{self.max_processes}",
            f"--fsize={self.max_file_mb * MB}:{self.max_file_mb * MB}",
            "--core=0:0",  # no core files in the workspace
            "--nofile=1024:1024",
        ]


@dataclass(frozen=True)
class CommandResult:
    exit_code: int | None  # None when we killed it (timeout, output, cancelled)
    stdout: str  # utf-8 with replacement, at most max_output_bytes together with stderr
    stderr: str
    truncated: bool  # output was cut at max_output_bytes
    # Why it was stopped. Killed by us: timeout | output | cancelled (exit_code None). Stopped by
    # a limit (exit_code kept): cpu (SIGXCPU) | file_size (SIGXFSZ) | memory | processes (the
    # last two from the program's own allocation / fork failure message; see limit_reason).
    killed: str | None
    duration_s: float


# Exit statuses of /bin/sh (and bwrap, which passes them on) when the command died by a signal.
_SIGNAL_EXIT = 128
_CPU_EXIT = _SIGNAL_EXIT + signal.SIGXCPU
_FSIZE_EXIT = _SIGNAL_EXIT + signal.SIGXFSZ
# RLIMIT_AS makes allocations fail instead of killing: the program reports it itself. These are
# the messages of the common runtimes (Python, glibc tools, C++), so the caller gets a reason.
_MEMORY_MARKERS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")
# RLIMIT_NPROC makes fork fail (EAGAIN): dash, bash and Python say so in these words.
_PROCESS_MARKERS = (
    "Cannot fork",
    "fork: retry",
    "fork: Resource temporarily unavailable",
    "BlockingIOError: [Errno 11]",
)


def limit_reason(exit_code: int, stderr_tail: str) -> str | None:
    """Name the limit that ended a command that exited on its own, or None."""
    if exit_code == _CPU_EXIT:
        return "cpu"
    if exit_code == _FSIZE_EXIT:
        return "file_size"
    if exit_code != 0 and any(marker in stderr_tail for marker in _MEMORY_MARKERS):
        return "memory"
    # Even with exit code 0: a fork bomb's first shell returns at once, and the sandbox's end
    # takes the rest of the bomb with it; the caller should still learn that the limit acted.
    if any(marker in stderr_tail for marker in _PROCESS_MARKERS):
        return "processes"
    return None
