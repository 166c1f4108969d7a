#!/usr/bin/env python
"""Human in the loop under load: many runs waiting for a person at once, then answered.

    python bench/hitl.py [--waiting 1000] [--unrelated 200] [--durability steps]

One agentrun server (a subprocess on SQLite, a fresh data dir) and a scripted OpenAI-compatible
model in this process (tests/support/fake_openai.py: the first turn calls ``calculator``, which
the agent's definition makes wait for approval; the second answers). Measures:

1. unrelated load alone: ``--unrelated`` async runs of the offline model, created at once, until
   all completed: runs/s;
2. ``--waiting`` runs started and left in ``requires_action``; the server's RSS (its process
   tree) before and while they wait;
3. the same unrelated load again while they wait: runs/s;
4. ``--sample`` waiting runs approved one at a time (the next only once the previous one's
   model request arrived): time from sending the answer to the run's next model request
   reaching the model server, p50/p99 (what one person answering sees);
5. the rest approved in one burst (16 answers in flight): the same latency, which now includes
   queueing behind the other resumed runs, and the time until all completed.

While the runs wait, the worker's ``active_runs`` (its heartbeat row) shows whether a waiting
run holds a slot.

Prints JSON. Every loop is bounded in time; all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.support.fake_openai import FakeOpenAI, ToolCall, Turn  # noqa: E402
from tests.support.live import LiveServer  # noqa: E402

CAREFUL = {
    "slug": "careful",
    "model": "openai:gpt-4o-mini",
    "tools": [{"kind": "builtin", "name": "calculator", "requires_approval": True}],
    "publish": True,
}
PLAIN = {"slug": "plain", "model": "test", "publish": True}


def tree_rss_mb(pid: int) -> float:
    """RSS of ``pid`` and its children (from /proc), in MB."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, StopIteration):
            continue
        pids.extend(int(c) for c in children)
    return total / 1024


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _gather_bounded(calls: list[Any], limit: int = 16) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Any) -> Any:
        async with gate:
            return await call()

    return await asyncio.gather(*(one(c) for c in calls))


async def unrelated_load(client: httpx.AsyncClient, n: int, tag: str) -> float:
    """``n`` offline-model runs created at once; runs/s from the first create to the last completion."""
    started = time.monotonic()

    async def create(i: int) -> str:
        body = {"agent": "plain", "prompt": f"{tag} {i}", "mode": "async"}
        return (await client.post("/v1/runs", json=body)).json()["id"]

    ids = await _gather_bounded([lambda i=i: create(i) for i in range(n)])
    pending = set(ids)
    deadline = time.monotonic() + 300
    while pending and time.monotonic() < deadline:
        for run_id in list(pending):
            run = (await client.get(f"/v1/runs/{run_id}", params={"wait_s": 5})).json()
            if run["status"] == "completed":
                pending.discard(run_id)
    assert not pending, f"{len(pending)} unrelated runs never completed"
    return round(n / (time.monotonic() - started), 1)


async def count_status(client: httpx.AsyncClient, agent: str, status: str) -> int:
    count, cursor = 0, None
    while True:
        params: dict[str, Any] = {"agent": agent, "status": status, "limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/runs", params=params)).json()
        count += len(page["data"])
        cursor = page.get("next_cursor")
        if not cursor:
            return count


def active_runs(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "agentrun.sqlite") as db:
        return int(db.execute("SELECT COALESCE(SUM(active_runs), 0) FROM workers").fetchone()[0])


