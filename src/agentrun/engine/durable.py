"""The only module that talks to DBOS: durable workflows and steps for runs.

agentrun's own runs table is the queue (see docs/decisions/0001-runs-table-is-the-queue.md);
DBOS gives each claimed run with ``durability=steps`` a workflow whose model requests and tool
calls are checkpointed steps, and resumes those workflows after a crash without repeating
finished steps.

Facts this module relies on (measured on DBOS 3.4):
- one DBOS instance per process, with a stable, distinct ``executor_id`` (otherwise a second
  process "recovers" the first one's live workflows and pays for model calls twice);
- ``application_version`` pinned, so a new build picks up workflows an old one started;
- DBOS must be launched from inside the running event loop, so the workflows it recovers run on
  that loop (where our database engine lives) instead of its private background loop;
- inside the loop only the ``*_async`` APIs may be used.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dbos import DBOS, DBOSConfig, SetWorkflowID
from dbos._error import (
    DBOSAwaitedWorkflowCancelledError,
    DBOSWorkflowCancelledError,
    DBOSWorkflowConflictIDError,
)
from pydantic_ai.durable_exec.dbos import DBOSDurability

log = logging.getLogger(__name__)

WORKFLOW_NAME = "agentrun.run"
TOOL_STEP_NAME = "agentrun.tool_call"

# A run's workflow id is the run id; forks (see ensure_running) are "<run id>.fork-<n>". A run
# that waited for a person resumes as a new workflow "<run id>.resume-<n>" (docs/decisions/0010).
FORK_SEP = ".fork-"
RESUME_SEP = ".resume-"


def workflow_id_for(run_id: str, resumes: int) -> str:
    """The workflow of a run's execution after its ``resumes``-th wait (0: the first one)."""
    return run_id if resumes == 0 else f"{run_id}{RESUME_SEP}{resumes}"


_UNFINISHED = frozenset({"PENDING", "ENQUEUED", "DELAYED"})

# Errors DBOS raises inside a workflow that was cancelled from outside.
CANCELLED_ERRORS: tuple[type[BaseException], ...] = (DBOSWorkflowCancelledError, DBOSWorkflowConflictIDError)


class _QuietCancels(logging.Filter):
    """Drop DBOS's ERROR traceback for a workflow that ended because it was cancelled.

    A cancelled run's workflow finishes with DBOS's own cancellation error, which DBOS logs as
    "Exception encountered in ... workflow" with a full traceback: every cancel looked like a
    crash. Only records carrying a cancellation error are dropped; any other exception is kept.
    """

    CANCELLATIONS = (DBOSAwaitedWorkflowCancelledError, DBOSWorkflowCancelledError)

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, self.CANCELLATIONS)


def _quiet_dbos_cancels() -> None:
    dbos_logger = logging.getLogger("dbos")
    if not any(isinstance(f, _QuietCancels) for f in dbos_logger.filters):
        dbos_logger.addFilter(_QuietCancels())


