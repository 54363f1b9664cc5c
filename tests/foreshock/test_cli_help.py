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
