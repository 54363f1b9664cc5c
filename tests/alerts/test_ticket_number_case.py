"""``foreshock tickets …`` with the ticket number in any letter case: ``pf202611001`` typed from a phone call
or an e-mail is ticket PF202611001 (it was ``no ticket 'pf202611001'``, exit code 2). The number is stored
as made, upper case. SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

import pytest

from foreshock.cli import main
from tests.alerts.helpers import T0, open_ticket_for

pytestmark = pytest.mark.integration


@pytest.fixture
def svc(one_unit_svc):
    return one_unit_svc


def test_cli_ticket_commands_find_the_ticket_whatever_the_letter_case(svc, db_url, monkeypatch, capsys):
    number = open_ticket_for(svc, "u1", "outer_race", T0, "a")
    typed = number.lower()
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", db_url)

    assert main(["tickets", "show", typed]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["number"] == number
    assert main(["tickets", "assign", typed, "--to", "ana", "--by", "lead"]) == 0
    assert f"{number} assigned to ana" in capsys.readouterr().out
    assert main(["tickets", "comment", typed, "customer called", "--by", "ana"]) == 0
    assert f"{number}: 1 comment(s)" in capsys.readouterr().out
    assert main(["tickets", "8d", typed, "D4", "grease contaminated", "--by", "ana"]) == 0
    assert f"{number}: D4 updated" in capsys.readouterr().out
    assert main(["tickets", "move", typed, "triaged", "--by", "ana"]) == 0
    assert f"{number} is now triaged" in capsys.readouterr().out
    assert main(["tickets", "feedback", typed, "confirmed", "--by", "ana"]) == 0
    assert f"{number}: feedback confirmed recorded" in capsys.readouterr().out
    assert main(["tickets", "feedback", typed, "withdraw", "--reason", "wrong ticket", "--by", "ana"]) == 0
    assert f"{number}: feedback withdrawn" in capsys.readouterr().out

    t = svc.get_ticket(number)
    assert (t["number"], t["assignee"], t["status"], t["eight_d"]["D4"]) == (number, "ana", "triaged",
                                                                             "grease contaminated")
    assert main(["tickets", "show", "pf209901999"]) == 2
    assert "no ticket 'pf209901999'" in capsys.readouterr().err
