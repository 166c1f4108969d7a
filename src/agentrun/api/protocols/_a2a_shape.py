"""A2A (protocol 1.0, ProtoJSON) shapes of agentrun objects: Task from a Run, the agent card,
stream responses from run events, and the JSON-RPC error objects. No SDK import: the server
writes the JSON the ``a2a-sdk`` client parses (see docs/compat/a2a.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agentrun.domain.models import Agent, Run
from agentrun.domain.status import RunStatus

PROTOCOL_VERSION = "1.0"
RESULT_ARTIFACT = "result"

# Our run statuses -> A2A TaskState (the ProtoJSON enum names).
STATE = {
    RunStatus.queued: "TASK_STATE_SUBMITTED",
    RunStatus.running: "TASK_STATE_WORKING",
    RunStatus.cancelling: "TASK_STATE_WORKING",
    RunStatus.requires_action: "TASK_STATE_INPUT_REQUIRED",
    RunStatus.completed: "TASK_STATE_COMPLETED",
    RunStatus.failed: "TASK_STATE_FAILED",
    RunStatus.timed_out: "TASK_STATE_FAILED",
    RunStatus.cancelled: "TASK_STATE_CANCELED",
}

# A2A error codes (a2a.utils.errors.JSON_RPC_ERROR_CODE_MAP) and their ErrorInfo reasons.
TASK_NOT_FOUND = (-32001, "TASK_NOT_FOUND")
TASK_NOT_CANCELABLE = (-32002, "TASK_NOT_CANCELABLE")
UNSUPPORTED_OPERATION = (-32004, "UNSUPPORTED_OPERATION")
CONTENT_TYPE_NOT_SUPPORTED = (-32005, "CONTENT_TYPE_NOT_SUPPORTED")
VERSION_NOT_SUPPORTED = (-32009, "VERSION_NOT_SUPPORTED")
INVALID_REQUEST = (-32600, "INVALID_REQUEST")
METHOD_NOT_FOUND = (-32601, "METHOD_NOT_FOUND")
INVALID_PARAMS = (-32602, "INVALID_PARAMS")
INTERNAL = (-32603, "INTERNAL_ERROR")
PARSE_ERROR = (-32700, "PARSE_ERROR")


class RpcError(Exception):
    """A JSON-RPC error to answer with: ``kind`` is one of the (code, reason) pairs above."""

    def __init__(self, kind: tuple[int, str], message: str, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason = kind
        self.message = message
        self.metadata = metadata or {}

    def body(self, request_id: str | int | None) -> dict[str, Any]:
        error = {
            "code": self.code,
            "message": self.message,
            "data": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": self.reason,
                    "domain": "a2a-protocol.org",
                    "metadata": self.metadata,
                }
            ],
        }
        return {"jsonrpc": "2.0", "id": request_id, "error": error}


def ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def result_parts(run: Run) -> list[dict[str, Any]]:
    if run.result_type == "json" or not isinstance(run.result, str):
        return [{"data": run.result, "mediaType": "application/json"}]
    return [{"text": run.result, "mediaType": "text/plain"}]


def result_artifact(run: Run) -> dict[str, Any]:
    return {"artifactId": RESULT_ARTIFACT, "name": "result", "parts": result_parts(run)}


def _message(run: Run, suffix: str, role: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    message: dict[str, Any] = {
        "messageId": f"{run.id}-{suffix}",
        "role": role,
        "parts": parts,
        "taskId": run.id,
    }
    if run.thread_id:
        message["contextId"] = run.thread_id
    return message


def _a2a(run: Run) -> dict[str, Any]:
    """What the A2A router recorded on the run (``metadata.a2a``)."""
    found = run.metadata.get("a2a")
    return found if isinstance(found, dict) else {}


def push_url(run: Run) -> str | None:
    url = _a2a(run).get("push_url")
    return url if isinstance(url, str) else None


def user_message(run: Run) -> dict[str, Any]:
    a2a = _a2a(run)
    if run.input is not None:
        parts: list[dict[str, Any]] = [{"data": run.input, "mediaType": "application/json"}]
    else:
        parts = [{"text": run.prompt or ""}]
    message = _message(run, "user", "ROLE_USER", parts)
    if isinstance(a2a.get("message_id"), str):
        message["messageId"] = a2a["message_id"]
    return message


def status(run: Run) -> dict[str, Any]:
    body: dict[str, Any] = {"state": STATE[run.status]}
    stamp = ts(run.finished_at or run.started_at or run.created_at)
    if stamp:
        body["timestamp"] = stamp
    if run.status in (RunStatus.failed, RunStatus.timed_out, RunStatus.cancelled) and run.error:
        body["message"] = _message(run, "status", "ROLE_AGENT", [{"text": run.error.message}])
    if run.status is RunStatus.requires_action and run.pending_actions:
        # What the task waits for; answered with the native POST /v1/runs/{id}/actions.
        asks = [p.question or f"approve {p.tool}({p.args})" for p in run.pending_actions if p.answer is None]
        pending = [p.model_dump(mode="json", exclude={"answer", "answered_at"}) for p in run.pending_actions]
        parts = [
            {"text": "; ".join(asks)},
            {"data": {"pending_actions": pending}, "mediaType": "application/json"},
        ]
        body["message"] = _message(run, "status", "ROLE_AGENT", parts)
    return body


def task(run: Run, history_length: int | None = None) -> dict[str, Any]:
    history = [user_message(run)]
    if run.status is RunStatus.completed:
        history.append(_message(run, "agent", "ROLE_AGENT", result_parts(run)))
    if history_length is not None:
        history = history[-history_length:] if history_length > 0 else []
    body: dict[str, Any] = {
        "id": run.id,
        "status": status(run),
        "metadata": {
            "agentrun": {
                "agent": run.agent_slug,
                "revision": run.revision,
                "status": run.status.value,
                "model": run.model,
                "offline": run.offline,
                "usage": run.usage.model_dump(),
                "error": run.error.model_dump() if run.error else None,
            }
        },
    }
    if run.thread_id:
        body["contextId"] = run.thread_id
    if history:
        body["history"] = history
    if run.status is RunStatus.completed:
        body["artifacts"] = [result_artifact(run)]
    return body


def status_update(run: Run) -> dict[str, Any]:
    update: dict[str, Any] = {"taskId": run.id, "status": status(run)}
    if run.thread_id:
        update["contextId"] = run.thread_id
    return {"statusUpdate": update}


def artifact_update(run: Run, parts: list[dict[str, Any]], *, append: bool, last: bool) -> dict[str, Any]:
    update: dict[str, Any] = {
        "taskId": run.id,
        "artifact": {"artifactId": RESULT_ARTIFACT, "name": "result", "parts": parts},
        "append": append,
        "lastChunk": last,
    }
    if run.thread_id:
        update["contextId"] = run.thread_id
    return {"artifactUpdate": update}


def push_config(run: Run) -> dict[str, Any]:
    """The task's one push notification config: its run's ``webhook_url`` (id = the task id)."""
    return {"id": run.id, "taskId": run.id, "url": push_url(run)}


def card(agent: Agent, rpc_url: str) -> dict[str, Any]:
    """The agent card: protocol 1.0 fields, and the 0.3 ones beside them (``url``,
    ``protocolVersion``, ``security``, typed schemes) as ``a2a-sdk``'s own server writes both."""
    definition = agent.definition
    description = agent.description or f"agentrun agent {agent.slug!r}"
    skill: dict[str, Any] = {
        "id": agent.slug,
        "name": agent.name or agent.slug,
        "description": description,
        "tags": ["agentrun"],
        "inputModes": ["text/plain"],
        "outputModes": ["application/json" if definition.output_schema else "text/plain"],
    }
    if definition.input_schema:
        skill["inputModes"] = ["application/json", "text/plain"]
        props = definition.input_schema.get("properties")
        if isinstance(props, dict) and props:
            fields = ", ".join(sorted(str(k) for k in props))
            skill["description"] = f"{description} Input (a data part, JSON): {fields}."
            skill["tags"].extend(sorted(str(k) for k in props)[:10])
    return {
        "name": agent.name or agent.slug,
        "description": description,
        "version": str(agent.published_revision or agent.latest_revision),
        "supportedInterfaces": [
            {"url": rpc_url, "protocolBinding": "JSONRPC", "protocolVersion": PROTOCOL_VERSION},
            {"url": rpc_url, "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
        ],
        "url": rpc_url,
        "preferredTransport": "JSONRPC",
        "protocolVersion": "0.3.0",
        "provider": {"organization": "agentrun", "url": rpc_url.split("/a2a/", 1)[0]},
        "capabilities": {"streaming": True, "pushNotifications": True, "extendedAgentCard": False},
        "securitySchemes": {
            "apiKey": {
                "type": "apiKey",
                "in": "header",
                "name": "X-API-Key",
                "apiKeySecurityScheme": {
                    "location": "header",
                    "name": "X-API-Key",
                    "description": "An agentrun API key (not needed while the server is keyless on loopback).",
                },
            },
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "httpAuthSecurityScheme": {
                    "scheme": "bearer",
                    "description": "The same API key as a Bearer token.",
                },
            },
        },
        "securityRequirements": [
            {"schemes": {"apiKey": {"list": []}}},
            {"schemes": {"bearer": {"list": []}}},
        ],
        "security": [{"apiKey": []}, {"bearer": []}],
        "defaultInputModes": skill["inputModes"],
        "defaultOutputModes": skill["outputModes"],
        "skills": [skill],
    }
