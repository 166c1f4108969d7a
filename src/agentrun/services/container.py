"""Build every service of one process from settings (called by entry points only)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.models import AgentCreate
from agentrun.engine.durable import DurableEngine
from agentrun.logs import adopt_library_loggers
from agentrun.services.agents import AgentService
from agentrun.services.bus import RunBus
from agentrun.services.keys import DEFAULT_PROJECT, KeyService
from agentrun.services.metrics import Metrics
from agentrun.services.runs import RunService
from agentrun.services.sandboxes import SandboxService
from agentrun.services.telemetry import Tracing, build_tracing
from agentrun.services.threads import ThreadService
from agentrun.services.tool_policy import ToolPolicy
from agentrun.services.webhooks import WebhookService
from agentrun.services.worker import Worker
from agentrun.settings import Settings
from agentrun.store.notify import PgListener, plain_dsn
from agentrun.store.store import Store

log = logging.getLogger(__name__)

DEMO_AGENT = AgentCreate(
    slug="demo",
    name="Demo agent",
    description="Registered at first start so a new server has something to run.",
    model="test",
    instructions="You are a helpful assistant. Answer briefly.",
    tools=[{"kind": "builtin", "name": "current_time"}, {"kind": "builtin", "name": "calculator"}],  # type: ignore[list-item]
)


@dataclass
class Services:
    settings: Settings
    store: Store
    bus: RunBus
    agents: AgentService
    runs: RunService
    threads: ThreadService
    keys: KeyService
    sandboxes: SandboxService
    worker: Worker | None
    engine: DurableEngine | None
    listener: PgListener | None = None
    metrics: Metrics = field(default_factory=Metrics)
    webhooks: WebhookService | None = None  # set by open_services
    tracing: Tracing = field(default_factory=Tracing)

    async def close(self) -> None:
        if self.listener is not None:
            await self.listener.close()
        if self.webhooks is not None:
            await self.webhooks.close()  # stops claiming; DBOS resumes deliveries on restart
        if self.worker is not None:
            await self.worker.close()
        if self.engine is not None:
            self.engine.destroy()
        await self.store.close()
        self.tracing.close()


async def open_services(settings: Settings) -> Services:
    settings.ensure_data_dir()
    store = await Store.open(settings.store_url)
    await store.agents.ensure_project(DEFAULT_PROJECT, "Default project")
    bus = RunBus()
    tools = ToolPolicy(settings)
    sandboxes = SandboxService(store, settings)
    agents = AgentService(store, tools)
    runs = RunService(store, agents, bus, settings, sandboxes)
    threads = ThreadService(store, agents)
    keys = KeyService(store, settings)
    webhooks = WebhookService(store, settings)
    worker = engine = None
    metrics = Metrics(settings.observability.prices)
    tracing = build_tracing(settings)  # off unless asked: every hook then tests one None
    runs.tracing = tracing
    webhooks.metrics = metrics
    if settings.run_worker:
        executor_id = settings.resolved_executor_id()
        engine = DurableEngine(
            system_database_url=settings.dbos_url, executor_id=executor_id, app_version=settings.app_version
        )
        worker = Worker(store, engine, bus, settings, executor_id, metrics, tools, sandboxes)
        worker.tracing = tracing
        metrics.watch_worker(executor_id, lambda: worker.active_count if worker is not None else 0)
        worker.register()
        webhooks.register(engine, executor_id)  # delivery workflows, declared before launch
        engine.launch()
        adopt_library_loggers()  # DBOS installed its own console handler: ours formats its lines
        await worker.start()
        await webhooks.start()
        store.runs.on_deliveries = webhooks.poke  # send a finished run's webhooks now, not at the next poll
        runs.dispatcher = worker
    services = Services(
        settings, store, bus, agents, runs, threads, keys, sandboxes, worker, engine, metrics=metrics
    )
    services.webhooks = webhooks
    services.tracing = tracing
    if store.dialect == "postgresql":

        def on_run(payload: str) -> None:
            run_id, _, kind = payload.partition("|")
            status_changed = kind != "e"
            bus.notify(run_id, status=status_changed)
            if worker is not None and status_changed:
                worker.notice(run_id)  # e.g. a cancel requested on another node

        services.listener = PgListener(plain_dsn(settings.store_url), on_run, runs.dispatcher.poke)
        await services.listener.start()
    created = await keys.bootstrap()
    if created is not None:
        # Shown once: only its hash is stored.
        print(
            f"agentrun: created admin API key for project 'default' (shown once): {created.key}", flush=True
        )
    if settings.demo_agent:
        await _ensure_demo_agent(agents)
    return services


async def _ensure_demo_agent(agents: AgentService) -> None:
    try:
        await agents.get(DEFAULT_PROJECT, DEMO_AGENT.slug)
    except AgentrunError as exc:
        if exc.code is not ErrorCode.agent_not_found:
            raise
        try:
            await agents.create(DEFAULT_PROJECT, DEMO_AGENT)
        except AgentrunError as race:
            if race.code is not ErrorCode.slug_taken:
                raise
