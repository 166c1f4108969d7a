"""Cursor tokens handed to clients: opaque, round-trip exactly, and refused when forged or mangled."""

from __future__ import annotations

import pytest

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.store.common import decode_cursor, encode_cursor, new_id


@pytest.mark.parametrize(
    "last_id",
    [new_id("agt"), new_id("run"), "thr_x", "a_" + "z" * 200],
    ids=["agent", "run", "short", "long"],
)
def test_round_trip(last_id: str) -> None:
    cursor = encode_cursor(last_id)
    assert decode_cursor(cursor) == last_id
    assert "=" not in cursor and "/" not in cursor and "+" not in cursor, "URL-safe without escaping"
    assert last_id not in cursor, "opaque: the id is not sent as is"


def test_absent_cursor_is_the_first_page() -> None:
    assert decode_cursor(None) is None
    assert decode_cursor("") is None


@pytest.mark.parametrize("cursor", ["a", "!!!", "%%%", encode_cursor("noseparator"), "_w"])
def test_malformed_cursors_are_invalid_request(cursor: str) -> None:
    with pytest.raises(AgentrunError) as info:
        decode_cursor(cursor)
    assert info.value.code is ErrorCode.invalid_request and info.value.http_status == 400
    assert "next_cursor" in info.value.message


def test_new_ids_sort_by_creation() -> None:
    ids = [new_id("run") for _ in range(200)]
    assert ids == sorted(ids) and len(set(ids)) == 200
    assert all(i.startswith("run_") and len(i) == 36 for i in ids)
