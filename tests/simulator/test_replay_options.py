"""``foreshock simulate --replay``: --duration limits the replay; options that do not apply are refused.

--duration was ignored by --replay (a whole FEMTO run was published when ten minutes were asked
for), and --out, --truth, --seed or a fleet file beside --replay, or --device without it, were
dropped without a word."""

from __future__ import annotations

import numpy as np
import pytest

from foreshock.cli import main
from foreshock.datasets import write_run
from simulator.replay import replay_messages


def test_duration_keeps_only_the_first_part_of_the_dataset(tmp_path):
    x = np.random.default_rng(0).normal(0, 0.1, (6, 256))
    path = write_run(tmp_path / "r", x, [0, 10, 20, 30, 40, 50], fs=25600, rpm=1800)
    everything, span = replay_messages(path)
    assert [t for t, _, _ in everything] == [0, 10, 20, 30, 40, 50] and span == 50
    first, span = replay_messages(path, duration_s=25)
    assert [t for t, _, _ in first] == [0, 10, 20] and span == 20


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--replay", "D", "--device", "X-1", "--out", "o"], "--out: not used by --replay"),
        (["--replay", "D", "--device", "X-1", "--truth", "t.json", "--seed", "3"], "--truth, --seed: not used"),
        (["demo", "--replay", "D", "--device", "X-1"], "a fleet file: not used by --replay"),
        (["--replay", "D", "--device", "X-1", "--duration", "soon"], "--duration: expected a duration"),
        (["demo", "--device", "X-1"], "--device is for --replay"),
        (["demo", "--value-name", "temperature_c"], "--value-name is for --replay"),
        # were blamed on --replay (after the dataset was read): "--replay D: invalid device id 'bad/id'"
        (["--replay", "D", "--device", "bad/id"],
         "--device 'bad/id': not a valid device id (letters, digits, _.:-, starting with a letter or digit; at most 64)"),
        (["--replay", "D", "--device", "X-1", "--value-name", "Bad name"],
         "--value-name 'Bad name': not a value name the device protocol allows (lower-case letters, digits and _, "
         "starting with a letter; at most 64; not a reserved name: axis, device, time)"),
    ],
)
def test_options_that_do_not_apply_are_refused_before_anything_is_published(argv, says, capsys, monkeypatch):
    monkeypatch.setenv("FORESHOCK_MQTT__URL", "mqtt://127.0.0.1:1")  # nothing listens: must not be reached
    assert main(["simulate", *argv]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
