from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentrun.sandbox import Workspace

# What a sandbox command runs as: the server's uid, or 65534 when the server is root.
SANDBOX_UID = 65534 if os.geteuid() == 0 else os.getuid()


@pytest.fixture
def ws_base() -> Iterator[Path]:
    # pytest's tmp_path lives under a 0700 directory the sandbox uid cannot traverse; bwrap
    # needs the workspace's ancestors searchable (see Workspace), so use a 0711 one in /tmp.
    base = Path(tempfile.mkdtemp(prefix="agentrun-sandbox-test-"))
    base.chmod(0o711)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def ws(ws_base: Path) -> Workspace:
    return Workspace(ws_base / "ws")


def processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains marker (sandboxed processes are host processes too)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    pids.append(int(entry))
        except OSError:
            continue
    return pids


def wait_gone(marker: str, timeout: float = 5.0) -> float:
    """Poll until no process carries marker; returns the monotonic time it was first seen gone."""
    deadline = time.monotonic() + timeout
    while processes_with(marker):
        if time.monotonic() > deadline:
            raise AssertionError(f"processes with {marker!r} still alive: {processes_with(marker)}")
        time.sleep(0.01)
    return time.monotonic()