async def bench(waiting: int, unrelated: int, durability: str, sample: int) -> dict[str, Any]:
    script = [Turn(tool_calls=[ToolCall("calculator", {"expression": "1+1"})]), Turn(text="two")]
    with FakeOpenAI(script) as fake, tempfile.TemporaryDirectory(prefix="hitl-bench-") as tmp:
        server = LiveServer(
            Path(tmp) / "data",
            extra_env={
                "AGENTRUN_PROVIDERS__OPENAI_API_KEY": "sk-bench",
                "AGENTRUN_PROVIDERS__OPENAI_BASE_URL": fake.url,
                "AGENTRUN_LIMITS__RATE_LIMIT_PER_MINUTE": "0",
            },
        ).start()
        try:
            assert server.proc is not None
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
                for agent in (CAREFUL, PLAIN):
                    (await client.put(f"/v1/agents/{agent['slug']}", json=agent)).raise_for_status()
                await unrelated_load(client, 20, "warmup")
                alone = await unrelated_load(client, unrelated, "alone")
                rss_before = tree_rss_mb(server.proc.pid)

                async def start(i: int) -> str:
                    body = {
                        "agent": "careful",
                        "prompt": f"waiter {i}",
                        "mode": "async",
                        "durability": durability,
                    }
                    return (await client.post("/v1/runs", json=body)).json()["id"]

                created = time.monotonic()
                ids = await _gather_bounded([lambda i=i: start(i) for i in range(waiting)])
                deadline = time.monotonic() + 600
                while await count_status(client, "careful", "requires_action") < waiting:
                    assert time.monotonic() < deadline, "the runs never all reached requires_action"
                    await asyncio.sleep(1)
                all_waiting_s = time.monotonic() - created
                await asyncio.sleep(6)  # a heartbeat or more
                rss_waiting = tree_rss_mb(server.proc.pid)
                slots_held = active_runs(Path(tmp) / "data")
                meanwhile = await unrelated_load(client, unrelated, "meanwhile")

                sent_at: dict[str, float] = {}
                prompts = {run_id: f"waiter {i}" for i, run_id in enumerate(ids)}

                async def approve(run_id: str) -> None:
                    run = (await client.get(f"/v1/runs/{run_id}")).json()
                    call = run["pending_actions"][0]["id"]
                    sent_at[prompts[run_id]] = time.time()
                    body = {"actions": [{"call_id": call, "decision": "approve"}]}
                    (await client.post(f"/v1/runs/{run_id}/actions", json=body)).raise_for_status()

                def resumed_request_arrived(prompt: str) -> bool:
                    return any(
                        any(m["role"] == "tool" for m in body["messages"])
                        and next(m["content"] for m in body["messages"] if m["role"] == "user") == prompt
                        for body in fake.requests[-50:]
                    )

                for run_id in ids[:sample]:
                    await approve(run_id)
                    deadline = time.monotonic() + 60
                    while not resumed_request_arrived(prompts[run_id]):
                        assert time.monotonic() < deadline, "an answered run never asked the model again"
                        await asyncio.sleep(0.005)
                answered = time.monotonic()
                await _gather_bounded([lambda r=r: approve(r) for r in ids[sample:]])
                deadline = time.monotonic() + 600
                while await count_status(client, "careful", "completed") < waiting:
                    assert time.monotonic() < deadline, "the answered runs never all completed"
                    await asyncio.sleep(1)
                all_done_s = time.monotonic() - answered
        finally:
            server.stop()
        # The model server saw each waiter twice: the turn that asked, then the one after the answer.
        one: list[float] = []
        burst: list[float] = []
        sampled = {prompts[r] for r in ids[:sample]}
        for body, arrived in zip(fake.requests, fake.arrivals, strict=True):
            user = next(m["content"] for m in body["messages"] if m["role"] == "user")
            if user in sent_at and any(m["role"] == "tool" for m in body["messages"]):
                (one if user in sampled else burst).append(arrived - sent_at[user])
        repeated = fake.request_count - 2 * waiting
    return {
        "waiting_runs": waiting,
        "durability": durability,
        "all_in_requires_action_s": round(all_waiting_s, 1),
        "server_rss_mb_before": round(rss_before, 1),
        "server_rss_mb_while_waiting": round(rss_waiting, 1),
        "worker_slots_held_while_waiting": slots_held,
        "unrelated_runs_per_s_alone": alone,
        "unrelated_runs_per_s_while_waiting": meanwhile,
        "one_answer_to_next_model_request_ms_p50": round(statistics.median(one) * 1000, 1),
        "one_answer_to_next_model_request_ms_p99": round(pct(one, 0.99) * 1000, 1),
        "one_answer_measured": len(one),
        "burst_answer_to_next_model_request_ms_p50": round(statistics.median(burst) * 1000, 1),
        "burst_answer_to_next_model_request_ms_p99": round(pct(burst, 0.99) * 1000, 1),
        "burst_answers": len(burst),
        "burst_until_all_completed_s": round(all_done_s, 1),
        "model_requests_beyond_two_per_run": repeated,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--unrelated", type=int, default=200)
    parser.add_argument("--durability", choices=["steps", "exit"], default="steps")
    parser.add_argument("--sample", type=int, default=50, help="answers sent one at a time first")
    args = parser.parse_args()
    result = asyncio.run(bench(args.waiting, args.unrelated, args.durability, args.sample))
    print(json.dumps(result, indent=2))
