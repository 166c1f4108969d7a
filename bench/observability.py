"""Server CPU per run with tracing off and on, measured in the same run, side by side.

    .venv/bin/python bench/observability.py [--runs 300] [--batch 25] [--durability steps]

Not a test: prints a table. Four servers run at once on fresh SQLite data dirs, the same code:

- ``off`` and ``off, again``: the default (no ``OTEL_*`` variables, ``observability.tracing``
  unset), twice: how far two identical servers differ is the noise of the measurement;
- ``on, no exporter``: tracing on, ``OTEL_TRACES_EXPORTER=none``: every span is built and
  dropped (the cost of instrumenting, without export);
- ``on, OTLP sink``: tracing on, OTLP/HTTP to a local receiver in this script that answers 200
  and discards (the cost of instrumenting, batching, protobuf encoding and sending).

First, in-process, the hooks alone: the CPU time of one model request through the bare offline
model, through ``ObservedModel`` with tracing off (what every run pays: the metrics), and with
tracing on into an SDK provider without exporter, interleaved rounds.

Then the client sends sync runs of an agent on the offline ``test:tools`` model with the calculator
tool (per run: 1 HTTP request, a run span, 2 model requests, 1 tool call), one at a time, in
batches that alternate between the servers so machine noise hits them alike. CPU is the server
process's user+system time (``/proc/<pid>/stat``, all its threads) over its batches, divided by
its runs. The client's own time is not counted.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


class Sink(BaseHTTPRequestHandler):
    received = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("content-length", 0)))
        Sink.received += 1
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class Server:
    def __init__(self, name: str, env: dict[str, str], root: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        data = root / name.replace(" ", "-").replace(",", "")
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTRUN_", "OTEL_"))}
        self.env = {
            **base,
            "AGENTRUN_DATA_DIR": str(data),
            "AGENTRUN_PORT": str(self.port),
            "AGENTRUN_LOG_LEVEL": "warning",
            **env,
        }
        self.log = open(root / f"{data.name}.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agentrun.api.server"],
            env=self.env,
            cwd=REPO,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.cpu = 0.0
        self.runs = 0

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {Path(self.log.name).read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def hooks_alone(requests: int = 4000, rounds: int = 5) -> None:
    import asyncio

    from opentelemetry.sdk.trace import TracerProvider
    from pydantic_ai.messages import ModelRequest, UserPromptPart
    from pydantic_ai.models import ModelRequestParameters

    from agentrun.runtime.offline import offline_model
    from agentrun.services.metrics import Metrics
    from agentrun.services.telemetry import ObservedModel, Tracing

    bare = offline_model()
    on = Tracing()
    on.enable(TracerProvider())
    models = {
        "bare model": bare,
        "ObservedModel, tracing off": ObservedModel(bare, Metrics(), "a", "test"),
        "ObservedModel, tracing on": ObservedModel(bare, Metrics(), "a", "test", on),
    }
    messages = [ModelRequest(parts=[UserPromptPart("hello")])]
    params = ModelRequestParameters()
    spent = dict.fromkeys(models, 0.0)

    async def drive(model: object) -> None:
        for _ in range(requests):
            await model.request(messages, None, params)  # type: ignore[attr-defined]

    for _ in range(rounds):
        for name, model in models.items():
            t = time.process_time()
            asyncio.run(drive(model))
            spent[name] += time.process_time() - t
    n = requests * rounds
    base = spent["bare model"] / n
    print(f"hooks alone, in-process: {n} model requests each, interleaved")
    for name, total in spent.items():
        per = total / n
        print(f"  {name:<28} {per * 1e6:8.1f} µs CPU per request  (+{(per - base) * 1e6:6.1f} µs)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=300, help="runs per server")
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--durability", default="steps", choices=["steps", "exit"])
    parser.add_argument("--no-hooks", action="store_true", help="skip the in-process measurement")
    args = parser.parse_args()
    if not args.no_hooks:
        hooks_alone()

    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    sink_url = f"http://127.0.0.1:{sink.server_address[1]}"
    root = Path(tempfile.mkdtemp(prefix="agentrun-bench-obs-"))
    configs = {
        "off": {},
        "off, again": {},  # a second identical server: the noise floor of the comparison
        "on, no exporter": {"AGENTRUN_OBSERVABILITY__TRACING": "true", "OTEL_TRACES_EXPORTER": "none"},
        "on, OTLP sink": {
            "OTEL_EXPORTER_OTLP_ENDPOINT": sink_url,
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        },
    }
    servers = [Server(name, env, root) for name, env in configs.items()]
    try:
        for server in servers:
            server.wait_ready()
        agent = {
            "slug": "obs",
            "model": "test:tools",
            "tools": [{"kind": "builtin", "name": "calculator"}],
            "publish": True,
        }
        clients = {s.name: httpx.Client(base_url=s.url, timeout=60) for s in servers}
        for server in servers:
            clients[server.name].put("/v1/agents/obs", json=agent).raise_for_status()
            for _ in range(10):  # warm-up: imports, agent build, provider caches
                clients[server.name].post(
                    "/v1/runs", json={"agent": "obs", "prompt": "1+1"}
                ).raise_for_status()
        body = {"agent": "obs", "prompt": "2*21", "durability": args.durability}
        while any(s.runs < args.runs for s in servers):
            for server in servers:
                n = min(args.batch, args.runs - server.runs)
                if n <= 0:
                    continue
                before = cpu_seconds(server.proc.pid)
                for _ in range(n):
                    run = clients[server.name].post("/v1/runs", json=body).json()
                    assert run["status"] == "completed", run
                time.sleep(0.3)  # let the batch span processor export this batch's spans
                server.cpu += cpu_seconds(server.proc.pid) - before
                server.runs += n
        print(
            f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs; "
            f"{args.runs} sync runs per server (durability={args.durability}), batches of {args.batch}, interleaved"
        )
        print(f"OTLP sink received {Sink.received} export requests")
        base = servers[0].cpu / servers[0].runs
        print(f"{'tracing':<18} {'server CPU per run':>20} {'vs off':>8}")
        for server in servers:
            per = server.cpu / server.runs
            print(f"{server.name:<18} {per * 1000:>17.2f} ms {per / base - 1:>+8.1%}")
    finally:
        for server in servers:
            server.stop()
        sink.shutdown()


if __name__ == "__main__":
    main()
