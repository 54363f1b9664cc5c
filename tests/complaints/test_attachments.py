"""Attachment contents: uploaded as base64 through the API and the signed webhook, kept from a raw
email's MIME parts, downloaded back byte for byte; too large is refused with nothing stored."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from alerts.attachments import Attachment
from alerts.config import AlertConfig, SmtpConfig
from alerts.models import Complaint, ComplaintAttachment, Ticket
from alerts.notify import sign
from tests.api.conftest import auth, client, ctx, tokens  # noqa: F401 - fixtures
from tests.complaints.test_api import body

pytestmark = pytest.mark.integration

PHOTO = bytes(range(256)) * 3 + b"\x00\xff end"  # every byte value, NUL included
LOG = "Temperatur 81 °C\r\nAlarm: Lager\n".encode()


@pytest.fixture
def world(ctx, smtp):  # noqa: F811
    from tests.api.scenario import seed

    ctx.alerts.config = AlertConfig(smtp=SmtpConfig(port=smtp.port, sender="quality@foreshock.example"),
                                    complaint_webhook_secret="crm-secret", complaint_attachment_max_bytes=2000,
                                    complaint_attachments_max_total_bytes=3000)
    return seed(ctx)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def counts(ctx) -> tuple[int, int, int]:  # noqa: F811
    with ctx.session_factory() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Complaint, Ticket, ComplaintAttachment))


def test_upload_through_the_api_and_download_byte_for_byte(client, tokens, world):  # noqa: F811
    svc, viewer = auth(tokens["service"]), auth(tokens["viewer"])
    files = [{"name": "../../pump 3.jpg", "content_type": "image/jpeg", "data_b64": b64(PHOTO)},
             {"name": "Messprotokoll \"Mai\".txt", "content_type": "text/plain", "data_b64": b64(LOG)},
             {"name": "manual.pdf", "content_type": "application/pdf", "url": "https://acme.example/m.pdf"}]
    r = client.post("/api/v1/complaints", json=body(attachments=files), headers=svc)
    assert r.status_code == 201, r.text
    out = r.json()
    photo, log_, ref = out["attachments"]
    assert photo["name"] == "pump 3.jpg" and photo["size"] == len(PHOTO)
    assert photo["sha256"] == hashlib.sha256(PHOTO).hexdigest() and "data_b64" not in photo
    assert ref == {"name": "manual.pdf", "content_type": "application/pdf", "url": "https://acme.example/m.pdf"}
    detail = client.get(f"/api/v1/complaints/{out['id']}", headers=viewer).json()
    assert [a.get("download") for a in detail["attachments"]] == [photo["download"], log_["download"], None]
    assert photo["download"] == f"/api/v1/complaints/{out['id']}/attachments/{photo['id']}"

    got = client.get(photo["download"], headers=viewer)
    assert got.status_code == 200 and got.content == PHOTO
    assert got.headers["content-type"] == "image/jpeg"
    assert got.headers["content-disposition"] == "attachment; filename=\"pump 3.jpg\"; filename*=UTF-8''pump%203.jpg"
    assert got.headers["x-content-type-options"] == "nosniff"
    got = client.get(log_["download"], headers=viewer)
    assert got.content == LOG and got.headers["content-type"].startswith("text/plain")
    assert got.headers["content-disposition"].startswith('attachment; filename="Messprotokoll _Mai_.txt"')
    # the list and the ticket's communication carry the links too
    listed = client.get("/api/v1/complaints", headers=viewer).json()["data"][0]
    assert listed["attachments"][0]["download"] == photo["download"]
    comm = client.get(f"/api/v1/tickets/{out['ticket']}/communication", headers=viewer).json()
    assert comm["complaints"][0]["attachments"][1]["download"] == log_["download"]


def test_download_names_what_is_missing_and_needs_a_token(client, tokens, world):  # noqa: F811
    viewer = auth(tokens["viewer"])
    r = client.post("/api/v1/complaints", json=body(attachments=[{"name": "a.bin", "data_b64": b64(b"abc")}]),
                    headers=auth(tokens["service"]))
    cid, aid = r.json()["id"], r.json()["attachments"][0]["id"]
    assert r.json()["attachments"][0]["content_type"] == "application/octet-stream"
    r = client.get(f"/api/v1/complaints/{cid}/attachments/{aid + 1}", headers=viewer)
    assert r.status_code == 404 and r.json()["detail"] == f"no attachment {aid + 1} stored with complaint {cid}"
    r = client.get(f"/api/v1/complaints/{cid + 1}/attachments/{aid}", headers=viewer)
    assert r.status_code == 404 and r.json()["detail"] == f"no complaint {cid + 1}"
    assert client.get(f"/api/v1/complaints/{cid}/attachments/{aid}").status_code == 401


def test_bad_attachments_are_refused_naming_the_problem(client, tokens, world):  # noqa: F811
    svc = auth(tokens["service"])
    r = client.post("/api/v1/complaints", json=body(attachments=[{"name": "x.jpg", "data_b64": "not base64!"}]),
                    headers=svc)
    assert r.status_code == 422 and "'x.jpg': data_b64 is not valid base64" in r.json()["detail"]
    r = client.post("/api/v1/complaints", json=body(attachments=[{"name": "x.jpg", "size": 5, "data_b64": "AAEC"}]),
                    headers=svc)
    assert r.status_code == 422 and "size 5 does not match the content (3 bytes)" in r.json()["detail"]
    r = client.post("/api/v1/complaints", json=body(attachments=[{"name": "x", "content_type": "image/jpeg\r\nX: 1",
                                                                   "data_b64": "AAEC"}]), headers=svc)
    assert r.status_code == 422 and "content_type" in r.json()["detail"]


def test_too_large_is_refused_with_nothing_stored(client, tokens, world, ctx):  # noqa: F811
    svc = auth(tokens["service"])
    before = counts(ctx)
    big = {"name": "video.mp4", "content_type": "video/mp4", "data_b64": b64(b"v" * 2001)}
    r = client.post("/api/v1/complaints", json=body(device_id="P-0002", attachments=[big]), headers=svc)
    assert r.status_code == 413
    assert r.json()["detail"] == ("complaint refused: attachment 'video.mp4' is 0.0 MiB (2001 bytes), over the "
                                  "limit of 0.0 MiB (2000 bytes) per file (alerts.complaint_attachment_max_bytes)")
    two = [{"name": f"p{i}.jpg", "data_b64": b64(b"p" * 1600)} for i in range(2)]
    r = client.post("/api/v1/complaints", json=body(device_id="P-0002", attachments=two), headers=svc)
    assert r.status_code == 413 and "3200 bytes) together" in r.json()["detail"]
    assert "complaint_attachments_max_total_bytes" in r.json()["detail"]
    # the webhook too (from a CRM: a webhook may not claim a staff channel such as phone)
    payload = json.dumps(body(device_id="P-0002", attachments=[big], channel="crm")).encode()
    ts = str(int(time.time()))
    r = client.post("/api/v1/complaints/webhook", content=payload, headers={
        **svc, "Content-Type": "application/json", "X-Foreshock-Timestamp": ts,
        "X-Foreshock-Signature": sign("crm-secret", ts, payload)})
    assert r.status_code == 413 and "'video.mp4'" in r.json()["detail"]
    assert counts(ctx) == before  # no complaint, no ticket, no attachment row
    ok = client.post("/api/v1/complaints", json=body(device_id="P-0002", attachments=two[:1]), headers=svc)
    assert ok.status_code == 201 and counts(ctx) == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_signed_webhook_stores_the_content(client, tokens, world):  # noqa: F811
    svc = auth(tokens["service"])
    payload = json.dumps(body(device_id="P-0003", channel="crm", external_ref="crm-1",
                              attachments=[{"name": "log.txt", "content_type": "text/plain",
                                            "data_b64": b64(LOG)}])).encode()
    ts = str(int(time.time()))
    headers = {**svc, "Content-Type": "application/json", "X-Foreshock-Timestamp": ts,
               "X-Foreshock-Signature": sign("crm-secret", ts, payload)}
    r = client.post("/api/v1/complaints/webhook", content=payload, headers=headers)
    assert r.status_code == 201, r.text
    first = r.json()["attachments"][0]
    again = client.post("/api/v1/complaints/webhook", content=payload, headers=headers).json()
    assert again["attachments"] == [first]  # a CRM retry stores nothing twice
    assert client.get(first["download"], headers=auth(tokens["viewer"])).content == LOG


def mail_with(*files: tuple[str, str, bytes]) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "Bo Chen <bo@globex.example>", "complaints@foreshock.example", "Fan shakes"
    m["Message-ID"] = f"<{time.time_ns()}@globex>"
    m["Date"] = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    m.set_content("Serial: P-0003\nRequest: advice\nSince yesterday it shakes.\n")
    for name, ctype, data in files:
        maintype, subtype = ctype.split("/")
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return m.as_bytes()


def test_raw_email_keeps_the_mime_parts_bytes(client, tokens, world, ctx):  # noqa: F811
    svc = auth(tokens["service"])
    raw = mail_with(("C:\\fotos\\lüfter.jpg", "image/jpeg", PHOTO), ("trace.csv", "text/csv", b"t,v\n1,2\n"))
    r = client.post("/api/v1/complaints/email", content=raw, headers={**svc, "Content-Type": "message/rfc822"})
    assert r.status_code == 201, r.text
    photo, trace = r.json()["attachments"]
    assert (photo["name"], photo["content_type"], photo["size"]) == ("lüfter.jpg", "image/jpeg", len(PHOTO))
    got = client.get(photo["download"], headers=auth(tokens["viewer"]))
    assert got.content == PHOTO
    assert got.headers["content-disposition"] == ("attachment; filename=\"l_fter.jpg\"; "
                                                  "filename*=UTF-8''l%C3%BCfter.jpg")
    assert client.get(trace["download"], headers=auth(tokens["viewer"])).content == b"t,v\n1,2\n"
    before = counts(ctx)
    r = client.post("/api/v1/complaints/email", content=mail_with(("big.jpg", "image/jpeg", b"x" * 2500)),
                    headers={**svc, "Content-Type": "message/rfc822"})
    assert r.status_code == 413 and "'big.jpg' is 0.0 MiB (2500 bytes)" in r.json()["detail"]
    assert counts(ctx) == before


def test_defaults_and_the_model():
    cfg = AlertConfig()
    assert (cfg.complaint_attachment_max_bytes, cfg.complaint_attachments_max_total_bytes) == (10 << 20, 25 << 20)
    a = Attachment.model_validate({"name": "/\x00\r\n", "data_b64": "aGVs\nbG8="})  # MIME-style line breaks
    assert (a.name, a.data, a.size) == ("attachment", b"hello", 5)
    assert "data_b64" not in a.meta()
    with pytest.raises(ValueError, match="limit of 10.0 MiB"):
        from alerts.attachments import check_sizes

        check_sizes([Attachment(name="x", data_b64=b64(b"x" * ((10 << 20) + 1)))], cfg)


def test_migration_matches_the_model(factory):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import MetaData

    from foreshock.db import Base

    md = MetaData(naming_convention=Base.metadata.naming_convention)
    for t in Base.metadata.sorted_tables:
        if t.name in ("complaint_attachments", "complaints", "tickets"):
            t.to_metadata(md)
    with factory() as s:
        diffs = compare_metadata(MigrationContext.configure(s.connection(), opts={"compare_type": True}), md)
    assert [d for d in diffs if "complaint_attachments" in repr(d)] == []
