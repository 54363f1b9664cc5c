"""Complaints from outside: a signed webhook (web form, CRM) and raw RFC 822 email from a mail gateway.

**Webhook.** The sender signs like Foreshock's own webhooks (:func:`alerts.notify.sign`): header
``X-Foreshock-Timestamp`` (epoch seconds) and ``X-Foreshock-Signature: sha256=<hex>``, the
HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``AlertConfig.complaint_webhook_secret``. A missing or
wrong signature, or a timestamp older than the tolerance (replay), is refused naming which.

**Email.** The mail gateway posts the raw message. The sender becomes the contact, the subject and
plain-text body the description, the ``Message-ID`` the idempotence key, ``Date`` the reported time;
``Key: value`` lines in the body fill the rest (``Serial``, ``Customer``, ``Model``, ``Site``,
``Request``, ``Occurred``, ``Phone``, ``Failure mode``). Attachments keep their bytes (base64 in the
complaint dict, stored with the complaint; :mod:`alerts.attachments`).

>>> raw = (b"From: Ann Lee <ann@acme.example>\\r\\nSubject: Pump noisy\\r\\nMessage-ID: <m1@acme>\\r\\n"
...        b"Date: Fri, 20 Nov 2026 08:00:00 +0000\\r\\n\\r\\nSerial: P-0001\\r\\nRequest: repair\\r\\nIt grinds.\\r\\n")
>>> d = parse_email(raw)
>>> d["device_id"], d["request"], d["contact"]["email"], d["external_ref"], d["occurred_at"]
('P-0001', 'repair', 'ann@acme.example', 'email:<m1@acme>', '2026-11-20T08:00:00+00:00')
"""

from __future__ import annotations

import base64
import re
from email import message_from_bytes, policy
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any

from alerts.notify import verify

__all__ = ["check_email", "parse_email", "verify_webhook"]

_FIELDS = {"serial": "device_id", "unit": "device_id", "device": "device_id", "customer": "customer",
           "model": "model", "site": "site", "request": "request", "occurred": "occurred_at",
           "when": "occurred_at", "phone": "phone", "failure mode": "failure_mode"}
_EPOCH = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")
_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z ]{1,20}?)\s*:\s*(.+?)\s*$")
# Python's email parser recurses into nested multiparts (a thousand levels, 70 KB, raised RecursionError: a
# 500) and takes about a millisecond per part (10,000 empty parts in 1 MB: 20 s of CPU for one request).
# A complaint takes at most 20 attachments: more sections or parts than this are refused before parsing.
MAX_MULTIPARTS = 20
MAX_MIME_PARTS = 100
_BOUNDARY = re.compile(rb'boundary\s*=\s*"?([^"\s;]{1,200})', re.IGNORECASE)


def verify_webhook(secret: str | None, timestamp: str | None, body: bytes, signature: str | None, *,
                   now: float, tolerance_s: float) -> None:
    """Raise ``PermissionError`` naming what is wrong with a signed complaint webhook."""
    if not secret:
        raise PermissionError("the complaint webhook is not configured (alerts.complaint_webhook_secret)")
    if not timestamp or not signature:
        raise PermissionError("missing X-Foreshock-Timestamp or X-Foreshock-Signature header")
    # Digits only: float() also reads "nan", which no distance exceeds, so a request signed with it passed
    # the replay check for ever (and "inf", "1e3", "1_795_000_000").
    if not _EPOCH.fullmatch(timestamp):
        raise PermissionError(f"X-Foreshock-Timestamp must be epoch seconds (digits, e.g. "
                              f"{int(now)}), got {timestamp[:40]!r}")
    ts = float(timestamp)
    if abs(now - ts) > tolerance_s:
        raise PermissionError(f"X-Foreshock-Timestamp is {abs(now - ts):.0f} s away from now "
                              f"(tolerance {tolerance_s:.0f} s): replayed or clock skew")
    # hmac.compare_digest raises TypeError on a str with non-ASCII characters (a header is read as Latin-1): a 500
    if not signature.isascii() or not verify(secret, timestamp, body, signature):
        raise PermissionError("bad X-Foreshock-Signature (HMAC-SHA256 of '<timestamp>.<body>')")


def _attachment(part: Any) -> dict[str, Any]:
    data = part.get_payload(decode=True) or b""
    return {"name": part.get_filename() or "attachment", "content_type": part.get_content_type(),
            "data_b64": base64.b64encode(data).decode("ascii")}


