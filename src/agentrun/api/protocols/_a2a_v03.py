"""A2A 0.3 JSON-RPC on the same endpoint: its method names and params translated to 1.0, and
1.0 results translated back to 0.3 shapes (``kind`` discriminators, lower-case states and roles,
``final`` on status updates). The 1.0 handlers do the work; see docs/compat/a2a.md."""

from __future__ import annotations

from typing import Any

# 0.3 method -> the 1.0 method that serves it.
METHODS = {
    "message/send": "SendMessage",
    "message/stream": "SendStreamingMessage",
    "tasks/get": "GetTask",
    "tasks/cancel": "CancelTask",
    "tasks/resubscribe": "SubscribeToTask",
    "tasks/pushNotificationConfig/set": "CreateTaskPushNotificationConfig",
    "tasks/pushNotificationConfig/get": "GetTaskPushNotificationConfig",
    "tasks/pushNotificationConfig/list": "ListTaskPushNotificationConfigs",
    "tasks/pushNotificationConfig/delete": "DeleteTaskPushNotificationConfig",
    "agent/getAuthenticatedExtendedCard": "GetExtendedAgentCard",
}
_TERMINAL = {"completed", "failed", "canceled", "rejected"}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# --- requests: 0.3 -> 1.0 --------------------------------------------------------------------


def _part_in(part: Any) -> Any:
    if not isinstance(part, dict):
        return part
    kind = part.get("kind")
    if kind == "file":
        return {"url": "file"}  # a file part: refused as unsupported content by the 1.0 handler
    return {k: v for k, v in part.items() if k != "kind"}


def _message_in(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    out = {k: v for k, v in message.items() if k != "kind"}
    if isinstance(out.get("parts"), list):
        out["parts"] = [_part_in(p) for p in out["parts"]]
    return out


def _push_in(config: Any) -> Any:
    return config


def params_in(method: str, params: dict[str, Any]) -> dict[str, Any]:
    if method in ("message/send", "message/stream"):
        out = dict(params)
        out["message"] = _message_in(params.get("message"))
        config = params.get("configuration")
        if isinstance(config, dict):
            new: dict[str, Any] = {
                k: v for k, v in config.items() if k in ("acceptedOutputModes", "historyLength")
            }
            if config.get("blocking") is False:
                new["returnImmediately"] = True
            if config.get("pushNotificationConfig") is not None:
                new["taskPushNotificationConfig"] = _push_in(config["pushNotificationConfig"])
            out["configuration"] = new
        return out
    if method == "tasks/pushNotificationConfig/set":
        return {**_dict(params.get("pushNotificationConfig")), "taskId": params.get("taskId")}
    if method in ("tasks/pushNotificationConfig/get", "tasks/pushNotificationConfig/list"):
        return {"taskId": params.get("id"), "id": params.get("pushNotificationConfigId")}
    return params


# --- results: 1.0 -> 0.3 ----------------------------------------------------------------------


def _state(state: str) -> str:
    return state.removeprefix("TASK_STATE_").lower().replace("_", "-")


def _part(part: dict[str, Any]) -> dict[str, Any]:
    if "data" in part:
        data = part["data"]
        return {"kind": "data", "data": data if isinstance(data, dict) else {"value": data}}
    return {"kind": "text", "text": part.get("text", "")}


def _message(message: dict[str, Any]) -> dict[str, Any]:
    out = {**message, "kind": "message", "parts": [_part(p) for p in message.get("parts", [])]}
    out["role"] = "user" if message.get("role") == "ROLE_USER" else "agent"
    return out


def _status(status: dict[str, Any]) -> dict[str, Any]:
    out = {**status, "state": _state(status["state"])}
    if "message" in status:
        out["message"] = _message(status["message"])
    return out


def _artifact(artifact: dict[str, Any]) -> dict[str, Any]:
    return {**artifact, "parts": [_part(p) for p in artifact.get("parts", [])]}


def task(task: dict[str, Any]) -> dict[str, Any]:
    out = {**task, "kind": "task", "status": _status(task["status"])}
    out.setdefault("contextId", "")
    if "history" in task:
        out["history"] = [_message(m) for m in task["history"]]
    if "artifacts" in task:
        out["artifacts"] = [_artifact(a) for a in task["artifacts"]]
    return out


def result(method: str, value: Any) -> Any:
    """A 1.0 result of ``method`` (the 1.0 name) in its 0.3 shape."""
    if method in ("SendMessage", "SendStreamingMessage", "SubscribeToTask"):
        value = _dict(value)
        if "task" in value:
            return task(value["task"])
        if "statusUpdate" in value:
            update = value["statusUpdate"]
            status = _status(update["status"])
            return {
                **update,
                "kind": "status-update",
                "status": status,
                "final": status["state"] in _TERMINAL,
                "contextId": update.get("contextId", ""),
            }
        if "artifactUpdate" in value:
            update = value["artifactUpdate"]
            return {
                **update,
                "kind": "artifact-update",
                "artifact": _artifact(update["artifact"]),
                "contextId": update.get("contextId", ""),
            }
        return value
    if method in ("GetTask", "CancelTask"):
        return task(value)
    if method in ("CreateTaskPushNotificationConfig", "GetTaskPushNotificationConfig"):
        return _config(value)
    if method == "ListTaskPushNotificationConfigs":
        return [_config(c) for c in _dict(value).get("configs", [])]
    return value


def _config(config: dict[str, Any]) -> dict[str, Any]:
    return {"taskId": config["taskId"], "pushNotificationConfig": {"id": config["id"], "url": config["url"]}}
