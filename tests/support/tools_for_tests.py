"""Python entry-point tools for the native API integration tests (``tests.support.tools_for_tests:NAME``)."""

from __future__ import annotations


def boom(reason: str) -> str:
    """Always fails, so tests can check that a tool error reaches the model and the run goes on."""
    raise RuntimeError(f"boom: {reason}")


async def slow(seconds: float) -> str:
    """Takes ``seconds`` to answer: a long tool call to cancel in the middle of."""
    import asyncio

    await asyncio.sleep(seconds)
    return f"slept {seconds}s"


SENT: list[str] = []  # what ``send`` was called with, in this process (human-in-the-loop tests)


def send(to: str) -> str:
    """Sends a message to ``to``: the kind of call a person approves first."""
    SENT.append(to)
    return f"sent to {to}"
