"""A models file whose tables are misnamed says so, instead of "name: Field required".

README's pump.toml holds ``[[models]]`` tables. Written ``[[model]]`` (or ``[[modles]]``), the whole file was
read as one model without a name: ``model #1 (?): name: Field required``, though every table had a name.
"""

from __future__ import annotations

import json

import pytest



@pytest.mark.parametrize("table", ["model", "modles", "Models"])
def test_misnamed_tables_are_named_in_the_error(cli, tmp_path, table):
    path = tmp_path / "pump.toml"
    path.write_text(f'[[{table}]]\nname = "PUMP-6205"\nrated_rpm = 1780\n\n[{table}.bearing]\n'
                    'n_balls = 9\nball_d = 7.94\npitch_d = 39.04\n')
    code, _, err = cli("models", "add", "--file", str(path))
    assert code == 2
    assert f"found [[{table}]]" in err and "expected [[models]] tables" in err
    assert "Field required" not in err
    assert json.loads(cli("models", "list", "--json")[1]) == []


def test_a_single_model_without_tables_still_names_its_missing_field(cli, tmp_path):
    path = tmp_path / "one.toml"
    path.write_text('rated_rpm = 1780\n[bearing]\nn_balls = 9\nball_d = 7.94\npitch_d = 39.04\n')
    code, _, err = cli("models", "add", "--file", str(path))
    assert code == 2 and "name: Field required" in err
    path.write_text('name = "ONE"\nrated_rpm = 1780\n')
    assert cli("models", "add", "--file", str(path))[0] == 0
