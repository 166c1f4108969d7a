"""The store facade: one engine, one repository per resource."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from agentrun.store.agents import AgentRepo
from agentrun.store.db import make_engine, upgrade_async
from agentrun.store.keys import KeyRepo
from agentrun.store.runs import RunRepo
from agentrun.store.sandboxes import SandboxRepo
from agentrun.store.threads import ThreadRepo
from agentrun.store.workers import WorkerRepo


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.agents = AgentRepo(engine)
        self.runs = RunRepo(engine)
        self.threads = ThreadRepo(engine)
        self.keys = KeyRepo(engine)
        self.workers = WorkerRepo(engine)
        self.sandboxes = SandboxRepo(engine)

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> Store:
        if migrate:
            await upgrade_async(url)
        return cls(make_engine(url))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def close(self) -> None:
        await self.engine.dispose()
