"""``foreshock complaints`` and ``foreshock actions`` on the command line."""

from __future__ import annotations

import json

import pytest

from foreshock.cli import main

pytestmark = pytest.mark.integration

MAIL = (b"From: Bo Chen <bo@globex.example>\r\nSubject: Fan shakes\r\nMessage-ID: <cli-1@globex>\r\n"
        b"Date: Mon, 02 Nov 2026 01:00:00 +0000\r\n\r\nSerial: P-0003\r\nRequest: advice\r\nIt shakes.\r\n")


def test_cli_complaint_from_email_and_corrective_action(registry, db_url, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", db_url)
    monkeypatch.setenv("FORESHOCK_ALERTS__COMPLAINT_AUTO_ACK", "false")  # no SMTP server in this test
    mail = tmp_path / "m.eml"
    mail.write_bytes(MAIL)
    assert main(["complaints", "email", str(mail), "--by", "gateway"]) == 0
    assert "from Globex opened ticket PF2026" in capsys.readouterr().out
    assert main(["complaints", "list"]) == 0
    assert "1 complaint(s)" in capsys.readouterr().out
    assert main(["actions", "add", "--title", "Supplier change", "--batch", "B7", "--applied", "2026-10-01"]) == 0
    # the scope in words (it was printed as {'batch': 'B7'})
    assert "recorded: Supplier change (scope: batch B7) from 2026-10-01" in capsys.readouterr().out
    assert main(["actions", "list"]) == 0
    listed = capsys.readouterr().out
    assert "Supplier change" in listed and "not verified" in listed
    action_id = listed.split()[0]
    assert main(["actions", "verify", action_id]) == 0
    assert "not yet decided" in capsys.readouterr().out
    assert main(["actions", "add", "--title", "x", "--applied", "2026-10-01"]) == 2
    assert "needs a scope" in capsys.readouterr().err
    assert main(["actions", "add", "--title", "x", "--batch", "B7", "--applied", "yesterday"]) == 2
    assert "--applied must be YYYY-MM-DD" in capsys.readouterr().err
    assert main(["actions", "add", "--title", "x", "--serial-from", "P-0009", "--serial-to", "P-0001",
                 "--applied", "2026-10-01"]) == 2  # was recorded, and refused only by 'actions verify'
    assert "serial_from 'P-0009' comes after serial_to 'P-0001'" in capsys.readouterr().err
    assert main(["actions", "add", "--title", "Bearing supplier", "--serial-from", "P-0001", "--serial-to", "P-0002",
                 "--applied", "2026-10-01"]) == 0
    assert "(scope: serials P-0001 to P-0002)" in capsys.readouterr().out


def test_an_action_applied_outside_1970_3000_is_refused_and_not_stored(registry, db_url, monkeypatch, capsys):
    """``--applied 0001-01-01`` was recorded, and ``actions verify`` then failed for ever (year 0 is out of range)."""
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", db_url)
    for when in ("0001-01-01", "1969-12-31", "9999-12-31T23:59:59-23:00"):
        assert main(["actions", "add", "--title", "x", "--batch", "B7", "--applied", when]) == 2
        err = capsys.readouterr().err
        assert "--applied: " in err and "between 1970-01-01 and 3000-01-01" in err and "Traceback" not in err
    assert main(["actions", "list"]) == 0
    assert "0 action(s)" in capsys.readouterr().out


def test_an_incomplete_email_names_the_body_lines_it_lacks(registry, db_url, monkeypatch, capsys, tmp_path):
    # a service engineer forwards what the customer wrote: "request: Field required" alone does not
    # say that the email needs a "Request: repair" line
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", db_url)
    mail = tmp_path / "m.eml"
    mail.write_bytes(b"From: bob@acme.example\r\nSubject: Pump P-0001 is noisy\r\n\r\nIt grinds since Monday.\r\n")
    assert main(["complaints", "email", str(mail)]) == 2
    err = capsys.readouterr().err
    assert "complaint refused: occurred_at: Field required; request: Field required; unit:" in err
    assert "an email gives these as lines of its body: Serial: P-0001" in err
    assert "Request: repair (or replacement, refund, advice)" in err and "Occurred: 2026-11-20T08:00:00Z" in err
    assert main(["complaints", "list"]) == 0
    assert "0 complaint(s)" in capsys.readouterr().out


def test_a_resent_email_says_nothing_changed_and_a_missing_file_is_named(registry, db_url, monkeypatch, capsys,
                                                                         tmp_path):
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", db_url)
    monkeypatch.setenv("FORESHOCK_ALERTS__COMPLAINT_AUTO_ACK", "false")
    mail = tmp_path / "m.eml"
    mail.write_bytes(MAIL)
    assert main(["complaints", "email", str(mail)]) == 0
    first = capsys.readouterr().out
    assert main(["complaints", "email", str(mail)]) == 0  # the mail gateway delivers it twice
    again = capsys.readouterr().out
    assert "was already registered (same Message-ID <cli-1@globex>)" in again and "nothing changed" in again
    assert first.split()[1] == again.split()[1]  # the same complaint id
    assert main(["complaints", "email", str(tmp_path / "nope.eml")]) == 2
    err = capsys.readouterr().err
    assert "cannot read the email" in err and "nope.eml: No such file or directory" in err
    assert "Traceback" not in err


def test_a_list_longer_than_one_page_says_which_complaints_it_shows(registry, db_url, monkeypatch, capsys,
                                                                    tmp_path):
    # 'complaints list' printed the newest 200 and "250 complaint(s)" under them, as if that were all
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", db_url)
    monkeypatch.setenv("FORESHOCK_ALERTS__COMPLAINT_AUTO_ACK", "false")
    mail = tmp_path / "m.eml"
    for i in range(3):
        mail.write_bytes(MAIL.replace(b"<cli-1@globex>", f"<cli-page-{i}@globex>".encode()))
        assert main(["complaints", "email", str(mail)]) == 0
    capsys.readouterr()
    assert main(["complaints", "list", "--limit", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[-1] == "3 complaint(s); shown: 1-2, newest first (--offset 2 for the next)"
    assert main(["complaints", "list", "--limit", "2", "--offset", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[-1] == "3 complaint(s); shown: 3-3, newest first"
    assert main(["complaints", "list", "--limit", "2", "--json"]) == 0
    got = capsys.readouterr()
    assert len(json.loads(got.out)) == 2 and "3 complaint(s); shown: 1-2" in got.err
    assert main(["complaints", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "3 complaint(s)"
    assert main(["complaints", "list", "--limit", "0"]) == 2
    assert "--limit must be 1..500, got 0" in capsys.readouterr().err
