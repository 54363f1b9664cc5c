"""Live updates: a server-sent event stream of alert, ticket and (saved) health changes.

A stream can stay open for days: every :data:`TOKEN_RECHECK_S` (at the next event or heartbeat) it
checks that its token is still active, and ends once the token is revoked. A token with an expiry
ends its stream at the first event or heartbeat after it expires (the heartbeat is shortened to reach
an expiry that comes sooner than it).

A token may hold ``api.max_event_streams_per_token`` streams open at once, the server
``api.max_event_streams`` in all (:mod:`api.stream_limits`); one more is refused with 429 and
``Retry-After``. A stream frees its slot as soon as it ends: its client gone, its token revoked or
expired, ``max_events`` or ``timeout_s`` reached, or the server stopping.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from api.deps import ContextDep, Viewer
from api.stream_limits import RETRY_AFTER_S, StreamSlots, TooManyStreams
from api.tokens import expired, expiry_text, is_active, utc
from foreshock.db import utcnow

router = APIRouter(prefix="/events", tags=["events"])
log = logging.getLogger(__name__)
TOKEN_RECHECK_S = 15.0


def _token_active(ctx, token_id: int) -> bool:
    with ctx.session_factory() as session:
        return is_active(session=session, token_id=token_id)


class _EventStream(StreamingResponse):
    """A stream that calls ``on_close`` once it is over, however it ends (a client that left before its
    first byte never runs the generator's ``finally``)."""

    def __init__(self, content, *, on_close, **kwargs) -> None:
        super().__init__(content, **kwargs)
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.on_close()


@router.get("", summary="Server-sent events: `alert`, `ticket` and `health` changes as JSON",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "an endless event stream"},
                       429: {"description": "too many streams open for this token "
                             "(`api.max_event_streams_per_token`) or in all (`api.max_event_streams`): "
                             "`{detail, limit, setting}` and `Retry-After`"}})
async def events(
    ctx: ContextDep, tok: Viewer, request: Request,
    kinds: Annotated[list[Literal["alert", "ticket", "health"]] | None,
                     Query(description="only these kinds (alert, ticket, health)", max_length=10)] = None,
    heartbeat_s: Annotated[float, Query(ge=0.05, le=300, allow_inf_nan=False)] = 15.0,
    max_events: Annotated[int | None, Query(ge=1, le=100_000, description="close after this many events")] = None,
    timeout_s: Annotated[float | None, Query(gt=0, le=86400, allow_inf_nan=False,
                                             description="close after this many seconds")] = None,
) -> Response:
    slots: StreamSlots = request.app.state.event_streams
    try:
        release = slots.acquire(tok.id, tok.name)
    except TooManyStreams as exc:
        return JSONResponse({"detail": str(exc), "limit": exc.limit, "setting": exc.setting}, status_code=429,
                            headers={"Retry-After": str(RETRY_AFTER_S)})
    sub = ctx.events.subscribe(set(kinds) if kinds else None)
    closed = False

    def close() -> None:  # from the generator's finally and the response's, whichever comes first
        nonlocal closed
        if not closed:
            closed = True
            ctx.events.unsubscribe(sub)
            release()

    async def gen():
        sent = 0
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        beat = heartbeat_s if timeout_s is None else min(heartbeat_s, timeout_s)
        if tok.expires is not None:  # a heartbeat soon after the expiry, to end the stream there
            beat = min(beat, max(0.05, (utc(tok.expires) - utcnow()).total_seconds()))
        checked = time.monotonic()
        try:
            async for chunk in ctx.events.stream(sub, heartbeat_s=beat):
                if await request.is_disconnected() or (deadline is not None and time.monotonic() >= deadline):
                    break
                if expired(tok):  # the expiry came with the token: no database read
                    log.info("event stream of token %r ended: the token expired at %s", tok.name, expiry_text(tok))
                    break
                if time.monotonic() - checked >= TOKEN_RECHECK_S:  # a revoked token's stream ended only with it
                    checked = time.monotonic()
                    if not await run_in_threadpool(_token_active, ctx, tok.id):
                        log.info("event stream of token %r ended: the token was revoked", tok.name)
                        break
                yield chunk
                if chunk.startswith("id:"):
                    sent += 1
                    if max_events is not None and sent >= max_events:
                        break
        finally:
            close()

    return _EventStream(gen(), on_close=close, media_type="text/event-stream",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
