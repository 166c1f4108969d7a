#!/usr/bin/env python
"""agentrun on PostgreSQL with separate API nodes and workers (issue 3): three measurements.

    .venv/bin/python bench/distributed.py [--runs 500] [--workers 1,2,4] [--kills 10] [--sections 123]

1. Throughput: N async runs of the instant ``test`` model created (64 at a time), then all
   awaited (``GET /v1/runs/{id}?wait_s=30``), i.e. scenario B of ``bench/run.py``, for
   durability ``exit`` and ``steps``; on SQLite (embedded, one process) and on PostgreSQL with
   1 API node (``--no-worker``) + 1, 2, 4 worker processes. Figures: runs/s and CPU ms per run
   of the agentrun processes (API + workers, /proc, children included) and of PostgreSQL.
2. Recovery after SIGKILL: 1 API node + 2 workers, heartbeat 1 s / dead after 5 s; a run of
   ``test:sleep-3000`` (durability steps) is SIGKILLed with its worker; time until the takeover
   ``log`` event and until the run completes. A fresh worker (new executor id) is started after
   each trial, so two stay alive.
3. Cross-node event latency: runs created through API node 1, their events streamed (SSE) from
   API node 2; latency = client receive time - event ``created_at`` (one machine, one clock).

Reuses ``bench/run.py`` (server process handling, /proc CPU helpers, scenario B, warm-up) and
``bench/loadclient.py``. Every process this script starts is in its own process group and is
stopped by it (never by name). PostgreSQL databases are created fresh and dropped after. All load
goes to 127.0.0.1; every loop is bounded in count and time. Results: stdout and
``bench/results/distributed-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httptools

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as rb  # noqa: E402  (bench/run.py: the existing benchmark)
from loadclient import LoadClient  # noqa: E402

REPO = rb.REPO
HOST = rb.HOST
PY = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv").exists() else sys.executable
PG_ADMIN_URL = os.environ.get("AGENTRUN_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
STARTED: list[rb.Server] = []  # every process we spawned, so we stop exactly those


def log(msg: str) -> None:
    print(msg, flush=True)


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


# --------------------------------------------------------------------------------------------
# PostgreSQL: a fresh database, and the CPU of its processes


@contextlib.contextmanager
def fresh_database():  # type: ignore[no-untyped-def]
    import psycopg

    name = f"agentrun_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield name, f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _comm(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def pg_all_ticks() -> int:
    """CPU ticks of every ``postgres`` process (postmaster's cutime holds backends that exited)."""
    total = 0
    for name in os.listdir("/proc"):
        if name.isdigit() and _comm(name) == "postgres":
            st = rb._read_stat(int(name))
            if st is not None:
                total += st[1]
    return total


def pg_our_backends(dbname: str | None) -> dict[int, int]:
    """pid -> CPU ticks of the backends connected to our database (the query's own excluded)."""
    if dbname is None:
        return {}
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        pids = [
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,)
            )
        ]
    out = {}
    for pid in pids:
        st = rb._read_stat(pid)
        if st is not None:
            out[pid] = st[1]
    return out


class ConnSampler:
    """Peak number of PostgreSQL connections to our database, sampled every 0.5 s in a thread."""

    def __init__(self, dbname: str | None) -> None:
        self.dbname, self.peak, self._stop = dbname, 0, False

    def _loop(self) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            for _ in range(2000):  # bounded: 1000 s
                if self._stop:
                    return
                n = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (self.dbname,)
                ).fetchone()[0]
                self.peak = max(self.peak, n)
                time.sleep(0.5)

    def __enter__(self) -> ConnSampler:
        import threading

        if self.dbname:
            self._t = threading.Thread(target=self._loop, daemon=True)
            self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        if self.dbname:
            self._t.join(5)


