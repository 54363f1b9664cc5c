"""``foreshock devices|db|alerts|tickets|report|complaints|actions … --help`` explain every option and argument.

Half of them showed a bare name (``--passwd FILE``, ``--acl FILE``, ``--presence``, ``--serial-from
SERIAL``, ``--json``, ``ID``): an operator had to read docs/devices.md to learn which file
``write-broker-config`` writes where, or what a serial range compares.
"""

from __future__ import annotations

import argparse

from foreshock.cli import build_parser


def _unexplained(parser: argparse.ArgumentParser, path: list[str]) -> list[str]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                out += _unexplained(child, [*path, name])
        elif not action.help and not isinstance(action, argparse._HelpAction):
            out.append(f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}")
    return out


def test_every_option_and_argument_of_the_registry_and_database_commands_has_a_help_text():
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    missing = [line for name in ("devices", "db", "alerts", "tickets", "report", "complaints", "actions")
               for line in _unexplained(commands[name], ["foreshock", name])]
    assert missing == []


def test_run_help_says_its_exit_statuses_and_where_readiness_is_asked(capsys):
    """What `foreshock run` exits with (a monitoring check or a unit file acts on it) and how to ask whether it
    is ready were only in docs/deployment.md; `foreshock run --help` listed two options."""
    import pytest

    from foreshock.cli import main

    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for said in ("Exit status 0 after a clean stop", "1 when the start is refused", "2 when the settings do not parse",
                 "3 when a worker was still busy", "GET /readyz", "503"):
        assert said in text, said
