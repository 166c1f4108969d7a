#!/usr/bin/env python
"""agentrun benchmark: scenarios A-D against agentrun and two baselines measured in the same run.

    python bench/run.py [--only baseline,langgraph,agentrun,agentrun-lg] [--durability exit,steps] [--quick]

Targets (each started as a subprocess on a free 127.0.0.1 port, one at a time, stopped after):

- ``baseline``: ``bench/baseline_app.py``, a bare FastAPI app under uvicorn (uvloop, httptools,
  1 worker): the HTTP floor;
- ``langgraph``: ``langgraph dev`` (in-memory runtime) serving ``bench/langgraph_app/``, installed
  into ``bench/.venv-langgraph`` on first use;
- ``agentrun``: ``python -m agentrun.cli.main serve``, once per ``--durability`` value, each on a
  fresh data dir;
- ``agentrun-lg`` (only when named): the same server (durability exit) driven through its Agent
  Protocol surface (``/lg``) with the requests the ``langgraph`` target gets.

Scenarios (instant model unless said otherwise):

- A: sync create-and-wait at concurrency 16: runs/s, latency p50/p99;
- B: N async runs created, then all awaited: runs/s;
- C: time to first SSE event of a streamed run, sequential: p50/p99;
- D: N runs of a model that waits 1 s, all started at once: wall time, peak RSS.

Every scenario also reports the server's CPU (user+sys of its process tree, from /proc) per run.
The result goes to ``bench/results/<UTC time>.json`` and a markdown table is printed.
No load leaves 127.0.0.1; every loop is bounded in count and in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import uvloop
except ImportError:  # pragma: no cover - uvicorn[standard] brings it
    uvloop = None

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadclient import HTTPError, LoadClient, Response  # noqa: E402

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
LG_VENV = BENCH / ".venv-langgraph"
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
TERMINAL = {"completed", "failed", "cancelled", "timed_out"}


@dataclass(frozen=True)
class Sizes:
    a_runs: int
    a_concurrency: int
    b_runs: int
    b_concurrency: int
    c_runs: int
    d_runs: int
    warmup: int
    scenario_budget_s: float  # hard cap on each scenario's wall time


FULL = Sizes(
    a_runs=1000,
    a_concurrency=16,
    b_runs=1000,
    b_concurrency=64,
    c_runs=100,
    d_runs=1000,
    warmup=30,
    scenario_budget_s=180.0,
)
QUICK = Sizes(
    a_runs=200,
    a_concurrency=16,
    b_runs=200,
    b_concurrency=64,
    c_runs=50,
    d_runs=200,
    warmup=10,
    scenario_budget_s=90.0,
)


# --------------------------------------------------------------------------------------------
# /proc: CPU and RSS of a process tree


def _read_stat(pid: int) -> tuple[int, int] | None:
    """(ppid, utime+stime+cutime+cstime ticks) of one process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    rest = raw[raw.rindex(b")") + 2 :].split()
    # rest[0]=state, [1]=ppid, [11]=utime, [12]=stime, [13]=cutime, [14]=cstime
    return int(rest[1]), int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])


