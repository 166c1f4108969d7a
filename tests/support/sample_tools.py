"""Functions used as ``python`` tools (``ref="tests.support.sample_tools:NAME"``) in tests."""

from __future__ import annotations

CALLS: list[tuple[str, object]] = []
NOT_A_FUNCTION = 42


def double(x: int) -> int:
    """Return twice x."""
    CALLS.append(("double", x))
    return 2 * x


def explode(reason: str) -> str:
    """Always raises."""
    CALLS.append(("explode", reason))
    raise RuntimeError(f"exploded: {reason}")
