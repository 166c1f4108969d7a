"""Join a run's streamed text, honouring superseded output (see docs/runs.md, "Superseded output")."""

from __future__ import annotations

from collections.abc import Iterable

from agentrun.client._models import Event


def superseded_from(event: Event) -> int | None:
    """For a marker event (a ``log`` whose data has ``superseded_from_seq``), that seq; else None."""
    if event.type != "log" or not event.data:
        return None
    value = event.data.get("superseded_from_seq")
    return int(value) if isinstance(value, int) else None


def join_deltas(events: Iterable[Event]) -> str:
    """The text of a run's ``message.delta`` events in seq order, without superseded ones.

    A marker at seq M with ``superseded_from_seq`` N drops the deltas with N <= seq < M: an
    attempt that died mid-request streamed them, and the request was sent (and streams) again.
    """
    kept: list[tuple[int, str]] = []
    for event in sorted(events, key=lambda e: e.seq):
        start = superseded_from(event)
        if start is not None:
            kept = [(seq, text) for seq, text in kept if seq < start]
        elif event.type == "message.delta":
            kept.append((event.seq, event.content or ""))
    return "".join(text for _, text in kept)
