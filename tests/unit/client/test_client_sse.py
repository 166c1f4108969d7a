"""The SSE decoder: framing, comments, line endings split across chunks, partial events."""

from __future__ import annotations

import json

from agentrun.client._sse import ServerSentEvent, iter_sse


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    return list(iter_sse(chunks))


def test_fields_comments_and_multiline_data() -> None:
    events = decode(b": ping\n\nid: 7\nevent: tool_call\ndata: line one\ndata: line two\n\n: ping\n\n")
    assert events == [ServerSentEvent(event="tool_call", data="line one\nline two", id="7")]


def test_event_type_defaults_to_message_and_one_leading_space_is_dropped() -> None:
    assert decode(b"data:no space\n\ndata:  two spaces\n\n") == [
        ServerSentEvent(data="no space"),
        ServerSentEvent(data=" two spaces"),
    ]


def test_crlf_and_cr_line_endings_even_split_across_chunks() -> None:
    events = decode(b"id: 1\r", b"\nevent: a\r\ndata: x\r", b"\r", b"id: 2\rdata: y\r\r")
    assert [(e.id, e.event, e.data) for e in events] == [("1", "a", "x"), ("2", "message", "y")]


def test_a_line_split_anywhere_across_chunks() -> None:
    raw = b"id: 12\nevent: message\ndata: " + json.dumps({"content": "h\u00e9llo"}).encode() + b"\n\n"
    for cut in range(1, len(raw)):
        assert decode(raw[:cut], raw[cut:]) == [
            ServerSentEvent(event="message", data='{"content": "h\\u00e9llo"}', id="12")
        ]


def test_unicode_line_separators_inside_data_do_not_split_lines() -> None:
    payload = '{"content": "a\u2028b\u0085c"}'
    events = decode(f"data: {payload}\n\n".encode())
    assert events[0].data == payload


def test_multibyte_characters_split_across_chunks() -> None:
    raw = "data: caf\u00e9 \U0001f600\n\n".encode()
    cut = raw.index(b"\xf0") + 2  # in the middle of the emoji
    assert decode(raw[:cut], raw[cut:])[0].data == "caf\u00e9 \U0001f600"


def test_an_event_without_data_is_not_dispatched_but_its_id_is_remembered() -> None:
    events = decode(b"id: 5\nevent: noop\n\ndata: x\n\n")
    assert events == [ServerSentEvent(data="x", id="5")]


def test_an_unterminated_event_at_the_end_is_dropped() -> None:
    assert decode(b"data: complete\n\nid: 9\ndata: cut off mid-ev") == [ServerSentEvent(data="complete")]
    assert decode(b"data: no blank line yet\n") == []