class Cpu:
    """CPU of our processes (agentrun trees, PostgreSQL) around one measurement."""

    def __init__(self, pids: list[int], dbname: str | None) -> None:
        self.pids, self.dbname = pids, dbname

    def _snap(self) -> dict[str, Any]:
        return {
            "agentrun": sum(rb.tree_cpu_s(p) for p in self.pids),
            "per_process": [rb.tree_cpu_s(p) for p in self.pids],
            "pg_all": pg_all_ticks() / rb.CLK_TCK,
            "pg_ours": pg_our_backends(self.dbname),
            "busy": rb.machine_busy_s(),
            "client": time.process_time(),
            "t": time.perf_counter(),
        }

    def __enter__(self) -> Cpu:
        self.a = self._snap()
        return self

    def __exit__(self, *exc: object) -> None:
        b = self._snap()
        a = self.a
        self.wall = b["t"] - a["t"]
        self.agentrun = b["agentrun"] - a["agentrun"]
        self.per_process = [y - x for x, y in zip(a["per_process"], b["per_process"], strict=True)]
        self.pg_all = b["pg_all"] - a["pg_all"] if self.dbname else 0.0
        # A backend seen only at the end was born during the measurement: all its CPU counts.
        # One seen only at the start and gone at the end is lost (pools keep theirs open).
        self.pg_ours = sum(t - a["pg_ours"].get(pid, 0) for pid, t in b["pg_ours"].items()) / rb.CLK_TCK
        self.pg_backends = (len(a["pg_ours"]), len(b["pg_ours"]))
        self.client = b["client"] - a["client"]
        self.others = max(0.0, b["busy"] - a["busy"] - self.agentrun - self.pg_all - self.client)


# --------------------------------------------------------------------------------------------
# processes


