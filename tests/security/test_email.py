"""Raw complaint emails that would tie up the server are refused before parsing, naming the limit:
nested multiparts made Python's parser raise RecursionError (a 500), and thousands of empty parts cost
about a millisecond of CPU each (20 s for 1 MB)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from alerts.inbound import MAX_MIME_PARTS, MAX_MULTIPARTS, parse_email
from tests.api.conftest import auth, client, ctx, tokens  # noqa: F401 - fixtures

HEAD = b"From: Bo Chen <bo@globex.example>\r\nSubject: Fan shakes\r\nMIME-Version: 1.0\r\n"


def nested(depth: int) -> bytes:
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth))
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return HEAD + opening + b"Content-Type: text/plain\r\n\r\nSerial: P-0003\r\nRequest: advice\r\n" + closing


def many_parts(n: int) -> bytes:
    return (HEAD + b'Content-Type: multipart/mixed; boundary="z"\r\n\r\n'
            + b"--z\r\nContent-Type: text/plain\r\n\r\nSerial: P-0003\r\nRequest: advice\r\n"
            + b'--z\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="a"\r\n\r\nx\r\n' * n
            + b"--z--\r\n")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_nested_or_many_part_emails_are_refused_naming_the_limit(client, tokens):  # noqa: F811
    svc = {**auth(tokens["service"]), "Content-Type": "message/rfc822"}
    r = client.post("/api/v1/complaints/email", content=nested(1000), headers=svc)
    assert r.status_code == 400, r.text[:300]
    assert r.json()["detail"] == f"complaint refused: the email has 1000 multipart sections; at most {MAX_MULTIPARTS}"
    r = client.post("/api/v1/complaints/email", content=many_parts(2000), headers=svc)
    assert r.status_code == 400, r.text[:300]
    assert f"2001 MIME parts; at most {MAX_MIME_PARTS}" in r.json()["detail"]


def test_emails_a_complaint_sends_still_parse():
    assert parse_email(nested(3))["device_id"] == "P-0003"  # forwarded mail nests a few levels
    assert len(parse_email(many_parts(20))["attachments"]) == 20
    m = EmailMessage()
    m["From"], m["Subject"] = "Bo Chen <bo@globex.example>", "Fan shakes"
    m.set_content("Serial: P-0003\nRequest: advice\n-- \nBo\n" + "--\n" * 500)  # dashes in the text are no parts
    m.add_alternative("<p>Serial: P-0003</p>", subtype="html")
    m.add_attachment(b"\x00" * 10, maintype="application", subtype="octet-stream", filename="log.bin")
    out = parse_email(m.as_bytes())
    assert out["device_id"] == "P-0003" and [a["name"] for a in out["attachments"]] == ["log.bin"]
