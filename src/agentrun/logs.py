"""One log format for agentrun and the libraries it runs (uvicorn, DBOS, httpx, pydantic-ai...).

Readable text by default, one JSON object per line with ``observability.log_format=json``. Every
record carries the id of the HTTP request being served (``request_id``) and of the run being
executed (``run_id``), from context variables the API middleware and the worker set; known
secret shapes (bearer tokens, API keys, passwords in URLs) are masked in every line.

Read by every layer (like ``settings``); configured only by entry points (``configure``).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "agentrun_request_id", default=None
)
run_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("agentrun_run_id", default=None)

# Libraries that install their own handlers or formats: theirs are removed, ours apply.
LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "dbos", "httpx", "httpcore", "mcp")
ACCESS_LOGGER = "agentrun.access"

_SECRETS = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{6,}"), r"\1 ***"),
    (
        re.compile(
            r"(?i)\b((?:api[_-]?key|token|secret|password|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]{4,}"
        ),
        r"\1***",
    ),
    (re.compile(r"\b(sk|ar|agr|pk)[-_][A-Za-z0-9_\-]{12,}"), r"\1-***"),  # provider and agentrun keys
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1***@"),  # user:password@host in URLs
]

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``run_id`` (or None) to every record; install on handlers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) in (None, "-"):
            record.request_id = request_id_var.get()
        if getattr(record, "run_id", None) is None:
            record.run_id = run_id_var.get()
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [
            f"{key}={value}"
            for key in ("request_id", "run_id")
            if (value := getattr(record, key, None)) not in (None, "-")
        ]
        if ids:
            head, sep, rest = line.partition(": ")
            line = f"{head} [{' '.join(ids)}]{sep}{rest}"
        return redact(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "run_id"):
            value = getattr(record, key, None)
            if value not in (None, "-"):
                body[key] = value
        for key, value in vars(record).items():  # `extra=` fields (e.g. the access log's)
            if (
                key not in _STANDARD
                and key not in body
                and not key.startswith("_")
                and key not in ("request_id", "run_id")
            ):
                body[key] = (
                    value if isinstance(value, str | int | float | bool) or value is None else str(value)
                )
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(body, default=str))


def configure(level: str = "info", fmt: str = "text", stream: IO[str] | None = None) -> logging.Handler:
    """Route every logger through one handler on the root logger; returns it."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.name = "agentrun"
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.name == "agentrun" or type(old) is logging.StreamHandler:  # ours, basicConfig's
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    adopt_library_loggers()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mcp").setLevel(logging.WARNING)  # "session manager started" is not news
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per provider request is noise
    return handler


def adopt_library_loggers() -> None:
    """Drop the handlers libraries installed (DBOS adds its own console handler when it starts)
    so their records reach ours; call again after such a library initialised (a no-op unless
    ``configure`` ran: tests and embedders keep their own logging)."""
    if not any(h.name == "agentrun" for h in logging.getLogger().handlers):
        return
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
