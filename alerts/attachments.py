"""Complaint attachments: a reference (URL) or the file itself, sent as base64 and stored in the database.

Names are sanitised (no directories, control characters or quotes); the content type must look like
``type/subtype``; each file and all files of one complaint together are held to the limits in
``AlertConfig`` (``complaint_attachment_max_bytes``, ``complaint_attachments_max_total_bytes``).
Too large refuses the whole complaint (:class:`AttachmentTooLarge`), so nothing is half registered.

>>> a = Attachment.model_validate({"name": "../pump.jpg", "content_type": "image/jpeg", "data_b64": "AAEC"})
>>> a.name, a.data, a.size, a.meta()
('pump.jpg', b'\\x00\\x01\\x02', 3, {'name': 'pump.jpg', 'content_type': 'image/jpeg', 'size': 3})
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictInt, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.models import Complaint, ComplaintAttachment

__all__ = ["Attachment", "AttachmentTooLarge", "attachment_dict", "check_sizes", "load", "safe_name",
           "store_attachments"]


class AttachmentTooLarge(ValueError):
    """An attachment (or all of a complaint's together) is over the configured limit: nothing is stored."""


_UNSAFE = re.compile(r"[^\w.()+ -]")


def safe_name(name: str) -> str:
    r"""A file name without directories, control characters or quoting trouble (at most 200 characters).

    >>> safe_name("../../etc/pass wd\r\n.jpg"), safe_name('C:\\fotos\\Pumpe "3".jpg'), safe_name("..")
    ('pass wd.jpg', 'Pumpe _3_.jpg', 'attachment')
    """
    base = re.split(r"[/\\]", name)[-1]
    base = _UNSAFE.sub("_", "".join(ch for ch in base if ch.isprintable())).strip(" .")
    return base[:200] or "attachment"


class Attachment(BaseModel):
    """A file: a reference (``url``) or its content as base64 (``data_b64``), stored in the database."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, description="file name; directories and odd characters removed")
    content_type: str = Field("application/octet-stream", max_length=100,
                              pattern=r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")
    size: StrictInt | None = Field(None, ge=0)
    url: str | None = Field(None, max_length=1000)
    data_b64: str | None = Field(None, description="the content, base64 (standard alphabet); stored and "
                                                    "downloadable from the complaint")
    _data: bytes | None = PrivateAttr(None)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return safe_name(v)

    @model_validator(mode="after")
    def _content(self) -> Attachment:
        if self.data_b64 is None:
            return self
        try:
            self._data = base64.b64decode("".join(self.data_b64.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"attachment {self.name!r}: data_b64 is not valid base64") from None
        if self.size is not None and self.size != len(self._data):
            raise ValueError(f"attachment {self.name!r}: size {self.size} does not match the content "
                             f"({len(self._data)} bytes)")
        self.size = len(self._data)
        return self

    @property
    def data(self) -> bytes | None:
        """The decoded content, or None for a reference."""
        return self._data

    def meta(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude={"data_b64"})


def _mib(n: int) -> str:
    return f"{n / 1048576:.1f} MiB ({n} bytes)"


def check_sizes(attachments: list[Attachment], cfg: Any) -> None:
    """Raise :class:`AttachmentTooLarge` naming the file and the limit (``AlertConfig``)."""
    total = 0
    for a in attachments:
        if a.data is None:
            continue
        if len(a.data) > cfg.complaint_attachment_max_bytes:
            raise AttachmentTooLarge(f"complaint refused: attachment {a.name!r} is {_mib(len(a.data))}, over the "
                                     f"limit of {_mib(cfg.complaint_attachment_max_bytes)} per file "
                                     "(alerts.complaint_attachment_max_bytes)")
        total += len(a.data)
    if total > cfg.complaint_attachments_max_total_bytes:
        raise AttachmentTooLarge(f"complaint refused: the attachments are {_mib(total)} together, over the limit of "
                                 f"{_mib(cfg.complaint_attachments_max_total_bytes)} per complaint "
                                 "(alerts.complaint_attachments_max_total_bytes)")


def store_attachments(s: Session, row: Complaint, attachments: list[Attachment], now: float) -> None:
    """Write the contents; the complaint's list of attachments gets each stored one's id and sha256."""
    listed: list[dict[str, Any]] = []
    for a in attachments:
        meta = a.meta()
        if a.data is not None:
            stored = ComplaintAttachment(complaint_id=row.id, name=a.name, content_type=a.content_type,
                                         size=len(a.data), sha256=hashlib.sha256(a.data).hexdigest(), data=a.data,
                                         created=now)
            s.add(stored)
            s.flush()
            meta.update(id=stored.id, size=stored.size, sha256=stored.sha256)
        listed.append(meta)
    row.attachments = listed


def attachment_dict(a: ComplaintAttachment) -> dict[str, Any]:
    return {"id": a.id, "complaint_id": a.complaint_id, "name": a.name, "content_type": a.content_type,
            "size": a.size, "sha256": a.sha256, "created": a.created}


def load(s: Session, complaint_id: int, attachment_id: int) -> ComplaintAttachment:
    """The stored attachment; ``LookupError`` naming what is missing."""
    if s.get(Complaint, complaint_id) is None:
        raise LookupError(f"no complaint {complaint_id}")
    a = s.scalars(select(ComplaintAttachment).where(ComplaintAttachment.id == attachment_id,
                                                    ComplaintAttachment.complaint_id == complaint_id)).first()
    if a is None:
        raise LookupError(f"no attachment {attachment_id} stored with complaint {complaint_id}")
    return a
