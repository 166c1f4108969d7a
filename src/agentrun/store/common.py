"""Helpers every repository shares: ids, time, cursors, whole transactions."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

import uuid6

from agentrun.domain.errors import AgentrunError, ErrorCode

P = ParamSpec("P")
T = TypeVar("T")


def whole(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Run a store write to its end (commit or rollback) even when its caller is cancelled.

    A cancel or a timeout that lands inside ``engine.begin()`` (a run being cancelled mid-write,
    a DBOS step preempted, a client hanging up) can interrupt the rollback itself; SQLAlchemy then
    abandons the connection with its transaction open, and on SQLite that open write transaction
    holds the database lock for good: every later write, heartbeats included, fails with
    "database is locked". So the write runs in its own task, shielded; the caller still sees its
    cancellation, raised once the write is whole.
    """

    @functools.wraps(method)
    async def shielded(*args: P.args, **kwargs: P.kwargs) -> T:
        task: asyncio.Future[T] = asyncio.ensure_future(method(*args, **kwargs))
        interrupted = False
        while True:
            try:
                result = await asyncio.shield(task)
                break
            except asyncio.CancelledError:
                if task.done():
                    raise
                interrupted = True  # keep waiting: the write is short, and it must end cleanly
        if interrupted:
            raise asyncio.CancelledError
        return result

    return shielded


def new_id(prefix: str) -> str:
    """A time-sortable id (UUIDv7): ordering by id is ordering by creation, which the queue needs."""
    return f"{prefix}_{uuid6.uuid7().hex}"


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; everything we store is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise AgentrunError(
            ErrorCode.invalid_request,
            "The cursor is not one this server issued; pass `next_cursor` back as is.",
        ) from exc
    if "_" not in value:
        raise AgentrunError(
            ErrorCode.invalid_request,
            "The cursor is not one this server issued; pass `next_cursor` back as is.",
        )
    return value
