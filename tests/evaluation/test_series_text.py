"""Series CSVs as engineers export them.

- Excel's "CSV UTF-8" starts the file with a byte-order mark: the header was refused as
  ``'\\ufefftimestamp,value'``, a character the user cannot see.
- Timestamps in epoch seconds (``1577836800``) were read by numpy as that many years, wrapped round to
  a date 175 million years BC, and the series scored on it without a word. They are refused naming
  the line.
- A failure series whose rows go back in time was judged from its first row as the start.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foreshock.cli import main
from foreshock.datasets import DatasetError, read_series


def test_a_series_saved_by_excel_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(b"\xef\xbb\xbftimestamp,value\r\n2020-01-01 00:00:00,1.5\r\n2020-01-01 00:10:00,2.5\r\n")
    s = read_series(path)
    assert s.values.tolist() == [1.5, 2.5]
    assert str(s.timestamps[0]) == "2020-01-01T00:00:00.000"


@pytest.mark.parametrize(("stamp", "says"), [
    ("1577836800", "line 2: '1577836800' is not a timestamp: expected UTC 'YYYY-MM-DD HH:MM:SS' (epoch seconds "
                   "are not read: write them as dates)"),
    ("1577836800.5", "line 2: '1577836800.5' is not a timestamp"),
    ("01/02/2020 10:00", "line 2: '01/02/2020 10:00' is not a timestamp: expected UTC 'YYYY-MM-DD HH:MM:SS'"),
])
def test_timestamps_that_are_no_dates_are_refused_naming_the_line(capsys, tmp_path: Path, stamp: str,
                                                                  says: str) -> None:
    path = tmp_path / "s.csv"
    path.write_text(f"timestamp,value\n{stamp},1.0\n")
    (tmp_path / "s.json").write_text(json.dumps({"events": []}))
    with pytest.raises(DatasetError, match="is not a timestamp"):
        read_series(path)
    code = main(["evaluate", str(path), "--jobs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and f"foreshock: error: {path}: {says}" in err, err


def test_a_failure_series_whose_rows_go_back_in_time_is_refused(capsys, tmp_path: Path) -> None:
    """Its start was taken from the first row, not the earliest: the failure at 00:15 of a series that
    begins at 00:00 was reported 300 s after the start, the rows then fed out of order."""
    path = tmp_path / "s.csv"
    path.write_text("timestamp,value\n2020-01-01 00:10:00,1\n2020-01-01 00:00:00,2\n2020-01-01 00:20:00,3\n")
    (tmp_path / "s.json").write_text(json.dumps({"events": [{"kind": "failure", "timestamp": "2020-01-01 00:15:00"}]}))
    code = main(["evaluate", str(path), "--jobs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert (f"foreshock: error: {path}: line 3: 2020-01-01T00:00:00.000 is before the line above "
            "(2020-01-01T00:10:00.000): a failure series is judged in time order") in err, err
