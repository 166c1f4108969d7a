#!/usr/bin/env python
"""The design agentrun did not choose for waiting runs: a DBOS workflow parked in ``recv``.

    python bench/hitl_recv_probe.py [--n 1000] [--idle-s 10]

Starts ``n`` DBOS workflows (SQLite system database, the polling interval agentrun configures)
that each wait in ``DBOS.recv_async``, then reports what holding them costs: RSS growth, asyncio
tasks and threads, and the process's CPU while all of them sit idle; then sends each its message
and reports how long it takes until all are answered. Compare with ``bench/hitl.py``, where a
waiting run is a row (docs/decisions/0010-human-in-the-loop.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import tempfile
import threading
import time


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def main(n: int, idle_s: float) -> dict[str, float]:
    from dbos import DBOS, SetWorkflowID

    tmp = tempfile.mkdtemp(prefix="hitl-recv-")
    DBOS(
        config={
            "name": "hitl-recv-probe",
            "system_database_url": f"sqlite:///{tmp}/dbos.sqlite",
            "executor_id": "probe",
            "application_version": "probe",
            "log_level": "ERROR",
            "notification_listener_polling_interval_sec": 0.05,
        }
    )
    answered: list[float] = []

    @DBOS.workflow(name="wait_for_person")
    async def wait_for_person(i: int) -> None:
        await DBOS.recv_async("answer", timeout_seconds=3600)
        answered.append(time.monotonic())

    DBOS.launch()
    await asyncio.sleep(1)
    base_rss, base_tasks, base_threads = rss_mb(), len(asyncio.all_tasks()), threading.active_count()
    handles = []
    for i in range(n):
        with SetWorkflowID(f"wf-{i}"):
            handles.append(await DBOS.start_workflow_async(wait_for_person, i))
    await asyncio.sleep(3)  # all parked in recv
    cpu0 = cpu_s()
    await asyncio.sleep(idle_s)
    idle_cpu = cpu_s() - cpu0
    held = {
        "n": n,
        "rss_growth_mb": round(rss_mb() - base_rss, 1),
        "tasks_held": len(asyncio.all_tasks()) - base_tasks,
        "threads_held": threading.active_count() - base_threads,
        "idle_cpu_s_per_s": round(idle_cpu / idle_s, 3),
    }
    sent = time.monotonic()
    for i in range(n):
        await DBOS.send_async(f"wf-{i}", "yes", "answer")
    for handle in handles:
        await handle.get_result()
    held["send_all_then_all_resumed_s"] = round(max(answered) - sent, 2)
    DBOS.destroy()
    return held


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--idle-s", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.n, args.idle_s)), indent=2))
    os._exit(0)
