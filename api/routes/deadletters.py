"""Dead letters: messages ingest rejected, with the reason."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

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
    payload: str = Field("", description="the stored payload as text; a byte that is not UTF-8 shows as U+FFFD "
                                         "(payload_utf8 false): payload_base64 has the bytes")
    payload_base64: str = Field("", description="the stored payload's bytes exactly, base64 (standard alphabet)")
    payload_utf8: bool = Field(True, description="whether payload is exactly the stored bytes (they are UTF-8)")
    payload_size: int = Field(0, description="the size of the message as received, in bytes")
    payload_truncated: bool = Field(False, description="whether only the first bytes were kept "
                                                       "(ingest.dead_letter_payload_bytes)")


def payload_fields(raw: bytes, size: int) -> dict[str, Any]:
    """A stored payload as text for reading and as its exact bytes (a firmware team debugging a unit needs them:
    the text alone had U+FFFD for every byte that is not UTF-8, and the bytes were lost in the answer).

    >>> payload_fields(b"\\xff{", 2)
    {'payload': '\ufffd{', 'payload_base64': '/3s=', 'payload_utf8': False, 'payload_truncated': False}
    """
    try:
        text, exact = raw.decode("utf-8"), True
    except UnicodeDecodeError:
        text, exact = raw.decode("utf-8", "replace"), False
    return {"payload": text, "payload_base64": base64.b64encode(raw).decode("ascii"), "payload_utf8": exact,
            "payload_truncated": size > len(raw)}


@router.get("", response_model=ListPublic[DeadLetterPublic], summary="Rejected messages, newest first")
def list_dead_letters(
    ctx: ContextDep, _: Engineer, pg: PageDep,
    device_id: Annotated[str | None, Query(max_length=128)] = None,
    reason: Annotated[str | None, Query(max_length=32, description="e.g. bad_json, schema, unknown_device")] = None,
) -> dict:
    if ctx.deadletters is None:
        raise ServiceMissing("the dead-letter store")
    rows, count = ctx.deadletters.list(device=device_id, reason=reason, limit=pg.limit, offset=pg.offset)
    data = [{**r.to_dict(), **payload_fields(bytes(r.payload), r.payload_size)} for r in rows]
    return {"data": data, "count": count}


@router.get("/reasons", summary="How many dead letters per reason")
def reasons(ctx: ContextDep, _: Engineer) -> dict[str, int]:
    if ctx.deadletters is None:
        raise ServiceMissing("the dead-letter store")
    return ctx.deadletters.count_by_reason()