_BODY_LINES = {"device_id": "Serial: P-0001", "unit": "Serial: P-0001 (or Model: and Site:)",
               "request": "Request: repair (or replacement, refund, advice)",
               "occurred_at": "Occurred: 2026-11-20T08:00:00Z (else the Date header is used)",
               "customer": "Customer: ACME"}


def check_email(raw: bytes) -> Any:
    """The validated complaint (:class:`alerts.complaints.ComplaintIn`) of a raw email.

    What the email lacks is named as the body line that would give it ("add these lines to the
    body: Request: repair ..."), not only as the field of the JSON form.
    """
    from alerts.complaints import check_complaint

    data = parse_email(raw)
    try:
        return check_complaint(data)
    except ValueError as exc:
        if type(exc) is not ValueError:
            raise
        text = str(exc)
        lines = [line for field, line in _BODY_LINES.items() if re.search(rf"(^|; |: ){field}[:. ]", text)]
        if not lines:
            raise
        raise ValueError(f"{text} (an email gives these as lines of its body: {'; '.join(lines)})") from None


def _body_text(part: Any) -> str:
    """The text of a body part. A charset Python does not know ("unknown-8bit", which mail gateways
    write, or a typo) made ``get_content`` raise LookupError, which the API answered as a 404 "unknown
    encoding" and the complaint was lost: such a body is read as UTF-8, else as Windows-1252 (what
    unlabelled 8-bit mail mostly is), bytes neither knows marked."""
    try:
        return part.get_content()
    except (LookupError, UnicodeError):
        data = part.get_payload(decode=True) or b""
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252", errors="replace")


def _check_structure(raw: bytes) -> None:
    """Refuse, naming the limit, an email with more multipart sections or parts than a complaint needs.

    Counted in the raw text (an over-count is possible, never an under-count): ``boundary=`` parameters
    for the sections, lines starting with ``--<boundary>`` (but not ``--<boundary>--``) for the parts.
    """
    boundaries = set(_BOUNDARY.findall(raw))
    if len(boundaries) > MAX_MULTIPARTS:
        raise ValueError(f"complaint refused: the email has {len(boundaries)} multipart sections; at most "
                         f"{MAX_MULTIPARTS}")
    parts = sum(raw.count(b"\n--" + b) - raw.count(b"\n--" + b + b"--") for b in boundaries)  # not the closing lines
    if parts > MAX_MIME_PARTS:
        raise ValueError(f"complaint refused: the email has {parts} MIME parts; at most {MAX_MIME_PARTS} "
                         "(and at most 20 attachments)")


def parse_email(raw: bytes) -> dict[str, Any]:
    """A complaint dict (for :func:`alerts.complaints.check_complaint`) from a raw RFC 822 message."""
    if not raw or not raw.strip():
        raise ValueError("complaint refused: the email message is empty")
    _check_structure(raw)
    msg = message_from_bytes(raw, policy=policy.default)
    name, address = parseaddr(str(msg.get("From", "")))
    if "@" not in address:
        raise ValueError("complaint refused: the email has no sender address (From)")
    body_part = msg.get_body(preferencelist=("plain",))
    text = _body_text(body_part) if body_part is not None else ""
    fields: dict[str, str] = {}
    rest: list[str] = []
    for line in text.splitlines():
        m = _LINE.match(line)
        key = m.group(1).strip().lower() if m else None
        if m is not None and key in _FIELDS and _FIELDS[key] not in fields:
            fields[_FIELDS[key]] = m.group(2)
        elif line.strip():
            rest.append(line.strip())
    subject = str(msg.get("Subject", "")).strip()
    description = "\n".join(x for x in (subject, *rest) if x)
    out: dict[str, Any] = {
        "channel": "email", "description": description,
        "contact": {"name": name or None, "email": address, **({"phone": fields["phone"]} if "phone" in fields else {})},
        "attachments": [_attachment(p) for p in msg.iter_attachments()],
    }
    for key in ("device_id", "customer", "model", "site", "failure_mode"):
        if key in fields:
            out[key] = fields[key]
    if "request" in fields:
        out["request"] = fields["request"].lower()
    if "occurred_at" in fields:
        out["occurred_at"] = fields["occurred_at"]
    elif msg.get("Date"):
        try:
            out["occurred_at"] = parsedate_to_datetime(str(msg["Date"])).isoformat()
        except (TypeError, ValueError):
            pass
    if msg.get("Message-ID"):
        out["external_ref"] = ("email:" + str(msg["Message-ID"]).strip())[:200]
    return out
