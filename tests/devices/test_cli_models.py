"""`foreshock devices models` with flags: bearing flags change only the fields they name, zone limits, removing."""

from __future__ import annotations

import json

import pytest

from foreshock.cli import main


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", f"sqlite:///{tmp_path / 'cli.db'}")

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["devices", "models", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _bearing(cli, name: str) -> dict | None:
    return {m["name"]: m for m in json.loads(cli("list", "--json")[1])}[name]["bearing"]


def test_bearing_flags_of_an_update_change_only_what_they_name(cli):
    assert cli("add", "--name", "P-200", "--n-balls", "9", "--ball-d", "7.94", "--pitch-d", "39.04")[0] == 0
    assert _bearing(cli, "P-200") == {"n_balls": 9, "ball_d": 7.94, "pitch_d": 39.04, "contact_deg": 0.0}
    # before: "nothing to change: give at least one field flag"
    assert cli("update", "P-200", "--contact-deg", "15") == (0, "model P-200 updated\n", "")
    assert _bearing(cli, "P-200")["contact_deg"] == 15.0
    # before: "bearing.ball_d: Input should be a valid number"
    assert cli("update", "P-200", "--n-balls", "8")[0] == 0
    assert _bearing(cli, "P-200") == {"n_balls": 8, "ball_d": 7.94, "pitch_d": 39.04, "contact_deg": 15.0}
    # a new geometry keeps the contact angle unless given (before: put back to 0 silently)
    assert cli("update", "P-200", "--n-balls", "8", "--ball-d", "11.5", "--pitch-d", "44.5")[0] == 0
    assert _bearing(cli, "P-200") == {"n_balls": 8, "ball_d": 11.5, "pitch_d": 44.5, "contact_deg": 15.0}
    # the geometry is still checked as a whole
    code, _, err = cli("update", "P-200", "--ball-d", "50")
    assert code == 2 and "bearing.ball_d: must be smaller than pitch_d (50 >= 44.5)" in err


def test_a_partial_bearing_names_the_missing_flags(cli):
    code, _, err = cli("add", "--name", "F-1", "--n-balls", "8")
    assert code == 2 and "--ball-d, --pitch-d missing: a bearing needs --n-balls, --ball-d and --pitch-d" in err
    assert cli("add", "--name", "F-1")[0] == 0
    code, _, err = cli("update", "F-1", "--ball-d", "3")
    assert code == 2 and "--n-balls, --pitch-d missing" in err and "(the model has none yet)" in err
    code, _, err = cli("update", "F-1", "--clear-bearing", "--n-balls", "3")
    assert code == 2 and "give one or the other" in err
    code, _, err = cli("update", "NOPE", "--rated-rpm", "100")
    assert code == 2 and "no machine model named 'NOPE'" in err
    assert _bearing(cli, "F-1") is None


@pytest.mark.parametrize("limits", ["2.8;7.1;11", "a,b,c", "2.8,7.1", "2.8,7.1,11,14"])
def test_zone_limits_that_are_not_three_numbers_are_named_as_the_flag(cli, limits):
    # before: "zone_limits_mm_s.0: Input should be a valid number, unable to parse string as a number"
    code, _, err = cli("add", "--name", "Z-1", "--zone-limits", limits)
    assert code == 2
    assert f"--zone-limits: expected three numbers in mm/s separated by commas (A/B,B/C,C/D, e.g. 2.8,7.1,11), " \
           f"got '{limits}'" in err
    assert cli("add", "--name", "Z-1", "--zone-limits", "2.8, 7.1, 11")[0] == 0
    assert json.loads(cli("list", "--json")[1])[0]["zone_limits_mm_s"] == [2.8, 7.1, 11.0]


def test_a_model_added_by_mistake_can_be_removed_but_not_one_a_unit_has(cli, monkeypatch, capsys):
    assert cli("add", "--name", "PUMP-6250")[0] == 0  # the typo
    assert cli("add", "--name", "PUMP-6205")[0] == 0
    for serial in ("P-1", "P-2", "P-3", "P-4"):
        assert main(["devices", "add", serial, "--model", "PUMP-6205"]) == 0
    assert main(["devices", "decommission", "P-4"]) == 0
    capsys.readouterr()
    # before: no way to remove it ("invalid choice: 'remove'"); it stayed in every list for ever
    assert cli("remove", "PUMP-6250") == (0, "model PUMP-6250 removed\n", "")
    assert [m["name"] for m in json.loads(cli("list", "--json")[1])] == ["PUMP-6205"]
    code, _, err = cli("remove", "PUMP-6205")
    assert code == 2 and ("machine model 'PUMP-6205' is the model of 4 unit(s) (P-1, P-2, P-3, ...), decommissioned "
                          "ones included; move them to another model first") in err
    code, _, err = cli("remove", "PUMP-6250")
    assert code == 2 and "no machine model named 'PUMP-6250'" in err
    assert [m["name"] for m in json.loads(cli("list", "--json")[1])] == ["PUMP-6205"]
