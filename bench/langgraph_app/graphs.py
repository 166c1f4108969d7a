"""The two LangGraph graphs the benchmark compares agentrun against.

- ``instant``: one node that answers at once (the analogue of agentrun's instant ``test`` model);
- ``sleep``: one node that awaits ``asyncio.sleep(1)`` (the analogue of ``test:sleep-1000``).

Served by ``langgraph dev`` (in-memory runtime) from ``bench/langgraph_app/langgraph.json``.
"""

from __future__ import annotations

import asyncio
from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    prompt: str
    result: str


async def answer(state: State) -> State:
    return {"result": "ok"}


async def answer_after_1s(state: State) -> State:
    await asyncio.sleep(1.0)
    return {"result": "ok"}


def _one_node(fn) -> object:
    g = StateGraph(State)
    g.add_node("answer", fn)
    g.add_edge(START, "answer")
    g.add_edge("answer", END)
    return g.compile()


instant = _one_node(answer)
sleep = _one_node(answer_after_1s)
