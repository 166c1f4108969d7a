"""Server-Sent Events framing for run events."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse

from agentrun.domain.models import Event, Run

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


def frame_event(event: Event) -> bytes:
    return f"id: {event.seq}\nevent: {event.type.value}\ndata: {event.model_dump_json()}\n\n".encode()


def frame_run(run: Run) -> bytes:
    return f"event: run\ndata: {run.model_dump_json()}\n\n".encode()


HEARTBEAT = b": ping\n\n"


async def frames(events: AsyncIterator[Event | None]) -> AsyncIterator[bytes]:
    async for event in events:
        yield HEARTBEAT if event is None else frame_event(event)


def sse_response(body: AsyncIterator[bytes], headers: dict[str, str] | None = None) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream", headers={**SSE_HEADERS, **(headers or {})})
