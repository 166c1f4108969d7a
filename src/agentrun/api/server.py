"""Process entry points: the API server (embedded: with workers) and a worker-only process."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any

from agentrun.logs import configure as configure_logs
from agentrun.settings import Settings


def _configure_logging(settings: Settings) -> None:
    configure_logs(settings.log_level, settings.observability.log_format)


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop: uvicorn's ``loop="uvloop"`` applies only to ``Server.run()``, not to
    ``serve()`` inside our own loop."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def run_server(settings: Settings) -> None:
    """Serve the API (and execute runs in-process unless ``run_worker`` is off). Blocks."""
    import uvicorn

    from agentrun.api.app import create_app
    from agentrun.api.http_protocol import LimitedHttpToolsProtocol

    _configure_logging(settings)
    app = create_app(settings)
    limits = settings.limits
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        log_config=None,  # uvicorn's records go through ours (agentrun/logs.py)
        access_log=False,  # ours: observability.access_log, with the request id and route
        loop="uvloop",
        # httptools plus a request-head size limit and a header-read timeout, which neither of
        # uvicorn's protocols has as such (see api/http_protocol.py for the evidence).
        http=LimitedHttpToolsProtocol.configured(limits.max_header_bytes, limits.header_timeout_s),
        timeout_keep_alive=limits.keep_alive_timeout_s,  # type: ignore[arg-type]  # a float works
        limit_concurrency=limits.max_connections,  # uvicorn answers 503 beyond it
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    url = f"http://{settings.host}:{settings.port}"

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.05)
        mode = "embedded (API + workers)" if settings.run_worker else "API only"
        print(f"agentrun {mode} listening on {url}", flush=True)
        print(f"  API docs: {url}/docs   data: {settings.data_dir.resolve()}", flush=True)

    async def main() -> None:
        announcer = asyncio.create_task(announce())
        await server.serve()
        announcer.cancel()

    _run(main())


def run_worker(settings: Settings) -> None:
    """Execute runs without serving HTTP (distributed mode). Blocks until SIGTERM/SIGINT."""
    from agentrun.services.container import open_services

    _configure_logging(settings)

    async def main() -> None:
        services = await open_services(settings.model_copy(update={"run_worker": True, "demo_agent": False}))
        port = settings.observability.metrics_port
        if port is not None:  # no HTTP API here: the process's own metrics on their own port
            services.metrics.serve(settings.observability.metrics_host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"agentrun worker {settings.resolved_executor_id()} running", flush=True)
        await stop.wait()
        await services.close()

    _run(main())


if __name__ == "__main__":
    # `python -m agentrun.api.server`: the embedded server from environment settings alone
    # (used by tests and process supervisors that do not want the CLI).
    run_server(Settings())
