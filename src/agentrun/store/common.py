"""Helpers every repository shares: ids, time, cursors."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

import uuid6

from agentrun.domain.errors import AgentrunError, ErrorCode


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
