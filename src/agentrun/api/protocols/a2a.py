"""A2A (Agent2Agent, protocol 1.0, JSON-RPC binding): every agent is an A2A agent.

Card: ``GET /a2a/{agent}/.well-known/agent-card.json`` (and ``/.well-known/agent-card.json`` for
the server's default agent, ``demo``). JSON-RPC: ``POST /a2a/{agent}`` with the method names the
``a2a-sdk`` client sends (``SendMessage``, ``SendStreamingMessage``, ``GetTask``, ``CancelTask``,
``SubscribeToTask``, ``*TaskPushNotificationConfig``). A task is a run, a context is a thread.
Thin over ``services.runs`` / ``services.threads``; shapes in ``_a2a_shape.py``; see
docs/compat/a2a.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentrun.api.deps import ProjectDep, ServicesDep
from agentrun.api.protocols import _a2a_shape as shape
from agentrun.api.protocols import _a2a_v03 as v03
from agentrun.api.protocols._a2a_shape import RpcError
from agentrun.api.sse import HEARTBEAT, sse_response
from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.domain.events import TERMINAL_EVENTS, EventType
from agentrun.domain.models import Agent, Run, RunCreate, RunMode
from agentrun.domain.status import RunStatus
from agentrun.services.container import Services
from agentrun.store.common import new_id

log = logging.getLogger(__name__)

router = APIRouter(tags=["protocol: A2A"])

DEFAULT_AGENT = "demo"  # the agent `serve` registers; the root well-known card describes it
CANCEL_WAIT_S = 5.0


# --- params (ProtoJSON, camelCase; unknown fields ignored as the SDK's server does) ------------


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Part(_In):
    text: str | None = None
    raw: str | None = None
    url: str | None = None
    data: Any = None
    mediaType: str | None = None
    filename: str | None = None


class Message(_In):
    messageId: str = Field(min_length=1, max_length=200)
    contextId: str | None = None
    taskId: str | None = None
    role: str | None = None
    parts: list[Part] = Field(min_length=1)
    metadata: dict[str, Any] | None = None


class PushConfig(_In):
    url: str = Field(min_length=1)
    id: str | None = None
    taskId: str | None = None
    token: str | None = None
    authentication: dict[str, Any] | None = None


class Configuration(_In):
    acceptedOutputModes: list[str] = Field(default_factory=list)
    taskPushNotificationConfig: PushConfig | None = None
    historyLength: int | None = Field(None, ge=0)
    returnImmediately: bool = False


class SendParams(_In):
    message: Message
    configuration: Configuration | None = None
    metadata: dict[str, Any] | None = None


class TaskParams(_In):
    id: str = Field(min_length=1)
    historyLength: int | None = Field(None, ge=0)


class ConfigParams(_In):
    taskId: str = Field(min_length=1)
    id: str | None = None


def _parse(model: type[BaseModel], params: dict[str, Any]) -> Any:
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "params"
        raise RpcError(shape.INVALID_PARAMS, f"{where}: {first['msg']}", {"field": where}) from None


# --- the call ------------------------------------------------------------------------------------


@dataclass
class Call:
    services: Services
    project: str
    agent: Agent
    request_id: str | int | None
    method: str  # the 1.0 name
    legacy: bool = False  # called by its 0.3 name: answer in 0.3 shapes

    def _result(self, result: Any) -> Any:
        return v03.result(self.method, result) if self.legacy else result

    def answer(self, result: Any) -> JSONResponse:
        return JSONResponse({"jsonrpc": "2.0", "id": self.request_id, "result": self._result(result)})

    def frame(self, result: dict[str, Any]) -> bytes:
        body = {"jsonrpc": "2.0", "id": self.request_id, "result": self._result(result)}
        return f"data: {json.dumps(body)}\n\n".encode()

    async def run_of(self, task_id: str) -> Run:
        """The task's run, if it is this agent's in this project; else "task not found"."""
        try:
            run = await self.services.runs.get(self.project, task_id)
        except AgentrunError as exc:
            if exc.code is ErrorCode.run_not_found:
                raise RpcError(shape.TASK_NOT_FOUND, f"No task {task_id!r}.", {"taskId": task_id}) from None
            raise
        if run.agent_id != self.agent.id:
            raise RpcError(shape.TASK_NOT_FOUND, f"No task {task_id!r}.", {"taskId": task_id})
        return run


def _content(message: Message) -> dict[str, Any]:
    """A message's parts as the run's ``prompt`` (text parts) or ``input`` (one JSON object)."""
    texts: list[str] = []
    data: list[Any] = []
    for part in message.parts:
        if part.raw is not None or part.url is not None:
            raise RpcError(
                shape.CONTENT_TYPE_NOT_SUPPORTED,
                "File parts (raw, url) are not supported; send text parts or one data part.",
            )
        if "data" in part.model_fields_set:
            data.append(part.data)
        elif part.text is not None:
            texts.append(part.text)
        else:
            raise RpcError(shape.INVALID_PARAMS, "message.parts: a part has no content.", {"field": "parts"})
    if data:
        if len(data) != 1 or texts or not isinstance(data[0], dict):
            raise RpcError(
                shape.INVALID_PARAMS,
                "message.parts: send text parts (the prompt) or exactly one data part holding a JSON "
                "object (the agent's input), not both.",
                {"field": "parts"},
            )
        return {"input": data[0]}
    return {"prompt": "\n".join(texts)}


def _check_output_modes(call: Call, modes: list[str]) -> None:
    ours = "application/json" if call.agent.definition.output_schema else "text/plain"
    if modes and not any(
        m in (ours, "*/*", "text/*" if ours == "text/plain" else "application/*") for m in modes
    ):
        raise RpcError(
            shape.CONTENT_TYPE_NOT_SUPPORTED,
            f"This agent answers {ours}; acceptedOutputModes has none of it.",
            {"outputMode": ours},
        )


async def _context(call: Call, context_id: str | None) -> str:
    """The thread a message goes to: its ``contextId`` (continued, or created), else a new one."""
    if context_id is None or context_id == "":
        return new_id("thr")
    if len(context_id) > 64:
        raise RpcError(
            shape.INVALID_PARAMS, "message.contextId: at most 64 characters.", {"field": "contextId"}
        )
    try:
        thread = await call.services.threads.get(call.project, context_id)
    except AgentrunError as exc:
        if exc.code is ErrorCode.thread_not_found:
            return context_id  # created with the run
        raise
    if thread.agent_id not in (None, call.agent.id):
        raise RpcError(
            shape.INVALID_PARAMS,
            f"message.contextId: context {context_id!r} belongs to another agent.",
            {"field": "contextId"},
        )
    return context_id


async def _start(call: Call, params: dict[str, Any], mode: RunMode) -> tuple[Run, Configuration]:
    send: SendParams = _parse(SendParams, params)
    message, config = send.message, send.configuration or Configuration()
    if message.role not in (None, "", "ROLE_USER", "user", "ROLE_UNSPECIFIED"):
        raise RpcError(shape.INVALID_PARAMS, "message.role: must be ROLE_USER.", {"field": "role"})
    if message.taskId:
        run = await call.run_of(message.taskId)
        raise RpcError(
            shape.UNSUPPORTED_OPERATION,
            f"Task {run.id} is {run.status.value}: agentrun tasks never wait for more input. Send a new "
            f"message with contextId {run.thread_id!r} (and no taskId) to continue the conversation.",
            {"taskId": run.id},
        )
    _check_output_modes(call, config.acceptedOutputModes)
    push = config.taskPushNotificationConfig
    if push is not None and (push.token or push.authentication):
        raise RpcError(
            shape.INVALID_PARAMS,
            "taskPushNotificationConfig: token and authentication are not supported; deliveries are "
            "signed with the project's webhook secret (Standard Webhooks), see docs/webhooks.md.",
            {"field": "taskPushNotificationConfig"},
        )
    thread_id = await _context(call, message.contextId)
    a2a_meta: dict[str, Any] = {"message_id": message.messageId}
    if push is not None:
        a2a_meta["push_url"] = push.url  # the run's webhook_url, which Run does not show
    if message.metadata:
        a2a_meta["message_metadata"] = message.metadata
    if send.metadata:
        a2a_meta["request_metadata"] = send.metadata
    try:
        body = RunCreate(
            agent=call.agent.id,
            thread_id=thread_id,
            mode=mode,
            metadata={"a2a": a2a_meta},
            webhook_url=push.url if push is not None else None,
            **_content(message),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RpcError(shape.INVALID_PARAMS, f"message: {first['msg']}", {"field": "message"}) from None
    run, _ = await call.services.runs.create(call.project, body, create_thread=True)
    return run, config


# --- methods -------------------------------------------------------------------------------------


async def send_message(call: Call, params: dict[str, Any]) -> Response:
    run, config = await _start(call, params, RunMode.async_ if _immediately(params) else RunMode.sync)
    if not config.returnImmediately:
        run = await call.services.runs.wait(
            call.project, run.id, call.services.settings.limits.sync_wait_s, or_waiting=True
        )
    return call.answer({"task": shape.task(run, config.historyLength)})


def _immediately(params: dict[str, Any]) -> bool:
    config = params.get("configuration")
    return isinstance(config, dict) and config.get("returnImmediately") is True


async def send_streaming_message(call: Call, params: dict[str, Any]) -> Response:
    run, config = await _start(call, params, RunMode.stream)
    return sse_response(_updates(call, run, 0, config.historyLength), headers={"X-Run-Id": run.id})


async def subscribe_to_task(call: Call, params: dict[str, Any]) -> Response:
    found: TaskParams = _parse(TaskParams, params)
    run = await call.run_of(found.id)
    if run.status.terminal:
        raise RpcError(
            shape.UNSUPPORTED_OPERATION,
            f"Task {run.id} already finished ({run.status.value}); read it with GetTask.",
            {"taskId": run.id},
        )
    return sse_response(_updates(call, run, run.last_seq, None), headers={"X-Run-Id": run.id})


async def _updates(call: Call, run: Run, after: int, history_length: int | None) -> AsyncIterator[bytes]:
    """The task as it is, then status/artifact updates mapped from the run's events after ``after``."""
    yield call.frame({"task": shape.task(run, history_length)})
    chunked = False
    try:
        async for event in call.services.runs.follow(call.project, run.id, after):
            if event is None:
                yield HEARTBEAT
            elif event.type is EventType.run_started:
                working = run.model_copy(update={"status": RunStatus.running, "started_at": event.created_at})
                yield call.frame(shape.status_update(working))
            elif event.type is EventType.run_requires_action:  # input-required; the stream stays open
                waiting = run.model_copy(update={"status": RunStatus.requires_action})
                yield call.frame(shape.status_update(waiting))
            elif event.type is EventType.message_delta and event.content:
                yield call.frame(
                    shape.artifact_update(run, [{"text": event.content}], append=chunked, last=False)
                )
                chunked = True
            elif event.type in TERMINAL_EVENTS:
                final = await call.services.runs.get(call.project, run.id)
                if final.status is RunStatus.completed:
                    parts = shape.result_parts(final)
                    yield call.frame(shape.artifact_update(final, parts, append=False, last=True))
                yield call.frame(shape.status_update(final))
    except Exception as exc:  # the stream has started: the error is one SSE `error` event
        error = _rpc_error(exc)
        yield f"event: error\ndata: {json.dumps(error.body(call.request_id))}\n\n".encode()


