"""Python entry-point tools for the native API integration tests (``tests.support.tools_for_tests:NAME``)."""

from __future__ import annotations


def boom(reason: str) -> str:
    """Always fails, so tests can check that a tool error reaches the model and the run goes on."""
    raise RuntimeError(f"boom: {reason}")
