"""Run agentrun as a real subprocess (uvicorn) for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    """One agentrun server process; ``restart`` keeps its data dir (and executor id)."""

    data_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTRUN_")}
        env.update(
            {
                "AGENTRUN_DATA_DIR": str(self.data_dir),
                "AGENTRUN_PORT": str(self.port),
                "AGENTRUN_URL": self.url,
                "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
                **self.extra_env,
            }
        )
        return env

    command: tuple[str, ...] = ("-m", "agentrun.api.server")
    ready_line: str | None = None  # set for processes without HTTP (workers)

    def start(self, timeout: float = 120) -> LiveServer:
        return self.spawn().wait_ready(timeout)

    def spawn(self) -> LiveServer:
        """Start the process without waiting (start several, then ``wait_ready`` each)."""
        self.log_path = self.data_dir.parent / f"server-{self.port}-{int(time.time() * 1000)}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - kept open for the process lifetime
        self.proc = subprocess.Popen(
            [sys.executable, *self.command],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        return self

    def wait_ready(self, timeout: float = 120) -> LiveServer:
        assert self.proc is not None, "spawn() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            if self.ready_line is not None:
                if self.ready_line in self.log():
                    return self
            else:
                try:
                    if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        self.kill()  # never leak a process the caller cannot stop
        raise RuntimeError(f"server not ready in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self) -> None:
        """SIGTERM without waiting (stop several at once, then ``stop`` each)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


WORKER_COMMAND = (
    "-c",
    "from agentrun.api.server import run_worker; from agentrun.settings import Settings; run_worker(Settings())",
)


def live_worker(data_dir: Path, executor_id: str, extra_env: dict[str, str]) -> LiveServer:
    """A worker-only process (no HTTP), ready once it says it is running."""
    return LiveServer(
        data_dir,
        extra_env={**extra_env, "AGENTRUN_EXECUTOR_ID": executor_id},
        command=WORKER_COMMAND,
        ready_line=f"agentrun worker {executor_id} running",
    )