def tree_pids(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = _read_stat(int(name))
        if st is not None:
            children.setdefault(st[0], []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_cpu_s(root: int) -> float:
    total = 0
    for pid in tree_pids(root):
        st = _read_stat(pid)
        if st is not None:
            total += st[1]
    return total / CLK_TCK


def _status_kib(pid: int, key: bytes) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:  # statm is cheaper than status: second field is resident pages
            with open(f"/proc/{pid}/statm", "rb") as f:
                total += int(f.read().split()[1]) * PAGE_KIB
        except OSError:
            pass
    return total / 1024


class RssSampler:
    """Samples the tree's RSS every 50 ms in a thread (the event loop may be busy) and keeps the peak."""

    def __init__(self, root: int, every_s: float = 0.05) -> None:
        self.root, self.every_s = root, every_s
        self.peak_mib = 0.0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def _loop(self) -> None:
        pids, refreshed = tree_pids(self.root), time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() - refreshed > 1.0:
                pids, refreshed = tree_pids(self.root), time.monotonic()
            self.peak_mib = max(self.peak_mib, tree_rss_mib(pids))
            self.samples += 1
            self._stop.wait(self.every_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


# --------------------------------------------------------------------------------------------
# servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """A server subprocess in its own process group, so stopping it stops exactly what we started."""

    def __init__(
        self,
        name: str,
        cmd: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        port: int,
    ) -> None:
        self.name, self.cmd, self.cwd, self.port = name, cmd, cwd, port
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        self.log_path = RESULTS / "logs" / f"{stamp}-{name.replace(' ', '-')}.log"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

    async def wait_ready(self, path: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        c = LoadClient(HOST, self.port, timeout_s=5.0)
        try:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.proc.returncode} before it was ready\n"
                        + self.log_tail()
                    )
                with contextlib.suppress(OSError, HTTPError):
                    r = await c.get(path)
                    if r.status_code < 500:
                        return
                await asyncio.sleep(0.2)
        finally:
            await c.aclose()
        raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f} s\n" + self.log_tail())

    def log_tail(self, n: int = 30) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join("    " + line for line in lines[-n:])

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait_s in ((signal.SIGINT, 15), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=wait_s)
                return
            except subprocess.TimeoutExpired:
                continue


RUNNING: list[Server] = []


def stop_all() -> None:
    while RUNNING:
        RUNNING.pop().stop()


# --------------------------------------------------------------------------------------------
# targets: how each server is started and spoken to


class RunFailed(Exception):
    pass


class Target:
    label = "?"
    ready_path = "/"
    ready_timeout_s = 60.0

    def server(self) -> Server:
        raise NotImplementedError

    async def setup(self, c: LoadClient) -> None:
        return None

    async def sync_run(self, c: LoadClient) -> None:
        raise NotImplementedError

    async def create(self, c: LoadClient, *, sleep: bool) -> Any:
        raise NotImplementedError

    async def wait(self, c: LoadClient, handle: Any, deadline: float) -> None:
        raise NotImplementedError

    async def stream(self, c: LoadClient) -> Response:
        """One streamed run of the instant model, read to its end (``first_event_s`` is set)."""
        raise NotImplementedError

    def extra(self) -> dict[str, Any]:
        """Target-specific facts gathered after the server stopped."""
        return {}

    def cleanup(self) -> None:
        return None


def _expect(r: Response, *codes: int) -> dict:
    if r.status_code not in codes:
        raise RunFailed(f"HTTP {r.status_code}: {r.text[:300]}")
    return r.json()


class Baseline(Target):
    label = "baseline"
    ready_path = "/health"

    def server(self) -> Server:
        port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "baseline_app:app",
            "--app-dir",
            str(BENCH),
            "--host",
            HOST,
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        return Server("baseline", cmd, port=port)

    async def sync_run(self, c: LoadClient) -> None:
        body = _expect(await c.post("/runs", {"mode": "sync"}), 200)
        if body["status"] != "completed":
            raise RunFailed(f"sync run ended {body['status']}")

    async def create(self, c: LoadClient, *, sleep: bool) -> Any:
        return _expect(await c.post("/runs", {"mode": "async", "sleep_ms": 1000 if sleep else 0}), 202)["id"]

    async def wait(self, c: LoadClient, handle: Any, deadline: float) -> None:
        while time.monotonic() < deadline:
            body = _expect(await c.get(f"/runs/{handle}", params={"wait_s": 30}), 200)
            if body["status"] == "completed":
                return
        raise RunFailed("run not finished before the scenario deadline")

    async def stream(self, c: LoadClient) -> Response:
        return await c.post("/runs", {"mode": "stream"}, sse=True)


class LangGraph(Target):
    label = "langgraph"
    ready_path = "/ok"
    ready_timeout_s = 120.0

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs

    def server(self) -> Server:
        ensure_langgraph()
        # `langgraph dev` pickles its in-memory runs/threads/checkpoints here and reloads them at
        # start; its queue scans every stored run, so leftovers from an earlier bench would slow it.
        shutil.rmtree(BENCH / "langgraph_app" / ".langgraph_api", ignore_errors=True)
        port = free_port()
        cmd = [
            str(LG_VENV / "bin" / "langgraph"),
            "dev",
            "--no-browser",
            "--no-reload",
            "--host",
            HOST,
            "--port",
            str(port),
            "--n-jobs-per-worker",
            str(self.jobs),
            "--allow-blocking",
            "--server-log-level",
            "WARNING",
        ]
        env = {
            "LANGSMITH_TRACING": "false",
            "LANGCHAIN_TRACING_V2": "false",
            "LANGGRAPH_CLI_NO_ANALYTICS": "1",
            "LANGSMITH_API_KEY": "",
            "PYTHONUNBUFFERED": "1",
        }
        return Server("langgraph", cmd, env=env, cwd=BENCH / "langgraph_app", port=port)

    @staticmethod
    def _body(graph: str) -> dict:
        return {"assistant_id": graph, "input": {"prompt": "hi"}}

    async def sync_run(self, c: LoadClient) -> None:
        # Stateless run, waits for the result (langgraph_api/api/runs.py: wait_run_stateless).
        body = _expect(await c.post("/runs/wait", self._body("instant")), 200)
        if body.get("result") != "ok":
            raise RunFailed(f"unexpected output {body!r:.200}")

    async def create(self, c: LoadClient, *, sleep: bool) -> Any:
        # Background run on a thread created on the fly (if_not_exists=create: one request, not two).
        thread_id = str(uuid.uuid4())
        body = {**self._body("sleep" if sleep else "instant"), "if_not_exists": "create"}
        run = _expect(await c.post(f"/threads/{thread_id}/runs", body), 200)
        return thread_id, run["run_id"]

    async def wait(self, c: LoadClient, handle: Any, deadline: float) -> None:
        thread_id, run_id = handle
        body = _expect(await c.get(f"/threads/{thread_id}/runs/{run_id}/join"), 200)
        if body.get("result") != "ok":
            raise RunFailed(f"unexpected output {body!r:.200}")

    async def stream(self, c: LoadClient) -> Response:
        return await c.post("/runs/stream", self._body("instant"), sse=True)


def ensure_langgraph() -> None:
    exe = LG_VENV / "bin" / "langgraph"
    if exe.exists():
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = RESULTS / "langgraph-install.log"
    print(f"installing langgraph-cli[inmem] into {LG_VENV} (log: {log}) ...", flush=True)
    with open(log, "wb") as f:
        subprocess.run([sys.executable, "-m", "venv", str(LG_VENV)], check=True, stdout=f, stderr=f)
        subprocess.run(
            [str(LG_VENV / "bin" / "pip"), "install", "-r", str(BENCH / "requirements-langgraph.txt")],
            check=True,
            stdout=f,
            stderr=f,
            timeout=900,
        )


class Agentrun(Target):
    ready_path = "/readyz"  # 200 once the store answers (503 before)
    ready_timeout_s = 120.0

    def __init__(self, durability: str) -> None:
        self.durability = durability
        self.label = f"agentrun {durability}"
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"agentrun-bench-{durability}-"))

    def server(self) -> Server:
        port = free_port()
        py = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv").exists() else sys.executable
        cmd = [py, "-m", "agentrun.cli.main", "serve", "--port", str(port), "--data-dir", str(self.data_dir)]
        env = {
            "AGENTRUN_DATA_DIR": str(self.data_dir),
            "AGENTRUN_PORT": str(port),
            "AGENTRUN_HOST": HOST,
            "AGENTRUN_DEFAULT_DURABILITY": self.durability,
            "AGENTRUN_LOG_LEVEL": "warning",
            "PYTHONPATH": str(REPO / "src"),
        }
        return Server(self.label, cmd, env=env, cwd=REPO, port=port)

    async def setup(self, c: LoadClient) -> None:
        for slug, model in (("bench-instant", "test"), ("bench-sleep", "test:sleep-1000")):
            r = await c.put(
                f"/v1/agents/{slug}", {"slug": slug, "model": model, "instructions": "", "publish": True}
            )
            _expect(r, 200, 201)

    def _body(self, agent: str, mode: str) -> dict:
        return {"agent": agent, "prompt": "hi", "mode": mode, "durability": self.durability}

    async def sync_run(self, c: LoadClient) -> None:
        r = await c.post("/v1/runs", self._body("bench-instant", "sync"))
        body = _expect(r, 200, 202)
        if r.status_code == 202:  # server wait limit passed: keep polling, as a client would
            await self.wait(c, body["id"], time.monotonic() + 60)
        elif body["status"] != "completed":
            raise RunFailed(f"sync run ended {body['status']}: {str(body.get('error'))[:200]}")

    async def create(self, c: LoadClient, *, sleep: bool) -> Any:
        r = await c.post("/v1/runs", self._body("bench-sleep" if sleep else "bench-instant", "async"))
        return _expect(r, 202)["id"]

    async def wait(self, c: LoadClient, handle: Any, deadline: float) -> None:
        while time.monotonic() < deadline:
            body = _expect(await c.get(f"/v1/runs/{handle}", params={"wait_s": 30}), 200)
            if body["status"] in TERMINAL:
                if body["status"] != "completed":
                    raise RunFailed(f"run ended {body['status']}: {str(body.get('error'))[:200]}")
                return
        raise RunFailed("run not finished before the scenario deadline")

    async def stream(self, c: LoadClient) -> Response:
        return await c.post("/v1/runs", self._body("bench-instant", "stream"), sse=True)

    def extra(self) -> dict[str, Any]:
        """Checkpoints per run, read from the DBOS system database the server left behind."""
        out: dict[str, Any] = {}
        db = self.data_dir / "dbos.sqlite"
        if not db.exists():
            return out
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
            tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
            for t in ("workflow_status", "operation_outputs", "streams"):
                if t in tables:
                    out[f"rows_{t}"] = con.execute(f"select count(*) from {t}").fetchone()[0]
            con.close()
        except sqlite3.Error as e:
            out["error"] = str(e)
        return out

    def cleanup(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)