async def get_task(call: Call, params: dict[str, Any]) -> Response:
    found: TaskParams = _parse(TaskParams, params)
    return call.answer(shape.task(await call.run_of(found.id), found.historyLength))


async def cancel_task(call: Call, params: dict[str, Any]) -> Response:
    found: TaskParams = _parse(TaskParams, params)
    run = await call.run_of(found.id)
    try:
        await call.services.runs.cancel(call.project, run.id, reason="cancelled by A2A CancelTask")
    except AgentrunError as exc:
        if exc.code is ErrorCode.run_finished:
            raise RpcError(
                shape.TASK_NOT_CANCELABLE,
                f"Task {run.id} already finished ({exc.details.get('status')}).",
                {"taskId": run.id},
            ) from None
        raise
    run = await call.services.runs.wait(call.project, run.id, CANCEL_WAIT_S)
    return call.answer(shape.task(run))


async def create_push_config(call: Call, params: dict[str, Any]) -> Response:
    config: PushConfig = _parse(PushConfig, params)
    if not config.taskId:
        raise RpcError(shape.INVALID_PARAMS, "taskId: required.", {"field": "taskId"})
    run = await call.run_of(config.taskId)
    if shape.push_url(run) == config.url and not (config.token or config.authentication):
        return call.answer(shape.push_config(run))  # what the task already has: idempotent
    raise RpcError(
        shape.UNSUPPORTED_OPERATION,
        "A task's push notification config is fixed when it is created: set "
        "configuration.taskPushNotificationConfig in SendMessage (or use a project webhook endpoint, "
        "POST /v1/webhooks).",
        {"taskId": run.id},
    )


