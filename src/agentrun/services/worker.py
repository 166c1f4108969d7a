"""The worker: claims queued runs from the store and executes them.

``durability=steps`` runs execute as DBOS workflows (model requests and tool calls are durable
steps; a crashed process resumes them without repeating finished steps). ``durability=exit``
runs execute as plain tasks with the run recorded at start and end only; one interrupted by a
crash is failed at the next start with ``interrupted`` (it is not re-run: its model calls may
have had effects and were not recorded).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.exceptions import UsageLimitExceeded
from pydantic_ai.usage import RunUsage

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.events import EventType, LogLevel
from agentrun.domain.models import AgentDefinition, Durability, Run, RunError, Usage
from agentrun.domain.status import RunStatus
from agentrun.engine.durable import CANCELLED_ERRORS, DurableEngine, workflow_id_for
from agentrun.logs import run_id_var
from agentrun.runtime.agent import (
    DeferredToolRequests,
    RunDeps,
    build_agent,
    check_output,
    deferred_results,
    history_from_json,
    limits_for,
    output_type_for,
    pending_actions,
    run_inputs,
    unwrap_output,
)
from agentrun.runtime.events import MeteredModel, handle_stream
from agentrun.runtime.providers import ResolvedModel, resolve_model
from agentrun.runtime.replay import ReplayModel, ReplaySummary, replaying, summarize
from agentrun.services.bus import RunBus
from agentrun.services.caretaker import Caretaker
from agentrun.services.emitter import RunEmitter, RunFenced
from agentrun.services.metrics import Metrics
from agentrun.services.sandboxes import SandboxService
from agentrun.services.telemetry import ObservedModel, Tracing, observed_tool_call
from agentrun.services.tool_policy import ToolPolicy
from agentrun.settings import Settings
from agentrun.store.runs import NewEvent
from agentrun.store.store import Store
from agentrun.store.workers import HeartbeatWriter

log = logging.getLogger(__name__)

RETENTION_EVERY_S = 600.0


class Worker:
    def __init__(
        self,
        store: Store,
        engine: DurableEngine,
        bus: RunBus,
        settings: Settings,
        executor_id: str,
        metrics: Metrics | None = None,
        tools: ToolPolicy | None = None,
        sandboxes: SandboxService | None = None,
    ) -> None:
        self._store = store
        self._tools = tools if tools is not None else ToolPolicy(settings)
        self._sandboxes = sandboxes if sandboxes is not None else SandboxService(store, settings)
        self._engine = engine
        self._bus = bus
        self._settings = settings
        self.executor_id = executor_id
        self._active: dict[str, asyncio.Task[Any]] = {}
        self._starting = 0
        self._stopping: dict[str, str] = {}  # run id -> why it is being cancelled
        self._sinks: dict[str, RunEmitter] = {}
        self._workflow_ids: dict[str, str] = {}  # run id -> the workflow (or fork) executing it
        self._agents: dict[tuple[str, int, bool, bool], tuple[Agent[RunDeps, Any], AgentDefinition]] = {}
        self._resolved: dict[str, ResolvedModel] = {}
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._maintenance_task: asyncio.Task[None] | None = None
        self._heartbeat_stop = threading.Event()
        self._closing = False
        self._metrics = metrics or Metrics()
        self.tracing = Tracing()  # the container's when tracing is on (services/telemetry.py)
        self._last_retention = 0.0
        self._last_cancel_check = 0.0
        self.caretaker = Caretaker(
            store, engine, bus, settings, executor_id, self._finish_error, self._sandboxes
        )

    # --- lifecycle ------------------------------------------------------------------------

    def register(self) -> None:
        """Declare the durable run workflow; call before the engine launches."""
        self._engine.register(self._execute)

    async def start(self) -> None:
        writer = HeartbeatWriter(self._settings.store_url)
        await asyncio.to_thread(self._beat, writer)  # alive before claiming anything
        await self._recover_owned()
        self._loop_task = asyncio.create_task(self._dispatch_loop(), name="agentrun-dispatch")
        self._maintenance_task = asyncio.create_task(self._maintenance_loop(), name="agentrun-maintenance")
        self._heartbeat_stop = threading.Event()
        threading.Thread(
            target=self._heartbeat_thread,
            args=(writer, self._heartbeat_stop),
            name="agentrun-heartbeat",
            daemon=True,
        ).start()

    async def close(self, grace_s: float | None = None) -> None:
        """Stop claiming; let running runs finish for the grace period; leave the rest for recovery.

        Runs still active after the grace period stay owned by this executor: a restart with the
        same executor id resumes them at once, and if it never comes back, live workers take
        them over after ``dead_after_s``. It heartbeats until the grace period ends: silent
        earlier, it would look dead while its runs drain, and another worker would take them
        over and pay for their steps in flight a second time.
        """
        grace_s = self._settings.shutdown_grace_s if grace_s is None else grace_s
        self._closing = True
        for loop_task in (self._loop_task, self._maintenance_task):
            if loop_task is not None:
                loop_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loop_task
        tasks = list(self._active.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2)
        self._heartbeat_stop.set()

    def poke(self) -> None:
        self._wake.set()

    def notice(self, run_id: str) -> None:
        """Another process changed a run: if it executes here, look at it now (cancel requests)."""
        if run_id in self._active:
            self._wake.set()

    @property
    def active_count(self) -> int:
        return len(self._active) + self._starting

    # --- dispatch -------------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        while not self._closing:
            try:
                await self._claim_some()
                await self._watch_cancels()
            except Exception:  # a store hiccup must not kill the dispatcher
                log.exception("dispatch pass failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.dispatch_poll_s):
                    await self._wake.wait()
            self._wake.clear()

    async def _claim_some(self) -> None:
        while not self._closing:
            free = self._settings.worker_concurrency - self.active_count
            if free <= 0:
                return
            candidates = await self._store.runs.claimable(min(free, 200))
            if not candidates:
                return
            claimed_any = False
            for run_id in candidates:
                run = await self._store.runs.claim(
                    run_id,
                    self.executor_id,
                    NewEvent(EventType.run_started, data={"executor": self.executor_id}),
                    label=self._label,
                )
                if run is None:
                    continue
                claimed_any = True
                self._metrics.on_run_started(run)
                self._bus.notify(run_id)
                await self._launch(run)
            if not claimed_any:
                return

    def _resolve(self, model: str) -> ResolvedModel:
        """The model this worker runs for ``model`` (cached: provider clients are costly to build)."""
        resolved = self._resolved.get(model)
        if resolved is None:
            resolved = self._resolved[model] = resolve_model(model, self._settings.providers)
        return resolved

    def _label(self, model: str) -> tuple[str, bool, str | None]:
        """What a run of ``model`` claimed here records: this worker's providers decide."""
        try:
            resolved = self._resolve(model)
        except AgentrunError:  # unknown provider here: the run fails when it starts, saying why
            return model, False, None
        return resolved.name, resolved.offline, resolved.note

    async def _launch(self, run: Run) -> None:
        if run.durability is Durability.steps:
            self._starting += 1
            try:
                await self._engine.start(run.id, workflow_id_for(run.id, run.resumes))
            finally:
                self._starting -= 1
        else:
            asyncio.create_task(self._execute(run.id), name=f"run-{run.id}")

    async def _watch_cancels(self) -> None:
        """Runs marked cancelling by another process (an API node) that execute here.

        At most once per ``dispatch_poll_s`` (a dispatch pass runs on every new run); on
        PostgreSQL the cancel's notification wakes the dispatcher at once anyway.
        """
        if not self._active or time.monotonic() - self._last_cancel_check < self._settings.dispatch_poll_s:
            return
        self._last_cancel_check = time.monotonic()
        for run_id in await self._store.runs.cancelling_owned(self.executor_id):
            if run_id in self._active and run_id not in self._stopping:
                await self.stop_run(run_id)

    async def stop_run(self, run_id: str, reason: str = "cancelled by request") -> None:
        """Stop a run executing here now: mark its workflow cancelled, then interrupt its task."""
        task = self._active.get(run_id)
        if task is None:
            return
        self._stopping[run_id] = reason
        await self._engine.cancel(self._workflow_ids.get(run_id, run_id))
        task.cancel()

    # --- liveness, takeover, reaping --------------------------------------------------------

    def _beat(self, writer: HeartbeatWriter) -> None:
        writer.beat(
            self.executor_id, socket.gethostname(), os.getpid(), self._settings.app_version, self.active_count
        )

    def _heartbeat_thread(self, writer: HeartbeatWriter, stop: threading.Event) -> None:
        # A thread, not a task: a stalled event loop must not look like a dead process.
        try:
            while not stop.wait(self._settings.heartbeat_s):
                try:
                    self._beat(writer)
                except Exception:
                    log.exception("heartbeat failed")
        finally:
            writer.close()

    async def _maintenance_loop(self) -> None:
        while not self._closing:
            await asyncio.sleep(self._settings.heartbeat_s)
            try:
                await self.caretaker.take_over_dead()
                await self.caretaker.reap()
                await self.caretaker.expire_waits()
                if time.monotonic() - self._last_retention > RETENTION_EVERY_S:
                    self._last_retention = time.monotonic()
                    await self.caretaker.apply_retention()
            except Exception:  # keep heartbeating through a store hiccup
                log.exception("maintenance pass failed")

    async def _recover_owned(self) -> None:
        """Runs this executor owned when it last stopped.

        ``steps`` runs: DBOS resumed their workflows at launch; starting the workflow again with
        the same id only re-attaches, and covers a crash between claim and workflow start.
        ``exit`` runs cannot be resumed: they fail with ``interrupted``.
        """
        for run in await self._store.runs.owned_active(self.executor_id):
            if run.durability is Durability.steps:
                # DBOS launch already resumed the pending ones
                await self._engine.ensure_running(run.id, workflow_id_for(run.id, run.resumes))
            else:
                await self._finish_error(
                    run.id,
                    RunStatus.failed,
                    "interrupted",
                    "The server stopped while this run executed with durability=exit, which records only "
                    "start and end; it was not resumed. Use durability=steps for runs that must survive.",
                )

    # --- execution ------------------------------------------------------------------------

    async def _execute(self, run_id: str) -> None:
        """The body of one run (the DBOS workflow for ``steps``, a plain task for ``exit``)."""
        task = asyncio.current_task()
        assert task is not None
        run_log = run_id_var.set(run_id)  # on every log line of this run (agentrun/logs.py)
        stale = self._active.get(run_id)
        if stale is not None and stale is not task:
            # A second execution of a run this process already executes (its worker was wrongly
            # declared dead and the workflow re-enqueued here): one at a time. The stale one
            # stops at its next fenced write; then this one adopts the run and continues.
            await asyncio.wait([stale])
        self._active[run_id] = task
        workflow_id = self._engine.current_workflow_id()
        if workflow_id is not None:
            self._workflow_ids[run_id] = workflow_id
        try:
            async with self.tracing.run_span(self._store, run_id):
                await self._run(run_id)
        except asyncio.CancelledError:
            reason = self._stopping.get(run_id)
            if reason is None:
                raise  # shutdown: leave the run active so it is recovered
            await self._finish_error(run_id, RunStatus.cancelled, "cancelled", reason)
        except CANCELLED_ERRORS:
            reason = self._stopping.get(run_id)
            if reason is None:
                # Not our cancel: this execution lost the workflow to another one (a takeover);
                # that one owns the run now, so write nothing.
                log.warning("run %s: this execution no longer owns its workflow; stopping it", run_id)
                return
            await self._finish_error(run_id, RunStatus.cancelled, "cancelled", reason)
        except RunFenced:
            log.warning("run %s is no longer ours to write; stopped", run_id)
        except Exception as exc:  # a bug or a store failure outside the agent: fail the run, loudly
            log.exception("run %s crashed", run_id)
            await self._finish_error(run_id, RunStatus.failed, "internal", f"{type(exc).__name__}: {exc}")
        finally:
            if self._active.get(run_id) is task:
                self._active.pop(run_id, None)
                self._stopping.pop(run_id, None)
                self._sinks.pop(run_id, None)
                self._workflow_ids.pop(run_id, None)
            self._wake.set()
            run_id_var.reset(run_log)

    async def _run(self, run_id: str) -> None:
        run = await self._store.runs.get(run_id)
        if run.status.terminal:
            return
        # A workflow recovered by DBOS may be executed by any live process (its recovery goes
        # through a queue); executing it makes this process the run's owner.
        in_workflow = run.durability is Durability.steps and self._engine.in_workflow()
        if run.executor_id != self.executor_id and not await self._store.runs.adopt(
            run_id, self.executor_id, from_anyone=in_workflow
        ):
            return  # another live executor owns it: never write to a run we do not own
        if run.status is RunStatus.cancelling:
            await self._finish_error(run_id, RunStatus.cancelled, "cancelled", "cancelled before it started")
            return

        durable = run.durability is Durability.steps and self._engine.in_workflow()
        try:
            agent, definition = await self._agent_for(run, durable)
            sandbox = self._sandboxes.session(run.sandbox_id, definition.sandbox) if run.sandbox_id else None
        except AgentrunError as exc:  # tool_not_allowed since a setting changed; no bubblewrap here
            code = "sandbox_unavailable" if exc.code is ErrorCode.unavailable else exc.code.value
            await self._finish_error(run_id, RunStatus.failed, code, exc.message)
            return
        sink = RunEmitter(self._store.runs, self._bus, run_id, self.executor_id)
        self._sinks[run_id] = sink
        sink.repeated = await self._store.runs.requests_repeated(run_id)  # by earlier executions
        prompt, message_history, prior, deferred = await self._inputs(run)
        limits, model_settings = limits_for(run.config)
        if limits.request_limit is None:
            limits.request_limit = self._settings.limits.default_max_turns
        timeout_s = run.config.timeout_s or self._settings.limits.default_timeout_s
        deps = RunDeps(run_id=run_id, sink=sink, output_schema=run.output_schema, sandbox=sandbox)
        spent = _usage_at_start(run, sink.repeated)  # the agent adds to it: readable if a limit stops it
        try:
            steps = [step.model_dump() for step in run.cached_workflow.steps] if run.cached_workflow else None
            async with asyncio.timeout(timeout_s):
                with replaying(steps):
                    result = await agent.run(
                        prompt,
                        message_history=message_history or None,
                        deferred_tool_results=deferred,
                        deps=deps,
                        output_type=_output_type(run, definition),
                        usage_limits=limits,
                        usage=spent,
                        model_settings=model_settings or None,
                        # Durable agents stream through their capability, inside the model step.
                        event_stream_handler=None if durable else handle_stream,
                    )
        except TimeoutError:
            await sink.flush()
            await self._finish_error(
                run_id, RunStatus.timed_out, "timeout", f"The run exceeded timeout_s={timeout_s}."
            )
            return
        except UsageLimitExceeded as exc:
            # The run's usage so far (the request that crossed max_total_tokens included) is kept.
            await sink.flush()
            sink.usage = Usage(
                input_tokens=spent.input_tokens or 0,
                output_tokens=spent.output_tokens or 0,
                requests=spent.requests + sink.repeated,
                tool_calls=spent.tool_calls,
            )
            await self._finish_error(run_id, RunStatus.failed, "limit_exceeded", str(exc))
            return
        except (asyncio.CancelledError, RunFenced, *CANCELLED_ERRORS):
            raise
        except Exception as exc:  # the agent failed: record why, never crash the worker
            log.info("run %s failed: %s", run_id, exc)
            await self._finish_error(run_id, RunStatus.failed, "run_error", f"{type(exc).__name__}: {exc}")
            return
        await sink.flush()
        if isinstance(result.output, DeferredToolRequests):
            await self._pause(run, definition, result, prior, sink)
            return
        usage = result.usage
        output = unwrap_output(run.output_schema, result.output)
        problem = check_output(run.output_schema, output)
        if problem is not None:
            await self._finish_error(run_id, RunStatus.failed, "output_invalid", problem)
            return
        total = Usage(
            input_tokens=usage.input_tokens or 0,
            output_tokens=usage.output_tokens or 0,
            requests=usage.requests + sink.repeated,
            tool_calls=usage.tool_calls,
        )
        before = [] if sink.usage == total else [NewEvent(EventType.usage, data=total.model_dump())]
        total = self._metrics.priced(run.model, total)  # cost at observability.prices, if any
        if run.cached_workflow is not None:
            summary = summarize(len(run.cached_workflow.steps), result.new_messages())
            before.insert(0, _replay_event(summary))
        done = await self._store.runs.finish(
            run_id,
            RunStatus.completed,
            NewEvent(
                EventType.run_completed,
                data={
                    "result_type": "text" if isinstance(output, str) else "json",
                    "usage": total.model_dump(),
                },
            ),
            executor_id=self.executor_id,
            result=output,
            result_type="text" if isinstance(output, str) else "json",
            usage=total,
            iterations=usage.requests,
            new_messages=prior + _jsonable(result.new_messages_json()),
            before=before,
        )
        if done is not None:
            self._observe(done)
            self._bus.notify(run_id)

    async def _inputs(self, run: Run) -> tuple[str | None, list[Any], list[Any], Any]:
        """(prompt, message history, messages of earlier executions, answers) of this execution.

        A run resumed after a wait continues from its recorded messages with the answers given:
        no finished model request or tool call runs again (docs/decisions/0010).
        """
        history: list[Any] = []
        if run.thread_id:
            history = history_from_json(
                await self._store.runs.thread_history(run.project_id, run.thread_id, run.id)
            )
        inputs = run_inputs(run.prompt, run.input, run.messages, history)
        if not run.resumes:
            return inputs.prompt, inputs.history, [], None
        prior = list(await self._store.runs.messages_so_far(run.id) or [])
        return None, inputs.history + history_from_json([prior]), prior, deferred_results(run.pending_actions)

    async def _pause(
        self, run: Run, definition: AgentDefinition, result: Any, prior: list[Any], sink: RunEmitter
    ) -> None:
        """The model called tools that need a person: record what the run waits for and end here.

        The execution (and its DBOS workflow) finishes; the run holds no task, worker slot or
        connection while it waits. Answered, it is queued again and any worker resumes it.
        """
        pending = pending_actions(result.output)
        usage = result.usage
        total = Usage(
            input_tokens=usage.input_tokens or 0,
            output_tokens=usage.output_tokens or 0,
            requests=usage.requests + sink.repeated,
            tool_calls=usage.tool_calls,
        )
        before = [] if sink.usage == total else [NewEvent(EventType.usage, data=total.model_dump())]
        wait_s = definition.human.timeout_s or self._settings.limits.action_timeout_s
        deadline = datetime.now(UTC) + timedelta(seconds=wait_s)
        waits_for = ", ".join(f"{p.tool} ({p.kind})" for p in pending)
        event = NewEvent(
            EventType.run_requires_action,
            content=f"waiting for a person: {waits_for}",
            data={
                "pending_actions": [p.model_dump(mode="json") for p in pending],
                "deadline": deadline.isoformat(),
            },
        )
        done = await self._store.runs.pause(
            run.id,
            self.executor_id,
            pending,
            deadline,
            event,
            new_messages=prior + _jsonable(result.new_messages_json()),
            usage=total,
            iterations=usage.requests,
            before=before,
        )
        if done is not None:
            self._bus.notify(run.id)
            return
        current = await self._store.runs.get(run.id)
        if current.status is RunStatus.cancelling and current.executor_id == self.executor_id:
            reason = self._stopping.get(run.id, "cancelled by request")
            await self._finish_error(run.id, RunStatus.cancelled, "cancelled", reason)

    def _observe(self, run: Run) -> None:
        self._metrics.on_run_finished(run)

    async def _agent_for(self, run: Run, durable: bool) -> tuple[Agent[RunDeps, Any], AgentDefinition]:
        """The built agent of the run's revision (revisions are immutable: built once per process)."""
        sandboxed = run.sandbox_id is not None
        key = (run.agent_id, run.revision, durable, sandboxed)
        cached = self._agents.get(key)
        if cached is None:
            definition = await self._store.agents.definition(run.agent_id, run.revision)
            resolved = self._resolve(definition.model)
            name = f"{run.agent_id}-r{run.revision}"
            capabilities = [self._engine.durability(name, handle_stream)] if durable else []
            agent = build_agent(
                definition,
                MeteredModel(
                    ReplayModel(
                        ObservedModel(
                            resolved.model, self._metrics, run.agent_slug, resolved.name, self.tracing
                        )
                    )
                ),
                name=name,
                toolsets=self._toolsets(definition, sandboxed),
                capabilities=capabilities,
            )
            cached = self._agents[key] = (agent, definition)
        self._tools.check_trust(cached[1])  # every run: settings may have changed since it was stored
        return cached

    def _toolsets(self, definition: Any, sandboxed: bool) -> list[Any]:
        if not definition.tools and not sandboxed:
            return []
        from agentrun.runtime.tools import build_toolsets, sandbox_toolset, wrap_function_toolsets

        toolsets = build_toolsets(definition.tools, self._settings.tools, self._tools.registry)
        if sandboxed:
            toolsets.append(
                sandbox_toolset(definition.sandbox.requires_approval if definition.sandbox else False)
            )
        return wrap_function_toolsets(toolsets, self._timed_tool_call)

    async def _timed_tool_call(self, name: str, call: Any) -> Any:
        return await observed_tool_call(
            self._metrics, name, lambda: self._engine.call_tool(name, call), self.tracing
        )

    async def _finish_error(self, run_id: str, status: RunStatus, code: str, message: str) -> None:
        event_type = {
            RunStatus.failed: EventType.run_failed,
            RunStatus.cancelled: EventType.run_cancelled,
            RunStatus.timed_out: EventType.run_timed_out,
        }[status]
        error = RunError(code=code, message=message)
        sink = self._sinks.get(run_id)
        # Every request the run made, also one a cancel or timeout interrupted mid-stream.
        usage = sink.usage_so_far() if sink is not None else None
        before: list[NewEvent] = []
        if sink is not None and usage is not None and usage != sink.usage:
            before.append(NewEvent(EventType.usage, data=usage.model_dump()))
        if usage is not None and self._metrics.prices:  # a stopped run's tokens cost too
            usage = self._metrics.priced((await self._store.runs.get(run_id)).model, usage)
        done = await self._store.runs.finish(
            run_id,
            status,
            NewEvent(
                event_type,
                content=message,
                data={"error": error.model_dump()},
                level=LogLevel.info if status is RunStatus.cancelled else LogLevel.error,
            ),
            executor_id=self.executor_id,
            error=error,
            usage=usage,
            iterations=usage.requests if usage is not None else None,
            before=before,
        )
        if done is not None:
            self._observe(done)
            self._bus.notify(run_id)