class AgentrunLG(Agentrun):
    """agentrun through its Agent Protocol surface (``/lg``): the requests the LangGraph target
    gets, path for path and body for body (the agents take LangGraph's ``{"prompt": ...}`` input
    through an ``input_schema``), so agentrun and ``langgraph dev`` compare request for request."""

    INPUT = {"type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]}

    def __init__(self) -> None:
        super().__init__("exit")
        self.label = "agentrun-lg"

    async def setup(self, c: LoadClient) -> None:
        for slug, model in (("bench-instant", "test"), ("bench-sleep", "test:sleep-1000")):
            body = {
                "slug": slug,
                "model": model,
                "instructions": "",
                "publish": True,
                "input_schema": self.INPUT,
            }
            _expect(await c.put(f"/v1/agents/{slug}", body), 200, 201)

    @staticmethod
    def _lg_body(agent: str) -> dict:
        return {"assistant_id": agent, "input": {"prompt": "hi"}}

    @staticmethod
    def _check(body: dict) -> None:
        if "__error__" in body or body.get("messages", [{}])[-1].get("type") != "ai":
            raise RunFailed(f"unexpected output {body!r:.200}")

    async def sync_run(self, c: LoadClient) -> None:
        self._check(_expect(await c.post("/lg/runs/wait", self._lg_body("bench-instant")), 200))

    async def create(self, c: LoadClient, *, sleep: bool) -> Any:
        thread_id = str(uuid.uuid4())
        body = {**self._lg_body("bench-sleep" if sleep else "bench-instant"), "if_not_exists": "create"}
        run = _expect(await c.post(f"/lg/threads/{thread_id}/runs", body), 200)
        return thread_id, run["run_id"]

    async def wait(self, c: LoadClient, handle: Any, deadline: float) -> None:
        thread_id, run_id = handle
        self._check(_expect(await c.get(f"/lg/threads/{thread_id}/runs/{run_id}/join"), 200))

    async def stream(self, c: LoadClient) -> Response:
        return await c.post("/lg/runs/stream", self._lg_body("bench-instant"), sse=True)


# --------------------------------------------------------------------------------------------
# scenarios


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))  # nearest rank
    return s[k]