async def get_push_config(call: Call, params: dict[str, Any]) -> Response:
    found: ConfigParams = _parse(ConfigParams, params)
    run = await call.run_of(found.taskId)
    if not shape.push_url(run) or (found.id and found.id != run.id):
        raise RpcError(
            shape.TASK_NOT_FOUND,
            f"Task {run.id} has no push notification config {found.id or ''}".strip() + ".",
            {"taskId": run.id},
        )
    return call.answer(shape.push_config(run))


async def list_push_configs(call: Call, params: dict[str, Any]) -> Response:
    found: ConfigParams = _parse(ConfigParams, params)
    run = await call.run_of(found.taskId)
    return call.answer({"configs": [shape.push_config(run)] if shape.push_url(run) else []})


async def unsupported(call: Call, params: dict[str, Any]) -> Response:
    raise RpcError(shape.UNSUPPORTED_OPERATION, "This method is not supported by agentrun's A2A surface.")


METHODS: dict[str, Callable[[Call, dict[str, Any]], Awaitable[Response]]] = {
    "SendMessage": send_message,
    "SendStreamingMessage": send_streaming_message,
    "GetTask": get_task,
    "CancelTask": cancel_task,
    "SubscribeToTask": subscribe_to_task,
    "CreateTaskPushNotificationConfig": create_push_config,
    "GetTaskPushNotificationConfig": get_push_config,
    "ListTaskPushNotificationConfigs": list_push_configs,
    "DeleteTaskPushNotificationConfig": unsupported,
    "ListTasks": unsupported,
    "GetExtendedAgentCard": unsupported,
}


