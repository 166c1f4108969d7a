"""Prometheus metrics of one process (``prometheus_client``), scraped per process.

Every process keeps its own counters and histograms in its own registry: an API node serves them
at ``/metrics``, a worker-only process on ``observability.metrics_port``; Prometheus sums the
targets (``sum by (agent) (rate(agentrun_runs_finished_total[5m]))``). The cluster-wide gauges
(runs by status, queue depth, live workers) are read from the store at scrape time, so every node
reports the same value: aggregate them with ``max``. See docs/observability.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

if TYPE_CHECKING:
    from agentrun.domain.models import Run, Usage
    from agentrun.settings import ModelPrice

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def cost_usd(
    prices: Mapping[str, ModelPrice], model: str, input_tokens: int, output_tokens: int
) -> float | None:
    """The price of tokens of ``model`` (USD per million tokens in settings), or None if unpriced."""
    price = prices.get(model)
    if price is None:
        return None
    return (input_tokens * price.input + output_tokens * price.output) / 1_000_000


class Metrics:
    """The process's collectors; services call the ``on_*`` hooks, the scrape renders them."""

    def __init__(self, prices: Mapping[str, ModelPrice] | None = None) -> None:
        self.prices = dict(prices or {})
        disable_created_metrics()  # no `_created` series beside every counter: half the scrape
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.runs_started = Counter(
            "agentrun_runs_started",
            "Runs a worker of this process claimed.",
            ["project", "agent"],
            registry=r,
        )
        self.runs_finished = Counter(
            "agentrun_runs_finished",
            "Runs this process finished, by terminal status.",
            ["project", "agent", "status"],
            registry=r,
        )
        self.run_duration = Histogram(
            "agentrun_run_duration_seconds",
            "From start to terminal status, per run.",
            ["agent"],
            buckets=DEFAULT_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "agentrun_run_queue_wait_seconds",
            "From creation to start, per run.",
            buckets=DEFAULT_BUCKETS,
            registry=r,
        )
        self.model_requests = Counter(
            "agentrun_model_requests",
            "Model requests sent to a provider (replayed steps not counted).",
            ["agent", "model", "outcome"],
            registry=r,
        )
        self.model_latency = Histogram(
            "agentrun_model_request_duration_seconds",
            "One model request, first byte sent to last byte streamed.",
            ["agent", "model"],
            buckets=DEFAULT_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "agentrun_tokens",
            "Tokens by agent, model and direction.",
            ["agent", "model", "direction"],
            registry=r,
        )
        self.cost = Counter(
            "agentrun_cost_usd",
            "Cost of tokens at observability.prices, USD.",
            ["agent", "model"],
            registry=r,
        )
        self.tool_calls = Counter(
            "agentrun_tool_calls", "Tool calls executed.", ["tool", "outcome"], registry=r
        )
        self.tool_latency = Histogram(
            "agentrun_tool_call_duration_seconds",
            "One tool call.",
            ["tool"],
            buckets=DEFAULT_BUCKETS,
            registry=r,
        )
        self.http_requests = Counter(
            "agentrun_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "agentrun_http_request_duration_seconds",
            "HTTP request to the end of its answer (streams: until they end).",
            ["method", "route"],
            buckets=DEFAULT_BUCKETS,
            registry=r,
        )
        self.webhook_attempts = Counter(
            "agentrun_webhook_delivery_attempts",
            "Webhook delivery attempts, by outcome (delivered, retry, failed, gone).",
            ["outcome"],
            registry=r,
        )
        self.worker_active = Gauge(
            "agentrun_worker_active_runs", "Runs executing in this process.", ["executor"], registry=r
        )
        # Cluster-wide, read from the store at scrape time (see module doc).
        self.runs_by_status = Gauge("agentrun_runs", "Runs in the store by status.", ["status"], registry=r)
        self.queue_depth = Gauge("agentrun_queue_depth", "Queued runs in the store.", registry=r)
        self.workers_alive = Gauge("agentrun_workers_alive", "Workers that heartbeated recently.", registry=r)

    # --- hooks ---------------------------------------------------------------------------

    def watch_worker(self, executor_id: str, active: Callable[[], float]) -> None:
        self.worker_active.labels(executor_id).set_function(active)

    def on_run_started(self, run: Run) -> None:
        self.runs_started.labels(run.project_id, run.agent_slug).inc()
        if run.started_at is not None:
            self.queue_wait.observe(max(0.0, (run.started_at - run.created_at).total_seconds()))

    def on_run_finished(self, run: Run) -> None:
        self.runs_finished.labels(run.project_id, run.agent_slug, run.status.value).inc()
        if run.started_at and run.finished_at:
            self.run_duration.labels(run.agent_slug).observe(
                (run.finished_at - run.started_at).total_seconds()
            )

    def on_model_request(
        self, agent: str, model: str, seconds: float, input_tokens: int, output_tokens: int, ok: bool
    ) -> float | None:
        """One model request ended; returns its cost (None when the model has no price)."""
        self.model_requests.labels(agent, model, "ok" if ok else "error").inc()
        self.model_latency.labels(agent, model).observe(seconds)
        if input_tokens:
            self.tokens.labels(agent, model, "input").inc(input_tokens)
        if output_tokens:
            self.tokens.labels(agent, model, "output").inc(output_tokens)
        cost = cost_usd(self.prices, model, input_tokens, output_tokens)
        if cost:
            self.cost.labels(agent, model).inc(cost)
        return cost

    def priced(self, model: str, usage: Usage) -> Usage:
        """``usage`` with its ``cost_usd`` at the configured price of ``model`` (unchanged if unpriced)."""
        cost = cost_usd(self.prices, model, usage.input_tokens, usage.output_tokens)
        return usage if cost is None else usage.model_copy(update={"cost_usd": round(cost, 8)})

    def on_tool_call(self, tool: str, seconds: float, ok: bool) -> None:
        self.tool_calls.labels(tool, "ok" if ok else "error").inc()
        self.tool_latency.labels(tool).observe(seconds)

    def on_http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_latency.labels(method, route).observe(seconds)

    def on_webhook_attempt(self, outcome: str) -> None:
        self.webhook_attempts.labels(outcome).inc()

    # --- scrape --------------------------------------------------------------------------

    def set_store_gauges(self, counts: Mapping[str, int], statuses: list[str], alive: int) -> None:
        for status in statuses:
            self.runs_by_status.labels(status).set(counts.get(status, 0))
        self.queue_depth.set(counts.get("queued", 0))
        self.workers_alive.set(alive)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def serve(self, host: str, port: int) -> Callable[[], None]:
        """Serve this registry at ``http://host:port/metrics`` from a thread (for processes
        without the HTTP API: ``agentrun worker``, ``agentrun mcp``); returns its stop."""
        from prometheus_client import start_http_server

        server, thread = start_http_server(port, host, registry=self.registry)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(5)

        return stop