@dataclass
class Tally:
    ok: int = 0
    errors: int = 0
    samples: list[str] = field(default_factory=list)

    def fail(self, e: BaseException) -> None:
        self.errors += 1
        if len(self.samples) < 5:
            self.samples.append(f"{type(e).__name__}: {str(e)[:300]}")


async def bounded(n: int, concurrency: int, fn, deadline: float) -> None:
    """Run fn(i) for i < n with at most `concurrency` at once; take no new item after the deadline."""
    items = iter(range(n))

    async def worker() -> None:
        for i in items:
            if time.monotonic() > deadline:
                return
            await fn(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def machine_busy_s() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: everything but idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK  # user nice system idle iowait irq softirq steal


class Measure:
    """Wall time, server CPU (process tree), client CPU, and CPU used by everything else around one
    scenario: this machine is shared, so `others_cores` says how noisy the figures are."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def __enter__(self) -> Measure:
        self.busy0, self.cpu0 = machine_busy_s(), tree_cpu_s(self.pid)
        self.client0, self.t0 = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        self.cpu = tree_cpu_s(self.pid) - self.cpu0
        self.client_cpu = time.process_time() - self.client0
        self.others = machine_busy_s() - self.busy0 - self.cpu - self.client_cpu

    def per_run(self, runs: int) -> dict[str, float | None]:
        out: dict[str, float | None] = {
            "server_cores": self.cpu / self.wall,
            "client_cores": self.client_cpu / self.wall,
            "others_cores": max(0.0, self.others / self.wall),
            "server_cpu_ms_per_run": None,
            "client_cpu_ms_per_run": None,
        }
        if runs:
            out["server_cpu_ms_per_run"] = 1000 * self.cpu / runs
            out["client_cpu_ms_per_run"] = 1000 * self.client_cpu / runs
        return out


async def warmup(t: Target, c: LoadClient, n: int) -> None:
    tally = Tally()

    async def one(_: int) -> None:
        try:
            await t.sync_run(c)
            await t.stream(c)
        except Exception as e:  # noqa: BLE001 - counted, reported
            tally.fail(e)

    await bounded(n, 4, one, time.monotonic() + 60)
    if tally.errors:
        print(f"    warmup: {tally.errors}/{n} failed, e.g. {tally.samples[0]}", flush=True)


async def scenario_a(t: Target, c: LoadClient, pid: int, z: Sizes) -> dict:
    lat: list[float] = []
    tally = Tally()

    async def one(_: int) -> None:
        t0 = time.perf_counter()
        try:
            await t.sync_run(c)
        except Exception as e:  # noqa: BLE001
            tally.fail(e)
            return
        lat.append(time.perf_counter() - t0)
        tally.ok += 1

    with Measure(pid) as m:
        await bounded(z.a_runs, z.a_concurrency, one, time.monotonic() + z.scenario_budget_s)
    return {
        "runs": z.a_runs,
        "concurrency": z.a_concurrency,
        "ok": tally.ok,
        "errors": tally.errors,
        "error_samples": tally.samples,
        "wall_s": m.wall,
        "runs_per_s": tally.ok / m.wall,
        "p50_ms": _ms(pct(lat, 50)),
        "p99_ms": _ms(pct(lat, 99)),
        **m.per_run(tally.ok),
    }


async def scenario_b(t: Target, c: LoadClient, pid: int, z: Sizes) -> dict:
    handles: list[Any] = []
    tally = Tally()
    deadline = time.monotonic() + z.scenario_budget_s

    async def create(_: int) -> None:
        try:
            handles.append(await t.create(c, sleep=False))
        except Exception as e:  # noqa: BLE001
            tally.fail(e)

    async def wait(i: int) -> None:
        try:
            await t.wait(c, handles[i], deadline)
            tally.ok += 1
        except Exception as e:  # noqa: BLE001
            tally.fail(e)

    with Measure(pid) as m:
        await bounded(z.b_runs, z.b_concurrency, create, deadline)
        created_s = time.perf_counter() - m.t0
        await bounded(len(handles), z.b_concurrency, wait, deadline)
    return {
        "runs": z.b_runs,
        "concurrency": z.b_concurrency,
        "created": len(handles),
        "ok": tally.ok,
        "errors": tally.errors,
        "error_samples": tally.samples,
        "create_s": created_s,
        "wall_s": m.wall,
        "creates_per_s": len(handles) / created_s if created_s else None,
        "runs_per_s": tally.ok / m.wall,
        **m.per_run(tally.ok),
    }


async def scenario_c(t: Target, c: LoadClient, pid: int, z: Sizes) -> dict:
    first: list[float] = []
    total: list[float] = []
    tally = Tally()

    async def one(_: int) -> None:
        t0 = time.perf_counter()
        try:
            r = await t.stream(c)
            if r.status_code != 200:
                raise RunFailed(f"stream -> HTTP {r.status_code}: {r.text[:300]}")
            if r.first_event_s is None:
                raise RunFailed(f"stream ended with no event: {r.text[:300]}")
        except Exception as e:  # noqa: BLE001
            tally.fail(e)
            return
        first.append(r.first_event_s)
        total.append(time.perf_counter() - t0)
        tally.ok += 1

    with Measure(pid) as m:
        await bounded(z.c_runs, 1, one, time.monotonic() + z.scenario_budget_s)
    return {
        "runs": z.c_runs,
        "concurrency": 1,
        "ok": tally.ok,
        "errors": tally.errors,
        "error_samples": tally.samples,
        "wall_s": m.wall,
        "first_event_p50_ms": _ms(pct(first, 50)),
        "first_event_p99_ms": _ms(pct(first, 99)),
        "stream_end_p50_ms": _ms(pct(total, 50)),
        "stream_end_p99_ms": _ms(pct(total, 99)),
        **m.per_run(tally.ok),
    }


async def scenario_d(t: Target, c: LoadClient, pid: int, z: Sizes) -> dict:
    tally = Tally()
    created = 0
    done_at: list[float] = []
    deadline = time.monotonic() + z.scenario_budget_s
    go = asyncio.Event()

    async def one() -> None:
        nonlocal created
        await go.wait()
        try:
            handle = await t.create(c, sleep=True)
            created += 1
            await t.wait(c, handle, deadline)
            done_at.append(time.perf_counter())
            tally.ok += 1
        except Exception as e:  # noqa: BLE001
            tally.fail(e)

    tasks = [asyncio.create_task(one()) for _ in range(z.d_runs)]
    await asyncio.sleep(0.1)  # every task is parked on `go`: they all start together
    with RssSampler(pid) as rss, Measure(pid) as m:
        go.set()
        await asyncio.wait(tasks, timeout=z.scenario_budget_s + 5)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    hwm = sum(_status_kib(p, b"VmHWM:") for p in tree_pids(pid)) / 1024
    unfinished = z.d_runs - tally.ok - tally.errors  # still running when the budget ran out
    complete = tally.ok == z.d_runs
    return {
        "runs": z.d_runs,
        "created": created,
        "ok": tally.ok,
        "errors": tally.errors + unfinished,
        "unfinished": unfinished,
        "error_samples": tally.samples,
        "incomplete": not complete,
        # time to the last completion; when some runs never finished, the whole scenario time (a floor)
        "wall_s": (max(done_at) - m.t0) if complete else m.wall,
        "scenario_s": m.wall,
        "peak_rss_mib": rss.peak_mib,
        "rss_samples": rss.samples,
        "vmhwm_mib": hwm,
        **m.per_run(tally.ok),
    }


def _ms(v: float | None) -> float | None:
    return None if v is None else v * 1000


PROF_VENV = BENCH / ".venv-prof"


def ensure_py_spy() -> Path:
    exe = PROF_VENV / "bin" / "py-spy"
    if not exe.exists():
        print(f"installing py-spy into {PROF_VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PROF_VENV)], check=True, capture_output=True)
        subprocess.run(
            [str(PROF_VENV / "bin" / "pip"), "install", "-q", "py-spy"], check=True, capture_output=True
        )
    return exe


class Profiler:
    """py-spy (GIL-holding samples only: where the Python CPU goes) on the server during one scenario."""

    def __init__(self, pid: int, out: Path) -> None:
        self.out = out
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(ensure_py_spy()),
            "record",
            "-p",
            str(pid),
            "-r",
            "200",
            "--gil",
            "-f",
            "raw",
            "-o",
            str(out),
        ]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

    def stop(self, top: int = 20) -> list[str]:
        """Stop recording; the `top` frames by inclusive share, project frames first."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        incl: dict[str, int] = {}
        total = 0
        with contextlib.suppress(OSError):
            for line in self.out.read_text().splitlines():
                stack, _, n = line.rpartition(" ")
                total += int(n)
                for frame in {f.rsplit(":", 1)[0] + ")" for f in stack.split(";")}:
                    incl[frame] = incl.get(frame, 0) + int(n)
        ranked = sorted(incl.items(), key=lambda kv: -kv[1])
        mine = [
            kv for kv in ranked if "agentrun/" in kv[0] and "cli/" not in kv[0] and "server.py" not in kv[0]
        ]
        return [f"{100 * n / total:.1f}% {f}" for f, n in mine[:top]] if total else []


async def bench_target(t: Target, z: Sizes, only_scenarios: str, profile: bool = False) -> dict:
    srv = t.server()
    print(f"== {t.label}: starting ({' '.join(srv.cmd)[:160]})", flush=True)
    RUNNING.append(srv)
    out: dict[str, Any] = {"label": t.label, "cmd": srv.cmd, "log": str(srv.log_path)}
    try:
        srv.start()
        t0 = time.perf_counter()
        await srv.wait_ready(t.ready_path, t.ready_timeout_s)
        out["startup_s"] = time.perf_counter() - t0
        out["rss_idle_mib"] = tree_rss_mib(tree_pids(srv.pid))
        c = LoadClient(HOST, srv.port, timeout_s=120.0)
        try:
            await t.setup(c)
            await warmup(t, c, z.warmup)
            scenarios = {"A": scenario_a, "B": scenario_b, "C": scenario_c, "D": scenario_d}
            for key, fn in scenarios.items():
                if key not in only_scenarios:
                    continue
                if srv.proc is not None and srv.proc.poll() is not None:
                    raise RuntimeError(f"{t.label} died (exit {srv.proc.returncode})\n" + srv.log_tail())
                print(f"   {key} ...", end=" ", flush=True)
                prof = None
                if profile and isinstance(t, Agentrun):
                    stamp = srv.log_path.stem
                    prof = Profiler(srv.pid, RESULTS / "profiles" / f"{stamp}-{key}.txt")
                res = await fn(t, c, srv.pid, z)
                if prof is not None:
                    res["profile_top"] = prof.stop()
                    res["profile_file"] = str(prof.out)
                out[key] = res
                print(_brief(key, res), flush=True)
                for s in res.get("error_samples", [])[:2]:
                    print(f"      error: {s}", flush=True)
                await asyncio.sleep(1.0)  # let the server settle between scenarios
        finally:
            await c.aclose()
    except Exception as e:  # noqa: BLE001 - one broken target must not hide the others
        out["failed"] = f"{type(e).__name__}: {e}"
        print(f"   FAILED: {out['failed']}", flush=True)
    finally:
        srv.stop()
        with contextlib.suppress(ValueError):
            RUNNING.remove(srv)
        out.update(t.extra())
        t.cleanup()
    return out


def _brief(key: str, r: dict) -> str:
    err = f", {r['errors']} errors" if r.get("errors") else ""
    if (r.get("others_cores") or 0) > 0.2:
        err += f" [NOISY: other processes used {r['others_cores']:.2f} cores]"
    cpu = r.get("server_cpu_ms_per_run")
    cpu_s = f", server CPU {cpu:.2f} ms/run" if cpu is not None else ""
    if key == "A":
        return f"{r['runs_per_s']:.0f} runs/s, p50 {_f(r['p50_ms'])} ms, p99 {_f(r['p99_ms'])} ms{cpu_s}{err}"
    if key == "B":
        return f"{r['runs_per_s']:.0f} runs/s (creates {_f(r['creates_per_s'], 0)}/s){cpu_s}{err}"
    if key == "C":
        p50, p99 = _f(r["first_event_p50_ms"]), _f(r["first_event_p99_ms"])
        return f"first event p50 {p50} ms, p99 {p99} ms{cpu_s}{err}"
    return (
        f"wall {_f(r['wall_s'], 2)} s for {r['ok']}/{r['runs']}, peak RSS {r['peak_rss_mib']:.0f} MiB"
        f"{cpu_s}{err}"
    )


def _f(v: float | None, nd: int = 1) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


# --------------------------------------------------------------------------------------------
# report

ROWS = [  # (label, scenario, key, higher_is_better, digits)
    ("A sync c=16: runs/s", "A", "runs_per_s", True, 0),
    ("A latency p50 (ms)", "A", "p50_ms", False, 1),
    ("A latency p99 (ms)", "A", "p99_ms", False, 1),
    ("A server CPU (ms/run)", "A", "server_cpu_ms_per_run", False, 2),
    ("B async create+await: runs/s", "B", "runs_per_s", True, 0),
    ("B creates/s", "B", "creates_per_s", True, 0),
    ("B server CPU (ms/run)", "B", "server_cpu_ms_per_run", False, 2),
    ("C first SSE event p50 (ms)", "C", "first_event_p50_ms", False, 1),
    ("C first SSE event p99 (ms)", "C", "first_event_p99_ms", False, 1),
    ("C whole stream p50 (ms)", "C", "stream_end_p50_ms", False, 1),
    ("C server CPU (ms/run)", "C", "server_cpu_ms_per_run", False, 2),
    ("D 1 s model x N: wall (s)", "D", "wall_s", False, 2),
    ("D peak RSS (MiB)", "D", "peak_rss_mib", False, 0),
    ("D server CPU (ms/run)", "D", "server_cpu_ms_per_run", False, 2),
]


def _get(res: dict, scen: str, key: str) -> float | None:
    v = res.get(scen, {}).get(key)
    return v if isinstance(v, int | float) else None


def markdown(results: list[dict]) -> str:
    labels = [r["label"] for r in results]
    by = {r["label"]: r for r in results}
    ratios: list[tuple[str, str]] = []
    for a in (lab for lab in labels if lab.startswith("agentrun")):
        refs = ("langgraph", "baseline") if a == "agentrun exit" else ("langgraph", "agentrun exit")
        ratios += [(a, b) for b in refs if b in by]
    head = ["metric", *labels, *[f"{a} / {b}" for a, b in ratios]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, scen, key, _hib, nd in ROWS:
        cells = [name]
        for lab in labels:
            more = ">" if key == "wall_s" and by[lab].get(scen, {}).get("incomplete") else ""
            cells.append(more + _f(_get(by[lab], scen, key), nd))
        for a, b in ratios:
            va, vb = _get(by[a], scen, key), _get(by[b], scen, key)
            more = ">" if key == "wall_s" and by[a].get(scen, {}).get("incomplete") else ""
            cells.append(f"{more}{va / vb:.2f}x" if va is not None and vb else "-")
        lines.append("| " + " | ".join(cells) + " |")
    noise = ["others' CPU, max (cores)"]
    for lab in labels:
        vals = [by[lab].get(s, {}).get("others_cores") for s in "ABCD"]
        vals = [v for v in vals if isinstance(v, int | float)]
        noise.append(f"{max(vals):.2f}" if vals else "-")
    noise += [""] * len(ratios)
    lines.append("| " + " | ".join(noise) + " |")
    errs = ["errors (A/B/C/D)"]
    for lab in labels:
        errs.append("/".join(str(by[lab].get(s, {}).get("errors", "-")) for s in "ABCD"))
    errs += [""] * len(ratios)
    lines.append("| " + " | ".join(errs) + " |")
    return "\n".join(lines)


def checks(results: list[dict]) -> list[str]:
    """The issue's targets for agentrun with durability exit, and the checkpoint cost of steps."""
    by = {r["label"]: r for r in results}
    out: list[str] = []
    ex, lg = by.get("agentrun exit"), by.get("langgraph")
    if ex and "failed" not in ex:
        for scen in ("A", "B"):
            va, vb = _get(ex, scen, "runs_per_s"), _get(lg, scen, "runs_per_s") if lg else None
            if va is not None and vb:
                out.append(
                    f"{'PASS' if va >= 1.5 * vb else 'FAIL'} {scen}: agentrun exit {va:.0f} runs/s = "
                    f"{va / vb:.2f}x langgraph (target >= 1.5x)"
                )
        p50 = _get(ex, "C", "first_event_p50_ms")
        if p50 is not None:
            out.append(
                f"{'PASS' if p50 <= 20 else 'FAIL'} C: first SSE event p50 {p50:.1f} ms (target <= 20 ms)"
            )
        wall, rss = _get(ex, "D", "wall_s"), _get(ex, "D", "peak_rss_mib")
        d = ex.get("D", {})
        if wall is not None:
            ok = wall <= 5 and d.get("ok") == d.get("runs")
            out.append(
                f"{'PASS' if ok else 'FAIL'} D: wall {wall:.2f} s for {d.get('ok')}/{d.get('runs')} runs "
                "(target <= 5 s, all completed)"
            )
        if rss is not None:
            out.append(f"{'PASS' if rss <= 800 else 'FAIL'} D: peak RSS {rss:.0f} MiB (target <= 800 MiB)")
    st = by.get("agentrun steps")
    if ex and st and "failed" not in st:
        for scen in ("A", "B"):
            ce, cs = _get(ex, scen, "server_cpu_ms_per_run"), _get(st, scen, "server_cpu_ms_per_run")
            if ce is None or cs is None:
                continue
            line = f"steps - exit CPU in {scen}: {cs - ce:+.2f} ms/run"
            ops_s, ops_e = _per_run(st, "rows_operation_outputs"), _per_run(ex, "rows_operation_outputs")
            if ops_s is not None:
                extra = ops_s - (ops_e or 0.0)
                line += f"; {ops_s:.1f} DBOS step rows/run (exit: {ops_e or 0:.1f})"
                if extra > 0:
                    line += f" -> {(cs - ce) / extra:.2f} ms CPU per checkpoint"
            out.append(line)
    return out


def _per_run(res: dict, key: str) -> float | None:
    rows, wf = res.get(key), res.get("rows_workflow_status")
    return rows / wf if rows is not None and wf else None


def machine() -> dict:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    with contextlib.suppress(Exception):
        info["agentrun_commit"] = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    with contextlib.suppress(Exception):  # the server measured is the work tree, not HEAD
        info["agentrun_src_changes"] = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.count("\n")
    with contextlib.suppress(Exception):
        out = subprocess.run(
            [str(LG_VENV / "bin" / "pip"), "list", "--format=json"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        info["langgraph_versions"] = {
            p["name"]: p["version"] for p in json.loads(out) if p["name"].startswith("langgraph")
        }
    return info


async def main_async(args: argparse.Namespace) -> int:
    z = QUICK if args.quick else FULL
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    durabilities = [d.strip() for d in args.durability.split(",") if d.strip()]
    targets: list[Target] = []
    if "baseline" in only:
        targets.append(Baseline())
    if "langgraph" in only:
        targets.append(LangGraph(args.langgraph_jobs))
    if "agentrun" in only:
        targets += [Agentrun(d) for d in durabilities]
    if "agentrun-lg" in only:
        targets.append(AgentrunLG())
    results = []
    started = dt.datetime.now(dt.UTC)
    for t in targets:
        results.append(await bench_target(t, z, args.scenarios, args.profile))
    doc = {
        "started": started.isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "sizes": z.__dict__,
        "langgraph_jobs": args.langgraph_jobs,
        "machine": machine(),
        "results": results,
    }
    table = markdown(results)
    notes = checks(results)
    doc["table_md"], doc["checks"] = table, notes
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{started.strftime('%Y%m%dT%H%M%SZ')}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(doc, indent=2))
    print()
    print(table)
    print()
    for n in notes:
        print(n)
    for r in results:
        if "failed" in r:
            print(f"{r['label']} FAILED: {r['failed'].splitlines()[0]} (log: {r['log']})")
    print(f"\nresults: {path}")
    return 1 if any("failed" in r for r in results) else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--only",
        default="baseline,langgraph,agentrun",
        help="comma-separated targets: baseline, langgraph, agentrun, agentrun-lg (the Agent Protocol "
        "surface, durability exit; not in the default)",
    )
    p.add_argument("--durability", default="exit,steps", help="agentrun durability modes to run: exit, steps")
    p.add_argument("--quick", action="store_true", help="smaller counts (200 runs instead of 1000)")
    p.add_argument("--scenarios", default="ABCD", help="subset of scenarios to run, e.g. AC")
    p.add_argument(
        "--profile",
        action="store_true",
        help="sample agentrun with py-spy during each scenario (installs it into bench/.venv-prof); "
        "profiling costs CPU, so its figures are not comparable with an unprofiled run",
    )
    p.add_argument(
        "--langgraph-jobs",
        type=int,
        default=1000,
        help="langgraph dev --n-jobs-per-worker (its default is 10; 1000 matches agentrun's "
        "worker_concurrency so D measures the engine, not a config cap)",
    )
    args = p.parse_args()

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        if uvloop is not None:  # the client shares 2 cores with the server: keep it cheap
            return uvloop.run(main_async(args))
        return asyncio.run(main_async(args))
    except KeyboardInterrupt:
        print("\ninterrupted: stopping servers", flush=True)
        return 130
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
