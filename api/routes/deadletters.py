"""Dead letters: messages ingest rejected, with the reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import ContextDep, Engineer, PageDep
from api.errors import ServiceMissing
from api.schemas import ListPublic

router = APIRouter(prefix="/dead-letters", tags=["dead letters"])


class DeadLetterPublic(BaseModel):
    id: int
    received_at: str
    reason: str
    topic: str
    device_id: str | None = None
    detail: str = ""
    payload: str = ""
    payload_size: int = 0


@router.get("", response_model=ListPublic[DeadLetterPublic], summary="Rejected messages, newest first")
def list_dead_letters(
    ctx: ContextDep, _: Engineer, pg: PageDep,
    device_id: Annotated[str | None, Query(max_length=128)] = None,
    reason: Annotated[str | None, Query(max_length=32, description="e.g. bad_json, schema, unknown_device")] = None,
) -> dict:
    if ctx.deadletters is None:
        raise ServiceMissing("the dead-letter store")
    rows, count = ctx.deadletters.list(device=device_id, reason=reason, limit=pg.limit, offset=pg.offset)
    data = []
    for r in rows:
        d = r.to_dict()
        p = d.get("payload", b"")
        d["payload"] = p.decode("utf-8", "replace") if isinstance(p, bytes) else str(p)
        data.append(d)
    return {"data": data, "count": count}


@router.get("/reasons", summary="How many dead letters per reason")
def reasons(ctx: ContextDep, _: Engineer) -> dict[str, int]:
    if ctx.deadletters is None:
        raise ServiceMissing("the dead-letter store")
    return ctx.deadletters.count_by_reason()