def _usage_at_start(run: Run, repeated: int) -> RunUsage:
    """A resumed run starts from its usage so far: max_turns and max_total_tokens count the whole run."""
    if not run.resumes:
        return RunUsage()
    return RunUsage(
        input_tokens=run.usage.input_tokens,
        output_tokens=run.usage.output_tokens,
        requests=max(0, run.usage.requests - repeated),  # pydantic-ai's count, without requests sent again
        tool_calls=run.usage.tool_calls,
    )


def _output_type(run: Run, definition: AgentDefinition) -> Any:
    """The run's output type; with ``DeferredToolRequests`` when its tools may stop for a person."""
    from agentrun.runtime.tools import defers

    base = output_type_for(run.output_schema) if run.output_schema else None
    if not defers(definition.tools, definition.sandbox.requires_approval if definition.sandbox else False):
        return base
    return [base or str, DeferredToolRequests]


def _replay_event(summary: ReplaySummary) -> NewEvent:
    if summary.final_from_cache:
        text = f"cached workflow: replayed all {summary.steps} step(s) and the answer; no model call"
    else:
        text = (
            f"cached workflow: replayed {summary.replayed} of {summary.steps} step(s); "
            f"the model took over at step {summary.model_from_step}"
        )
    return NewEvent(EventType.log, content=text, data={"cached_workflow": dataclasses.asdict(summary)})


def _jsonable(raw: bytes) -> Any:
    import json

    return json.loads(raw)