def _env(data_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    return {
        "AGENTRUN_DATA_DIR": str(data_dir),
        "AGENTRUN_HOST": HOST,
        "AGENTRUN_LOG_LEVEL": "warning",
        "PYTHONPATH": str(REPO / "src"),
        **extra,
    }


def api_node(name: str, root: Path, extra: dict[str, str]) -> rb.Server:
    port = rb.free_port()
    d = root / name
    cmd = [PY, "-m", "agentrun.cli.main", "serve", "--no-worker", "--port", str(port), "--data-dir", str(d)]
    env = _env(d, {"AGENTRUN_PORT": str(port), "AGENTRUN_RUN_WORKER": "false", **extra})
    return rb.Server(f"dist-{name}-{port}", cmd, env=env, cwd=REPO, port=port)


def worker(executor_id: str, root: Path, extra: dict[str, str]) -> rb.Server:
    d = root / executor_id
    cmd = [PY, "-m", "agentrun.cli.main", "worker", "--data-dir", str(d)]
    env = _env(d, {"AGENTRUN_EXECUTOR_ID": executor_id, **extra})
    srv = rb.Server(f"dist-{executor_id}-{uuid.uuid4().hex[:6]}", cmd, env=env, cwd=REPO, port=0)
    srv.executor_id = executor_id  # type: ignore[attr-defined]
    return srv


def spawn(srv: rb.Server) -> rb.Server:
    STARTED.append(srv)
    srv.start()
    return srv


async def worker_ready(srv: rb.Server, timeout_s: float = 90) -> None:
    line = f"agentrun worker {srv.executor_id} running"  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if srv.proc is not None and srv.proc.poll() is not None:
            raise RuntimeError(f"{srv.name} exited before it was ready\n{srv.log_tail()}")
        with contextlib.suppress(OSError):
            if line in srv.log_path.read_text(errors="replace"):
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{srv.name} not ready after {timeout_s:.0f} s\n{srv.log_tail()}")


def stop(servers: list[rb.Server]) -> None:
    for s in servers:  # SIGINT all first, so they shut down in parallel
        if s.proc is not None and s.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(s.proc.pid, signal.SIGINT)
    for s in servers:
        s.stop()
        if s in STARTED:
            STARTED.remove(s)


async def start_cluster(root: Path, url: str, apis: int, workers: int, extra: dict[str, str]) -> tuple:
    shared = {"AGENTRUN_DATABASE_URL": url, **extra}
    nodes = [api_node(f"api{i}", root, shared) for i in range(apis)]
    spawn(nodes[0])
    await nodes[0].wait_ready("/readyz", 120)  # the first process migrates alone
    for n in nodes[1:]:
        spawn(n)
    ws = [spawn(worker(f"w{i}-{uuid.uuid4().hex[:4]}", root, shared)) for i in range(workers)]
    for n in nodes[1:]:
        await n.wait_ready("/readyz", 120)
    for w in ws:
        await worker_ready(w)
    return nodes, ws


# --------------------------------------------------------------------------------------------
# 1. throughput and CPU per run


async def measure_b(
    label: str,
    t: rb.Agentrun,
    c: LoadClient,
    api_pid: int,
    pids: list[int],
    dbname: str | None,
    args: argparse.Namespace,
) -> dict[str, Any]:
    z = rb.Sizes(
        a_runs=0,
        a_concurrency=1,
        b_runs=args.runs,
        b_concurrency=args.concurrency,
        c_runs=0,
        d_runs=0,
        warmup=args.warmup,
        scenario_budget_s=args.budget_s,
    )
    await rb.warmup(t, c, args.warmup)
    load = loadavg()
    with ConnSampler(dbname) as conns, Cpu(pids, dbname) as cpu:
        b = await rb.scenario_b(t, c, api_pid, z)
    ok = b["ok"] or 1
    row = {
        "config": label,
        "durability": t.durability,
        "loadavg_before": load,
        "runs": args.runs,
        "ok": b["ok"],
        "errors": b["errors"],
        "error_samples": b["error_samples"],
        "wall_s": cpu.wall,
        "runs_per_s": b["runs_per_s"],
        "creates_per_s": b["creates_per_s"],
        "agentrun_ms_per_run": 1000 * cpu.agentrun / ok,
        "per_process_ms_per_run": [round(1000 * x / ok, 2) for x in cpu.per_process],
        "per_process_cores": [round(x / cpu.wall, 2) for x in cpu.per_process],
        "pg_ours_ms_per_run": 1000 * cpu.pg_ours / ok,
        "pg_all_ms_per_run": 1000 * cpu.pg_all / ok,
        "pg_backends_before_after": cpu.pg_backends,
        "pg_connections_peak": conns.peak,
        "total_ms_per_run": 1000 * (cpu.agentrun + cpu.pg_all) / ok,
        "agentrun_cores": cpu.agentrun / cpu.wall,
        "pg_cores": cpu.pg_all / cpu.wall,
        "client_cores": cpu.client / cpu.wall,
        "others_cores": cpu.others / cpu.wall,
    }
    log(
        f"   {label:10s} {t.durability:5s}: {row['runs_per_s']:6.1f} runs/s  ok {b['ok']}/{args.runs}  "
        f"agentrun {row['agentrun_ms_per_run']:.1f} ms/run {row['per_process_cores']} cores  "
        f"pg {row['pg_all_ms_per_run']:.1f} (ours {row['pg_ours_ms_per_run']:.1f}) ms/run  "
        f"conns {conns.peak} client {row['client_cores']:.2f} others {row['others_cores']:.2f} cores  load {load}"
    )
    if b["errors"]:
        log(f"      errors: {b['errors']} e.g. {b['error_samples'][:2]}")
    return row


async def profile_pass(
    t: rb.Agentrun, c: LoadClient, nodes: dict[str, int], runs: int, out_dir: Path
) -> dict[str, Any]:
    """py-spy (GIL samples) on each process during a smaller create+await pass: where the CPU goes."""
    z = rb.Sizes(0, 1, runs, 64, 0, 0, 0, 90.0)
    profs = {name: rb.Profiler(pid, out_dir / f"{name}.txt") for name, pid in nodes.items()}
    await asyncio.sleep(1.0)
    try:
        await rb.scenario_b(t, c, next(iter(nodes.values())), z)
    finally:
        res = {}
        for name, p in profs.items():
            top = p.stop(top=12)
            res[name] = {"project_frames": top, "self_by_package": self_by_package(p.out)}
    return res


def self_by_package(path: Path, top: int = 8) -> list[str]:
    """Leaf (self) samples grouped by top-level package: what the process spends its time in."""
    counts: dict[str, int] = {}
    total = 0
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            leaf = stack.split(";")[-1]
            f = leaf[leaf.find("(") + 1 : leaf.rfind(":")] if "(" in leaf else leaf
            if "site-packages/" in f:
                pkg = f.split("site-packages/", 1)[1].split("/", 1)[0]
            elif "agentrun/" in f:
                pkg = "agentrun"
            elif "/lib/python3" in f:
                pkg = "stdlib:" + f.rsplit("/", 1)[-1]
            else:
                pkg = f or "?"
            counts[pkg] = counts.get(pkg, 0) + int(n)
            total += int(n)
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
    return [f"{100 * n / total:.0f}% {k}" for k, n in ranked] if total else []


async def section_throughput(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    log(f"\n== 1. throughput: {args.runs} runs, {args.concurrency} at a time; load {loadavg()}")
    rows: list[dict] = []
    profile: dict[str, Any] = {}
    durs = [d for d in args.durability.split(",") if d]
    # SQLite, embedded: one process per durability, as bench/run.py starts it.
    for d in durs:
        t = rb.Agentrun(d)
        srv = spawn(t.server())
        c = LoadClient(HOST, srv.port)
        try:
            await srv.wait_ready("/readyz", 120)
            await t.setup(c)
            rows.append(await measure_b("sqlite", t, c, srv.pid, [srv.pid], None, args))
        finally:
            await c.aclose()
            stop([srv])
            t.cleanup()
    for n in [int(x) for x in args.workers.split(",") if x]:
        with fresh_database() as (dbname, url):
            wc = (
                {"AGENTRUN_WORKER_CONCURRENCY": str(args.worker_concurrency)}
                if args.worker_concurrency
                else {}
            )
            nodes, ws = await start_cluster(root / f"tp{n}", url, 1, n, wc)
            api = nodes[0]
            c = LoadClient(HOST, api.port)
            try:
                for d in durs:
                    t = rb.Agentrun(d)
                    t.cleanup()  # its temp data dir is for the embedded server only
                    await t.setup(c)
                    rows.append(
                        await measure_b(
                            f"pg {n}w", t, c, api.pid, [api.pid] + [w.pid for w in ws], dbname, args
                        )
                    )
                if args.profile and n == 1:
                    t = rb.Agentrun("steps")
                    t.cleanup()
                    log("   profiling pg 1w steps with py-spy (figures of this pass are not in the table)")
                    profile = await profile_pass(
                        t,
                        c,
                        {"api": api.pid, "worker": ws[0].pid},
                        args.profile_runs,
                        rb.RESULTS / "profiles" / f"distributed-{int(time.time())}",
                    )
                    for name, p in profile.items():
                        log(f"   {name}: self by package: {p['self_by_package']}")
                        for f in p["project_frames"][:8]:
                            log(f"      {f}")
            finally:
                await c.aclose()
                stop([*nodes, *ws])
    return {"rows": rows, "profile": profile}


# --------------------------------------------------------------------------------------------
# SSE with a receive time per event


async def sse_events(
    port: int, path: str, deadline_s: float, until: set[str], on_connect: list[float] | None = None
) -> list[dict[str, Any]]:
    """Follow an SSE stream; each event's JSON plus ``_recv`` (time.time() when its bytes arrived).
    Ends when an event of a type in ``until`` arrives, the server closes, or after deadline_s."""
    events: list[dict[str, Any]] = []
    buf = bytearray()
    done = False

    class P:
        def on_headers_complete(self) -> None:
            if on_connect is not None:
                on_connect.append(time.time())

        def on_body(self, body: bytes) -> None:
            nonlocal done
            now = time.time()
            buf.extend(body)
            while b"\n\n" in buf:
                i = buf.index(b"\n\n")
                block, rest = bytes(buf[:i]), bytes(buf[i + 2 :])
                buf[:] = rest
                data = [ln[5:].strip() for ln in block.split(b"\n") if ln.startswith(b"data:")]
                kind = [ln[6:].strip() for ln in block.split(b"\n") if ln.startswith(b"event:")]
                if data and kind and kind[0] != b"run":
                    ev = json.loads(b"".join(data))
                    ev["_recv"] = now
                    events.append(ev)
                    if ev.get("type") in until:
                        done = True

        def on_message_complete(self) -> None:
            nonlocal done
            done = True

    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        parser = httptools.HttpResponseParser(P())
        async with asyncio.timeout(deadline_s):
            while not done:
                data = await reader.read(65536)
                if not data:
                    break
                parser.feed_data(data)
    except TimeoutError:
        pass
    finally:
        writer.close()
    return events


def ts(s: str) -> float:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


# --------------------------------------------------------------------------------------------
# 2. recovery after SIGKILL


async def section_recovery(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    liveness = {
        "AGENTRUN_HEARTBEAT_S": f"{args.heartbeat_s:g}",
        "AGENTRUN_DEAD_AFTER_S": f"{args.dead_after_s:g}",
    }
    log(f"\n== 2. recovery after SIGKILL: {args.kills} kills, {liveness}; load {loadavg()}")
    trials: list[dict[str, Any]] = []
    with fresh_database() as (_, url):
        nodes, ws = await start_cluster(root / "rec", url, 1, 2, liveness)
        api = nodes[0]
        alive = {w.executor_id: w for w in ws}  # type: ignore[attr-defined]
        dead: list[rb.Server] = []
        c = LoadClient(HOST, api.port)
        try:
            r = await c.put(
                "/v1/agents/bench-sleep3",
                {"slug": "bench-sleep3", "model": "test:sleep-3000", "instructions": "", "publish": True},
            )
            assert r.status_code in (200, 201), r.text
            await asyncio.sleep(2 * args.heartbeat_s)  # both workers have heartbeaten
            for k in range(args.kills):
                load = loadavg()
                r = await c.post(
                    "/v1/runs",
                    {"agent": "bench-sleep3", "prompt": f"k{k}", "mode": "async", "durability": "steps"},
                )
                run_id = r.json()["id"]
                victim_id, deadline = None, time.monotonic() + 15
                while time.monotonic() < deadline:
                    run = (await c.get(f"/v1/runs/{run_id}")).json()
                    if run["status"] == "running" and run.get("executor_id") in alive:
                        victim_id = run["executor_id"]
                        break
                    await asyncio.sleep(0.02)
                if victim_id is None:
                    log(
                        f"   trial {k}: run never running on a known worker: {run['status']} {run.get('executor_id')}"
                    )
                    trials.append({"trial": k, "error": "not running"})
                    continue
                connected: list[float] = []
                follow = asyncio.create_task(
                    sse_events(
                        api.port,
                        f"/v1/runs/{run_id}/events",
                        60,
                        {"run.completed", "run.failed", "run.cancelled", "run.timed_out"},
                        connected,
                    )
                )
                for _ in range(100):  # stream attached before the kill (bounded: 1 s)
                    if connected:
                        break
                    await asyncio.sleep(0.01)
                victim = alive.pop(victim_id)
                await asyncio.sleep(0.3)  # let the model call be in flight, not the claim
                t_kill = time.time()
                os.killpg(victim.proc.pid, signal.SIGKILL)
                victim.proc.wait(10)
                dead.append(victim)
                STARTED.remove(victim)
                events = await follow
                take = next(
                    (
                        e
                        for e in events
                        if e["type"] == "log" and "stopped heartbeating" in (e.get("content") or "")
                    ),
                    None,
                )
                end = next(
                    (
                        e
                        for e in events
                        if e["type"].startswith("run.") and e["type"] not in ("run.queued", "run.started")
                    ),
                    None,
                )
                final = (await c.get(f"/v1/runs/{run_id}")).json()
                trial = {
                    "trial": k,
                    "loadavg_before": load,
                    "victim": victim_id,
                    "taken_over_by": (take or {}).get("data", {}).get("by"),
                    "resumed_on": final.get("executor_id"),
                    "status": final["status"],
                    "attempt": final.get("attempt"),
                    "detect_s": ts(take["created_at"]) - t_kill if take else None,
                    "detect_seen_s": take["_recv"] - t_kill if take else None,
                    "resume_s": ts(end["created_at"]) - t_kill
                    if end and end["type"] == "run.completed"
                    else None,
                    "end_event": end["type"] if end else None,
                }
                trials.append(trial)
                log(
                    f"   trial {k}: killed {victim_id}; takeover log after {_s(trial['detect_s'])} "
                    f"(seen {_s(trial['detect_seen_s'])}), {trial['end_event']} after {_s(trial['resume_s'])}; "
                    f"status {final['status']} attempt {final.get('attempt')} on {final.get('executor_id')}; load {load}"
                )
                # A fresh worker with a new executor id, so two stay alive for the next trial.
                w = spawn(
                    worker(
                        f"w-r{k}-{uuid.uuid4().hex[:4]}",
                        root / "rec",
                        {"AGENTRUN_DATABASE_URL": url, **liveness},
                    )
                )
                await worker_ready(w)
                alive[w.executor_id] = w  # type: ignore[attr-defined]
                await asyncio.sleep(2 * args.heartbeat_s)
        finally:
            await c.aclose()
            stop([*nodes, *alive.values()])
    det = [t["detect_s"] for t in trials if t.get("detect_s") is not None]
    res = [t["resume_s"] for t in trials if t.get("resume_s") is not None]
    summary = {
        "heartbeat_s": args.heartbeat_s,
        "dead_after_s": args.dead_after_s,
        "trials": trials,
        "detect_p50_s": statistics.median(det) if det else None,
        "detect_max_s": max(det) if det else None,
        "resume_p50_s": statistics.median(res) if res else None,
        "resume_max_s": max(res) if res else None,
        "completed": sum(1 for t in trials if t.get("status") == "completed"),
    }
    log(
        f"   detection p50 {_s(summary['detect_p50_s'])} max {_s(summary['detect_max_s'])}; "
        f"completed p50 {_s(summary['resume_p50_s'])} max {_s(summary['resume_max_s'])}; "
        f"{summary['completed']}/{len(trials)} completed"
    )
    return summary


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f} s"


# --------------------------------------------------------------------------------------------
# 3. cross-node event latency


async def section_latency(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    log(
        f"\n== 3. cross-node SSE latency: {args.sse_runs} runs of {args.sse_model}, created on API 1, "
        f"streamed from API 2; load {loadavg()}"
    )
    lat: dict[str, list[float]] = {}
    replayed = 0
    with fresh_database() as (_, url):
        nodes, ws = await start_cluster(root / "sse", url, 2, 1, {})
        c = LoadClient(HOST, nodes[0].port)
        try:
            r = await c.put(
                "/v1/agents/bench-stream",
                {"slug": "bench-stream", "model": args.sse_model, "instructions": "", "publish": True},
            )
            assert r.status_code in (200, 201), r.text
            for i in range(args.sse_runs + 2):  # the first two warm up both nodes
                r = await c.post(
                    "/v1/runs",
                    {
                        "agent": "bench-stream",
                        "prompt": f"s{i}",
                        "mode": "async",
                        "durability": args.sse_durability,
                    },
                )
                run_id = r.json()["id"]
                connected: list[float] = []
                events = await sse_events(
                    nodes[1].port, f"/v1/runs/{run_id}/events", 30, {"run.completed", "run.failed"}, connected
                )
                if i < 2:
                    continue
                t_conn = connected[0] if connected else 0.0
                for e in events:
                    created = ts(e["created_at"])
                    if created < t_conn:  # written before the stream existed: a replay, not live
                        replayed += 1
                        continue
                    lat.setdefault(e["type"], []).append(1000 * (e["_recv"] - created))
        finally:
            await c.aclose()
            stop([*nodes, *ws])
    every = [v for vs in lat.values() for v in vs]
    per_type = {
        k: {"n": len(v), "p50_ms": rb.pct(v, 50), "p99_ms": rb.pct(v, 99), "max_ms": max(v)}
        for k, v in sorted(lat.items())
    }
    out = {
        "model": args.sse_model,
        "durability": args.sse_durability,
        "runs": args.sse_runs,
        "events": len(every),
        "replayed_excluded": replayed,
        "p50_ms": rb.pct(every, 50),
        "p99_ms": rb.pct(every, 99),
        "max_ms": max(every) if every else None,
        "per_type": per_type,
        "loadavg_after": loadavg(),
    }
    log(
        f"   {len(every)} live events ({replayed} replayed, excluded): p50 {out['p50_ms']:.1f} ms "
        f"p99 {out['p99_ms']:.1f} ms max {out['max_ms']:.1f} ms"
    )
    for k, v in per_type.items():
        log(
            f"     {k:14s} n={v['n']:4d} p50 {v['p50_ms']:6.1f} p99 {v['p99_ms']:6.1f} max {v['max_ms']:6.1f} ms"
        )
    return out


# --------------------------------------------------------------------------------------------


def table(rows: list[dict]) -> str:
    head = (
        "| config | durability | runs/s | creates/s | agentrun CPU ms/run | per process cores (api, workers) "
        "| PG CPU ms/run (all / our backends) | total ms/run (agentrun + PG all) | PG conns peak | client cores | others cores | ok/errors |"
    )
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        lines.append(
            f"| {r['config']} | {r['durability']} | {r['runs_per_s']:.1f} | {r['creates_per_s']:.1f} | "
            f"{r['agentrun_ms_per_run']:.1f} | {', '.join(f'{x:.2f}' for x in r['per_process_cores'])} | "
            f"{r['pg_all_ms_per_run']:.1f} / {r['pg_ours_ms_per_run']:.1f} | {r['total_ms_per_run']:.1f} | "
            f"{r['pg_connections_peak'] or '-'} | {r['client_cores']:.2f} | {r['others_cores']:.2f} | {r['ok']}/{r['errors']} |"
        )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="agentrun-dist-"))
    doc: dict[str, Any] = {
        "argv": sys.argv[1:],
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": rb.machine(),
        "loadavg_start": loadavg(),
    }
    t0 = time.monotonic()
    try:
        if "1" in args.sections:
            doc["throughput"] = await section_throughput(args, root)
            log("\n" + table(doc["throughput"]["rows"]))
        if "2" in args.sections:
            doc["recovery"] = await section_recovery(args, root)
        if "3" in args.sections:
            doc["latency"] = await section_latency(args, root)
    finally:
        doc["elapsed_s"] = time.monotonic() - t0
        rb.RESULTS.mkdir(parents=True, exist_ok=True)
        path = rb.RESULTS / f"distributed-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
        path.write_text(json.dumps(doc, indent=2, default=str))
        log(f"\nelapsed {doc['elapsed_s']:.0f} s; results: {path}; process logs in {rb.RESULTS / 'logs'}")
        subprocess.run(["rm", "-rf", str(root)], check=False)
    return doc


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--sections", default="123", help="which measurements: 1 throughput, 2 recovery, 3 latency"
    )
    p.add_argument("--runs", type=int, default=400, help="runs per throughput measurement")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--warmup", type=int, default=10, help="sync+stream warm-up runs before each measurement")
    p.add_argument("--budget-s", type=float, default=90.0, help="hard cap on each throughput measurement")
    p.add_argument("--workers", default="1,2,4", help="worker counts on PostgreSQL")
    p.add_argument("--durability", default="exit,steps")
    p.add_argument(
        "--worker-concurrency",
        type=int,
        default=16,
        help="AGENTRUN_WORKER_CONCURRENCY of each PostgreSQL worker (0: the default, 1000); "
        "bounds the connections a worker opens (max_connections is 100 here)",
    )
    p.add_argument(
        "--profile", action="store_true", help="py-spy the API node and the worker of pg 1w (steps)"
    )
    p.add_argument("--profile-runs", type=int, default=200)
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--heartbeat-s", type=float, default=1)
    p.add_argument("--dead-after-s", type=float, default=5)
    p.add_argument("--sse-runs", type=int, default=50)
    p.add_argument("--sse-model", default="test:sleep-50")
    p.add_argument("--sse-durability", default="steps")
    args = p.parse_args()
    for k in [k for k in os.environ if k.startswith("AGENTRUN_") and k != "AGENTRUN_TEST_PG_URL"]:
        del os.environ[k]  # the processes get exactly the settings this script gives them

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        runner = rb.uvloop.run if rb.uvloop is not None else asyncio.run
        runner(main_async(args))
        return 0
    except KeyboardInterrupt:
        log("\ninterrupted: stopping the processes this script started")
        return 130
    finally:
        stop(list(STARTED))


if __name__ == "__main__":
    sys.exit(main())
