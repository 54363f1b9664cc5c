"""Live updates: a server-sent event stream of alert and ticket changes."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import ContextDep, Viewer

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", summary="Server-sent events: `alert` and `ticket` changes as JSON",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "an endless event stream"}})
async def events(
    ctx: ContextDep, _: Viewer, request: Request,
    kinds: Annotated[list[Literal["alert", "ticket"]] | None,
                     Query(description="only these kinds (alert, ticket)", max_length=10)] = None,
    heartbeat_s: Annotated[float, Query(ge=0.05, le=300)] = 15.0,
    max_events: Annotated[int | None, Query(ge=1, le=100_000, description="close after this many events")] = None,
    timeout_s: Annotated[float | None, Query(gt=0, le=86400, description="close after this many seconds")] = None,
) -> StreamingResponse:
    sub = ctx.events.subscribe(set(kinds) if kinds else None)

    async def gen():
        sent = 0
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        beat = heartbeat_s if timeout_s is None else min(heartbeat_s, timeout_s)
        try:
            async for chunk in ctx.events.stream(sub, heartbeat_s=beat):
                if await request.is_disconnected() or (deadline is not None and time.monotonic() >= deadline):
                    break
                yield chunk
                if chunk.startswith("id:"):
                    sent += 1
                    if max_events is not None and sent >= max_events:
                        break
        finally:
            ctx.events.unsubscribe(sub)

    return StreamingResponse(gen(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
