"""Text a ticket cannot hold is refused by name, on the command line and in the ticket desk.

A command-line argument that is not UTF-8 (typed in a terminal set to Latin-1: Python holds the byte as a
lone surrogate, ``"caf\\udce9"``) and an 8D ``--json`` content with a lone surrogate escape (``"\\ud800"``)
were stored; from then on the REST API answered that ticket, and the whole ticket list, with 400 "Error
serializing to JSON", for everyone. ``--json`` with NaN was stored and shown as null. SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

import pytest

from alerts.tickets import TicketError
from foreshock.cli import main
from tests.alerts.helpers import T0, open_ticket_for

pytestmark = pytest.mark.integration


@pytest.fixture
def svc(one_unit_svc):
    return one_unit_svc


def _readable(svc, number: str) -> dict:
    t = svc.get_ticket(number)
    json.dumps(t).encode("utf-8")  # what the API sends: it must encode
    return t


def test_cli_refuses_an_argument_that_is_not_utf8_naming_it(svc, db_url, monkeypatch, capsys):
    number = open_ticket_for(svc, "u1", "outer_race", T0, "a")
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", db_url)
    assert main(["tickets", "comment", number, "caf\udce9 grinds", "--by", "ana"]) == 2
    err = capsys.readouterr().err
    assert "text: 'caf\\udce9 grinds' is not UTF-8 text (byte 0xe9)" in err, err
    assert main(["tickets", "8d", number, "D4", "caf\udce9", "--by", "ana"]) == 2
    assert "content: 'caf\\udce9' is not UTF-8 text (byte 0xe9)" in capsys.readouterr().err
    t = _readable(svc, number)
    assert t["comments"] == [] and "D4" not in t["eight_d"]


@pytest.mark.parametrize(("content", "words"), [
    ('{"note": "\\ud800"}', "8D D3: content.note: text with a lone UTF-16 surrogate ('\\ud800')"),
    ('{"v": NaN}', "8D D3: content.v: NaN is not a number JSON can hold"),
    ('[1, Infinity]', "8D D3: content.1: Infinity is not a number JSON can hold"),
])
def test_cli_8d_json_that_json_cannot_hold_is_refused(svc, db_url, monkeypatch, capsys, content, words):
    number = open_ticket_for(svc, "u1", "outer_race", T0, "a")
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", db_url)
    assert main(["tickets", "8d", number, "D3", content, "--json", "--by", "ana"]) == 2
    err = capsys.readouterr().err
    assert words in err, err
    assert "D3" not in _readable(svc, number)["eight_d"]


def test_the_desk_refuses_8d_content_json_cannot_hold(svc):
    number = open_ticket_for(svc, "u1", "outer_race", T0, "a")
    for content in ({"k": ["ok", "\udfff"]}, {"\ud800": 1}, float("nan"), {"x": float("-inf")}):
        with pytest.raises(TicketError, match="8D D5: "):
            svc.update_8d(number, "D5", content, actor="ana")
    assert "D5" not in _readable(svc, number)["eight_d"]
    assert svc.update_8d(number, "D5", {"note": "ok \U0001F600", "n": 1.5}, actor="ana")["eight_d"]["D5"]["n"] == 1.5


def test_cli_takes_a_file_name_that_is_not_utf8(svc, db_url, monkeypatch, capsys, tmp_path):
    """A file's name may be any bytes: only text that is stored is checked."""
    import os

    monkeypatch.setenv("FORESHOCK_DATABASE__URL", db_url)
    monkeypatch.setenv("FORESHOCK_ALERTS__COMPLAINT_AUTO_ACK", "false")
    name = os.fsdecode(b"caf\xe9.eml")
    (tmp_path / name).write_bytes(b"From: bo@globex.example\r\nSubject: Fan\r\nMessage-ID: <t-1@globex>\r\n\r\n"
                                  b"Serial: P-0003\r\nModel: P-200\r\nSite: Lyon\r\nCustomer: Globex\r\n"
                                  b"Request: advice\r\nIt shakes.\r\n")
    assert main(["complaints", "email", str(tmp_path / name), "--by", "gateway"]) == 2
    err = capsys.readouterr().err
    assert "complaint refused: occurred_at: Field required" in err, err  # the file was read


def test_cli_8d_json_that_gives_a_key_twice_is_refused_naming_it(svc, db_url, monkeypatch, capsys):
    """`tickets 8d PF… D4 '{"cause": "a", "cause": "b"}' --json` stored {"cause": "b"} without a word."""
    number = open_ticket_for(svc, "u1", "outer_race", T0, "a")
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", db_url)
    assert main(["tickets", "8d", number, "D4", '{"x": {"cause": "a", "cause": "b"}}', "--json", "--by", "ana"]) == 2
    err = capsys.readouterr().err
    assert "--json: the content gives the key 'cause' 2 times in one object (at x); give each key once" in err, err
    assert "D4" not in _readable(svc, number)["eight_d"]


def test_cli_8d_from_stdin_that_is_not_utf8_names_the_byte(svc, db_url, monkeypatch, capsys):
    import io
    import sys

    number = open_ticket_for(svc, "u1", "outer_race", T0, "a")
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", db_url)
    stdin = io.TextIOWrapper(io.BytesIO(b"caf\xe9 grinds"), encoding="utf-8", errors="surrogateescape")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["tickets", "8d", number, "D4", "-", "--by", "ana"]) == 2
    err = capsys.readouterr().err
    assert "content (stdin): 'caf\\udce9 grinds' is not UTF-8 text (byte 0xe9)" in err, err
    assert "D4" not in _readable(svc, number)["eight_d"]


def test_cli_holds_8d_and_comments_to_the_apis_limits(svc, db_url, monkeypatch, capsys):
    """The API refuses an 8D discipline over 100,000 characters and a comment over 10,000 (every ticket of the
    ticket list carries them); `tickets 8d PF… D4 - < manual.txt` stored any size."""
    number = open_ticket_for(svc, "u1", "outer_race", T0, "a")
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", db_url)
    assert main(["tickets", "8d", number, "D4", "x" * 100_001, "--by", "ana"]) == 2
    assert ("8D D4: 100,001 characters, over the limit of 100,000 for one 8D discipline"
            in capsys.readouterr().err)
    assert main(["tickets", "8d", number, "D5", '{"k": "' + "x" * 100_000 + '"}', "--json", "--by", "ana"]) == 2
    assert "8D D5: 100,009 characters, over the limit" in capsys.readouterr().err
    assert main(["tickets", "comment", number, "y" * 10_001, "--by", "ana"]) == 2
    assert "a comment of 10,001 characters is over the limit of 10,000" in capsys.readouterr().err
    t = _readable(svc, number)
    assert t["comments"] == [] and "D4" not in t["eight_d"] and "D5" not in t["eight_d"]
    assert main(["tickets", "8d", number, "D4", "x" * 100_000, "--by", "ana"]) == 0  # at the limit: taken
    assert main(["tickets", "comment", number, "y" * 10_000, "--by", "ana"]) == 0