class DurableEngine:
    def __init__(
        self, *, system_database_url: str, executor_id: str, app_version: str, app_name: str = "agentrun"
    ):
        self._config: DBOSConfig = {
            "name": app_name,
            "system_database_url": system_database_url,
            "executor_id": executor_id,
            "application_version": app_version,
            # DBOS logs a multi-kilobyte state dump as a WARNING on every cancel; errors only.
            "log_level": "ERROR",
            "notification_listener_polling_interval_sec": 0.05,
        }
        if not system_database_url.startswith("sqlite"):
            self._config["sys_db_pool_size"] = 10  # see store/db.py: connections are shared with the store
        if system_database_url.startswith("sqlite"):
            self._config["db_engine_kwargs"] = {"connect_args": {"timeout": 30}}
        self._workflow: Callable[[str], Awaitable[None]] | None = None
        self._tool_step: Callable[..., Awaitable[Any]] | None = None
        self._launched = False

    def register(self, body: Callable[[str], Awaitable[None]]) -> None:
        """Declare the run workflow (must happen before ``launch`` so recovery can find it)."""
        DBOS(config=self._config)
        _quiet_dbos_cancels()

        @DBOS.workflow(name=WORKFLOW_NAME)
        async def run_workflow(run_id: str) -> None:
            await body(run_id)

        @DBOS.step(name=TOOL_STEP_NAME)
        async def tool_step(name: str, call: Callable[[], Awaitable[Any]]) -> Any:
            return await call()

        self._workflow = run_workflow
        self._tool_step = tool_step

    def register_workflow(
        self, name: str, body: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        """Declare another durable workflow (e.g. webhook delivery); call before ``launch``.

        Returns the registered function; start it with :meth:`start_workflow`.
        """
        return DBOS.workflow(name=name)(body)

    @staticmethod
    def register_step(name: str, body: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """A durable step: inside a workflow its result is recorded and not re-run on recovery."""
        return DBOS.step(name=name)(body)

    @staticmethod
    async def start_workflow(workflow: Callable[..., Awaitable[Any]], workflow_id: str, *args: Any) -> None:
        """Start ``workflow`` once per ``workflow_id`` (starting it again only re-attaches)."""
        with SetWorkflowID(workflow_id):
            await DBOS.start_workflow_async(workflow, *args)

    @staticmethod
    async def sleep(seconds: float) -> None:
        """A durable sleep inside a workflow: after a restart it wakes at the original time."""
        await DBOS.sleep_async(seconds)

    def launch(self) -> None:
        """Start DBOS inside the running loop; it resumes this executor's unfinished workflows."""
        asyncio.get_running_loop()  # DBOS must see the loop: recovered workflows run on it
        DBOS.launch()
        self._launched = True

    def destroy(self) -> None:
        if self._launched:
            DBOS.destroy(destroy_registry=True)
            self._launched = False
            # DBOS made its thread pool the loop's default executor and just shut it down;
            # give the loop a working one back so code after us can still use to_thread.
            try:
                asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor())
            except RuntimeError:
                pass  # not inside a loop: nothing to restore

    async def start(self, run_id: str, workflow_id: str | None = None) -> None:
        """Start (or re-attach to) the durable workflow of a run (id: the run id, or a resume's)."""
        assert self._workflow is not None, "register() first"
        with SetWorkflowID(workflow_id or run_id):
            await DBOS.start_workflow_async(self._workflow, run_id)

    async def ensure_running(self, run_id: str, workflow_id: str | None = None) -> str:
        """Make sure exactly one execution of the run's workflow exists or will exist.

        - no workflow yet: start it (``started``);
        - pending or enqueued: DBOS recovery or its queue runs it (``pending``); starting it again
          would create a second execution that fights the first for ownership;
        - finished at DBOS while the run is still active (an execution was fenced off after a
          worker was wrongly declared dead): fork it from its last recorded step under a new id
          (``forked``), so recorded model and tool steps are still not repeated.
        """
        base = workflow_id or run_id
        latest = await self._latest_workflow(base)
        if latest is None:
            await self.start(run_id, base)
            return "started"
        if latest.status in _UNFINISHED:
            return "pending"
        steps = await DBOS.list_workflow_steps_async(latest.workflow_id)
        # The fenced execution's last step(s) recorded the fence as their error: a fork that kept
        # them would replay the error and stop at once, leaving the run active with no execution.
        start = 1
        for step in steps:
            if step["error"] is None:
                start = step["function_id"] + 1
            else:
                break
        forks = await DBOS.list_workflows_async(workflow_id_prefix=f"{base}{FORK_SEP}")
        with SetWorkflowID(f"{base}{FORK_SEP}{len(forks) + 1}"):
            await DBOS.fork_workflow_async(latest.workflow_id, start)
        return "forked"

    @staticmethod
    async def _latest_workflow(run_id: str) -> Any:
        found = await DBOS.list_workflows_async(
            workflow_id_prefix=run_id, sort_desc=True, load_input=False, load_output=False
        )
        return found[0] if found else None

    @staticmethod
    def current_workflow_id() -> str | None:
        return DBOS.workflow_id

    async def cancel(self, workflow_id: str) -> None:
        """Mark the workflow cancelled so it is never resumed (the caller stops the running task)."""
        try:
            await DBOS.cancel_workflow_async(workflow_id)
        except Exception as exc:  # a run that never got a workflow (exit mode) has nothing to cancel
            log.debug("cancel_workflow %s: %s", workflow_id, exc)

    @staticmethod
    async def recover_executor(executor_id: str) -> None:
        """Re-enqueue a dead executor's pending workflows so a live process resumes them.

        DBOS hands each recovered workflow to exactly one dequeuing process; which one is not
        ours to choose, so the run itself is adopted by whoever executes it (fenced in the store).
        """
        await asyncio.to_thread(DBOS._recover_pending_workflows, [executor_id])

    async def call_tool(self, name: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run one tool call as a durable step inside a workflow, or plainly outside one."""
        if self._tool_step is None or not self.in_workflow():
            return await call()
        return await self._tool_step(name, call)

    @staticmethod
    def in_workflow() -> bool:
        return DBOS.workflow_id is not None

    @staticmethod
    def durability(name: str, handler: Any) -> DBOSDurability[Any]:
        """The pydantic-ai capability that turns model requests into steps, streaming to ``handler``."""
        return DBOSDurability(name=name, event_stream_handler=handler)

    async def delete(self, run_ids: list[str]) -> None:
        if run_ids:
            await DBOS.delete_workflows_async(run_ids)