# --- errors --------------------------------------------------------------------------------------

_PARAMS_CODES = {
    ErrorCode.validation_error,
    ErrorCode.input_invalid,
    ErrorCode.tool_not_allowed,
    ErrorCode.agent_not_found,
    ErrorCode.revision_not_found,
    ErrorCode.thread_not_found,
    ErrorCode.sandbox_not_found,
}


def _rpc_error(exc: Exception) -> RpcError:
    if isinstance(exc, RpcError):
        return exc
    if isinstance(exc, AgentrunError):
        meta = {"code": str(exc.code)}
        if exc.code is ErrorCode.run_not_found:
            return RpcError(shape.TASK_NOT_FOUND, exc.message, meta)
        if exc.code in _PARAMS_CODES:
            return RpcError(shape.INVALID_PARAMS, exc.message, meta)
        if exc.code in (ErrorCode.internal, ErrorCode.unavailable, ErrorCode.rate_limited):
            return RpcError(shape.INTERNAL, exc.message, meta)
        return RpcError(shape.INVALID_REQUEST, exc.message, meta)
    log.exception("A2A call failed")
    return RpcError(shape.INTERNAL, "Internal error; the server log has the details.")


def _check_version(request: Request, legacy: bool) -> None:
    """1.0 method names want an ``A2A-Version`` of 1.x (or none); 0.3 names one of 0.3 (or none)."""
    version = (request.headers.get("a2a-version") or "").strip()
    wanted = "0.3" if legacy else "1"
    if version and not version.startswith(wanted):
        raise RpcError(
            shape.VERSION_NOT_SUPPORTED,
            f"A2A version {version!r} is not served by this method; use the "
            f"{'0.3' if legacy else '1.0'} method names with A2A-Version {'0.3' if legacy else '1.0'}.",
            {"supported": "1.0, 0.3"},
        )


