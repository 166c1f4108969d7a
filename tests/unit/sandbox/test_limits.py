"""Each attack is stopped by its limit, in bounded time, and the host stays healthy."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import pytest

from agentrun.sandbox import SandboxLimitExceeded, SandboxLimits, Workspace

from .conftest import SANDBOX_UID, processes_with, wait_gone

pytestmark = pytest.mark.slow


async def _host_still_healthy(ws: Workspace) -> None:
    proc = await asyncio.create_subprocess_exec("true")
    assert await proc.wait() == 0
    result = await ws.run("echo alive", limits=SandboxLimits(wall_s=10))
    assert result.stdout == "alive\n" and result.exit_code == 0


def _processes_of_uid(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                count += 1
        except OSError:
            continue
    return count


@pytest.mark.parametrize(
    "bomb",
    # The trailing sleep keeps the sandbox alive: when its first shell exits, the PID
    # namespace ends and takes a still-growing bomb with it, which would prove nothing.
    ["bomb(){ bomb|bomb& }; bomb; sleep 3", "bash -c ':(){ :|:& };:; sleep 3'"],
    ids=["dash", "bash-classic"],
)
async def test_fork_bomb_is_contained(ws: Workspace, bomb: str) -> None:
    task = asyncio.create_task(ws.run(bomb, limits=SandboxLimits(wall_s=10, max_processes=32)))
    await asyncio.sleep(1.5)
    if SANDBOX_UID != os.getuid():  # root server: the sandbox uid is never the server's
        # Bounded, not thousands (an unbounded bomb has thousands within a second). Other test
        # processes may run sandboxes under the same uid meanwhile, so the bound leaves room
        # for them rather than assuming the bomb is alone.
        assert _processes_of_uid(SANDBOX_UID) <= 32 + 8 + 150
    await _host_still_healthy(ws)  # while the bomb rages: a process still starts, a sandbox still runs
    result = await task
    assert result.killed == "processes", result
    assert result.duration_s < 10
    await _host_still_healthy(ws)


async def test_process_limit_is_per_sandbox_not_per_uid(ws: Workspace) -> None:
    # Every sandbox runs as the same uid; RLIMIT_NPROC is set inside each user namespace, so
    # two sandboxes with 20 processes each fit under a limit of 30.
    limits = SandboxLimits(wall_s=20, max_processes=30)
    cmd = "for i in $(seq 20); do sleep 2 & done; wait; echo done"
    a, b = await asyncio.gather(ws.run(cmd, limits=limits), ws.run(cmd, limits=limits))
    assert a.stdout == b.stdout == "done\n", (a, b)
    over = await ws.run("for i in $(seq 40); do sleep 2 & done; wait", limits=limits)
    assert over.killed == "processes"


@pytest.mark.parametrize(
    "hog",
    ["python3 -c 'x = bytearray(4 << 30)'", "python3 -c 'l = []\nwhile True: l.append(bytearray(1 << 20))'"],
    ids=["one-allocation", "growing"],
)
async def test_memory_hog_is_stopped(ws: Workspace, hog: str) -> None:
    result = await ws.run(hog, limits=SandboxLimits(wall_s=20, memory_mb=256))
    assert result.killed == "memory" and result.exit_code == 1, result
    assert "MemoryError" in result.stderr
    assert result.duration_s < 10
    await _host_still_healthy(ws)


async def test_endless_loop_hits_the_wall_clock_and_the_tree_dies_within_a_second(ws: Workspace) -> None:
    marker = f"{uuid.uuid4().int % 10**6}.{uuid.uuid4().int % 10**6}"
    started = time.monotonic()
    result = await ws.run(
        f"sleep {marker} & sleep {marker} & while :; do :; done", limits=SandboxLimits(wall_s=1.0)
    )
    assert result.killed == "timeout" and result.exit_code is None
    gone = wait_gone(marker)
    assert gone - started < 1.0 + 1.0, gone - started  # wall limit, then under a second to kill all
    assert 1.0 <= result.duration_s < 2.0


async def test_cpu_burner_hits_the_cpu_limit(ws: Workspace) -> None:
    result = await ws.run("python3 -c 'while True: pass'", limits=SandboxLimits(wall_s=30, cpu_s=1))
    assert result.killed == "cpu", result
    assert result.exit_code == 128 + 24  # SIGXCPU
    assert result.duration_s < 5


@pytest.mark.parametrize("flood", ["yes | head -c 10000000000", "cat /dev/zero", "yes >&2"])
async def test_output_flood_is_killed_at_the_cap(ws: Workspace, flood: str) -> None:
    limits = SandboxLimits(wall_s=30, max_output_bytes=10_000)
    result = await ws.run(flood, limits=limits)
    assert result.killed == "output" and result.truncated and result.exit_code is None
    assert len(result.stdout.encode()) + len(result.stderr.encode()) <= 10_000
    assert result.duration_s < 3
    await _host_still_healthy(ws)


async def test_output_under_the_cap_is_whole(ws: Workspace) -> None:
    result = await ws.run(
        "head -c 5000 /dev/zero | tr '\\0' a; echo err >&2", limits=SandboxLimits(max_output_bytes=10_000)
    )
    assert result.stdout == "a" * 5000 and result.stderr == "err\n"
    assert not result.truncated and result.killed is None and result.exit_code == 0


async def test_huge_file_write_is_stopped_at_the_file_size_limit(ws: Workspace) -> None:
    result = await ws.run(
        "head -c 10000000000 /dev/zero > big", limits=SandboxLimits(wall_s=30, max_file_mb=8)
    )
    assert result.killed == "file_size" and result.exit_code == 128 + 25  # SIGXFSZ
    assert (ws.root / "big").stat().st_size == 8 * 1024 * 1024
    big_tmp = await ws.run(
        "head -c 100000000 /dev/zero > /tmp/big", limits=SandboxLimits(wall_s=30, max_file_mb=8)
    )
    assert big_tmp.killed == "file_size"


async def test_workspace_over_its_size_limit_raises_with_the_result(ws: Workspace) -> None:
    limits = SandboxLimits(wall_s=30, max_file_mb=4, max_workspace_mb=10)
    with pytest.raises(SandboxLimitExceeded, match="over the 10 MB limit") as info:
        await ws.run("for i in 1 2 3 4; do head -c 4000000 /dev/zero > f$i; done; echo wrote", limits=limits)
    assert info.value.result is not None and info.value.result.stdout == "wrote\n"
    assert ws.size_bytes() > 10 * 1024 * 1024


async def test_cancellation_kills_the_tree_within_a_second(ws: Workspace) -> None:
    marker = f"{uuid.uuid4().int % 10**6}.{uuid.uuid4().int % 10**6}"
    task = asyncio.create_task(
        ws.run(f"sleep {marker} & (sleep {marker} &) ; sleep {marker}", limits=SandboxLimits(wall_s=60))
    )
    deadline = time.monotonic() + 10
    while len(processes_with(marker)) < 3:
        assert time.monotonic() < deadline, "the sandbox did not start"
        await asyncio.sleep(0.01)
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - cancelled_at < 1.0
    gone = wait_gone(marker)
    assert gone - cancelled_at < 1.0, gone - cancelled_at
    await _host_still_healthy(ws)
