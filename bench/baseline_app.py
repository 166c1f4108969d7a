"""Bare FastAPI app that mimics the run protocol with no work at all: the HTTP floor.

Run it under uvicorn with one worker, uvloop and httptools (``bench/run.py`` does):

    uvicorn baseline_app:app --app-dir bench --loop uvloop --http httptools --workers 1

Endpoints (the smallest shapes that let scenarios A-D talk to it like to a run server):

- ``POST /runs`` ``{"mode": "sync"|"async"|"stream", "sleep_ms": 0}``
  - ``sync``: waits ``sleep_ms`` then answers the finished run (200);
  - ``async``: stores the run in a dict, finishes it after ``sleep_ms`` in a task, 202;
  - ``stream``: a ``text/event-stream`` with one ``run.completed`` event, then ``run``.
- ``GET /runs/{id}?wait_s=`` the run, long-polling until it is terminal (at most ``wait_s``).
- ``GET /health``.

No persistence, no validation beyond pydantic: whatever agentrun or LangGraph spend above this
is their own cost.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Literal

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

app = FastAPI(title="agentrun bench baseline")


class RunIn(BaseModel):
    mode: Literal["sync", "async", "stream"] = "sync"
    sleep_ms: int = 0
    prompt: str = "hi"


class _Run:
    __slots__ = ("id", "status", "done", "result")

    def __init__(self) -> None:
        self.id = uuid.uuid4().hex
        self.status = "queued"
        self.done = asyncio.Event()
        self.result: str | None = None

    def finish(self) -> None:
        self.status = "completed"
        self.result = "ok"
        self.done.set()

    def as_dict(self) -> dict:
        return {"id": self.id, "status": self.status, "result": self.result}


RUNS: dict[str, _Run] = {}
_TASKS: set[asyncio.Task] = set()


async def _execute(run: _Run, sleep_ms: int) -> None:
    run.status = "running"
    if sleep_ms:
        await asyncio.sleep(sleep_ms / 1000)
    run.finish()


@app.get("/health")
async def health() -> dict:
    return {"ok": True, "runs": len(RUNS)}


@app.post("/runs")
async def create_run(body: RunIn):
    run = _Run()
    if body.mode == "sync":
        await _execute(run, body.sleep_ms)
        return run.as_dict()
    if body.mode == "async":
        RUNS[run.id] = run
        task = asyncio.create_task(_execute(run, body.sleep_ms))
        _TASKS.add(task)
        task.add_done_callback(_TASKS.discard)
        return JSONResponse(run.as_dict(), status_code=202)

    async def events():
        await _execute(run, body.sleep_ms)
        data = {"run_id": run.id, "seq": 1, "type": "run.completed"}
        yield f"id: 1\nevent: run.completed\ndata: {json.dumps(data)}\n\n"
        yield f"event: run\ndata: {json.dumps(run.as_dict())}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"X-Run-Id": run.id})


@app.get("/runs/{run_id}")
async def get_run(run_id: str, wait_s: float = 0.0) -> dict:
    run = RUNS.get(run_id)
    if run is None:
        raise HTTPException(404, "run not found")
    if wait_s > 0 and not run.done.is_set():
        try:
            await asyncio.wait_for(run.done.wait(), timeout=min(wait_s, 60.0))
        except TimeoutError:
            pass
    return run.as_dict()
