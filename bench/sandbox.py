"""Sandbox costs: start + one `echo` under bubblewrap vs a plain subprocess; snapshot/restore by size.

    .venv/bin/python bench/sandbox.py [--n 50]

Not a test: prints a table. Both echo variants are measured in the same run, interleaved, so
machine noise hits them alike.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from agentrun.sandbox import SandboxLimits, Workspace, sandbox_available


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def plain_echo() -> float:
    t = time.perf_counter()
    proc = await asyncio.create_subprocess_exec("echo", "hi", stdout=asyncio.subprocess.PIPE)
    await proc.communicate()
    return time.perf_counter() - t


async def sandbox_echo(ws: Workspace) -> float:
    t = time.perf_counter()
    result = await ws.run("echo hi", limits=SandboxLimits())
    assert result.stdout == "hi\n", result
    return time.perf_counter() - t


def fill(ws: Workspace, total: int) -> int:
    """Mixed files: a third small text files (~2 KB), a third mid (~64 KB), a third random 1 MB."""
    written = i = 0
    rnd = os.urandom(1 << 20)
    text = b"def f(x):\n    return x * 2  # some source code\n" * 1000
    while written < total:
        kind = i % 3
        data = (
            text[:2048] if kind == 0 else (text[: 64 << 10] if kind == 1 else rnd[i % 997 :] + rnd[: i % 997])
        )
        data = data[: total - written]
        ws.write_file(f"d{i % 20}/f{i}.{'py' if kind < 2 else 'bin'}", data, len(data))
        written += len(data)
        i += 1
    return i


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    reason = sandbox_available()
    if reason:
        raise SystemExit(reason)
    base = Path(tempfile.mkdtemp(prefix="agentrun-bench-sandbox-"))
    base.chmod(0o711)
    try:
        ws = Workspace(base / "echo")
        await sandbox_echo(ws)  # warm the probe and the page cache
        plain: list[float] = []
        boxed: list[float] = []
        for _ in range(args.n):
            plain.append(await plain_echo())
            boxed.append(await sandbox_echo(ws))
        print(
            f"machine: {platform.node()} {os.cpu_count()} cpus, {platform.python_version()}, uid {os.geteuid()}"
        )
        print(f"\nstart + echo, N={args.n}        p50 ms   p99 ms   mean ms")
        for name, vals in (("plain subprocess echo", plain), ("sandbox (bwrap) echo", boxed)):
            print(
                f"  {name:24s} {pct(vals, 0.5) * 1e3:8.2f} {pct(vals, 0.99) * 1e3:8.2f} {statistics.mean(vals) * 1e3:8.2f}"
            )

        print("\nworkspace   files  archive KB  snapshot ms  restore ms")
        for mb in (1, 10, 50):
            src = Workspace(base / f"snap{mb}")
            files = fill(src, mb << 20)
            snaps, restores = [], []
            for _ in range(3):
                t = time.perf_counter()
                archive = src.snapshot(1 << 30)
                snaps.append(time.perf_counter() - t)
                dst = Workspace(base / f"restore{mb}")
                t = time.perf_counter()
                dst.restore(archive)
                restores.append(time.perf_counter() - t)
            print(
                f"  {mb:4d} MB  {files:6d}  {len(archive) / 1024:10.0f}  {statistics.median(snaps) * 1e3:11.1f}"
                f"  {statistics.median(restores) * 1e3:10.1f}"
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