# --- routes --------------------------------------------------------------------------------------


@router.post("/a2a/{agent}", operation_id="a2a_jsonrpc", summary="A2A JSON-RPC endpoint of an agent")
async def a2a_jsonrpc(agent: str, request: Request, services: ServicesDep, project: ProjectDep) -> Response:
    # An agent the key's project does not have is a 404 (agent_not_found), as its card is: the
    # endpoint does not exist for this caller. Everything after is a JSON-RPC answer.
    found = await services.agents.get(project, agent)
    request_id: str | int | None = None
    try:
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as exc:
            raise RpcError(shape.PARSE_ERROR, f"The body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise RpcError(shape.INVALID_REQUEST, "A JSON-RPC request object is required (no batches).")
        rid = body.get("id")
        if isinstance(rid, str | int) and not isinstance(rid, bool):
            request_id = rid
        method, params = body.get("method"), body.get("params", {})
        if body.get("jsonrpc") != "2.0" or not isinstance(method, str) or not method:
            raise RpcError(shape.INVALID_REQUEST, "Invalid request: needs jsonrpc '2.0' and a method.")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise RpcError(shape.INVALID_PARAMS, "params: must be an object.", {"field": "params"})
        legacy = method in v03.METHODS
        if legacy:
            params, method = v03.params_in(method, params), v03.METHODS[method]
        handler = METHODS.get(method)
        if handler is None:
            raise RpcError(shape.METHOD_NOT_FOUND, f"Method {method!r} not found.", {"method": method})
        _check_version(request, legacy)
        return await handler(Call(services, project, found, request_id, method, legacy), params)
    except Exception as exc:
        return JSONResponse(_rpc_error(exc).body(request_id))


async def _card(request: Request, services: Services, project: str, agent: str) -> JSONResponse:
    found = await services.agents.get(project, agent)  # 404 agent_not_found, as everywhere
    rpc_url = f"{str(request.base_url).rstrip('/')}/a2a/{found.slug}"
    return JSONResponse(shape.card(found, rpc_url))


@router.get(
    "/a2a/{agent}/.well-known/agent-card.json", operation_id="a2a_agent_card", summary="A2A agent card"
)
async def a2a_agent_card(
    agent: str, request: Request, services: ServicesDep, project: ProjectDep
) -> JSONResponse:
    return await _card(request, services, project, agent)


@router.get(
    "/.well-known/agent-card.json", operation_id="a2a_default_agent_card", summary="A2A card of `demo`"
)
async def a2a_default_agent_card(
    request: Request, services: ServicesDep, project: ProjectDep
) -> JSONResponse:
    return await _card(request, services, project, DEFAULT_AGENT)
