"""CSV downloads a spreadsheet opens: a cell that starts like a formula is text, not a formula.

A unit chooses its own firmware string (its status message) and customers' names come from forms:
`=HYPERLINK("http://evil.example/","Update")` in the units export, or a customer named `@SUM(...)` in
the monthly report's Pareto table, ran when the file was opened in a spreadsheet (CSV injection).
"""

from __future__ import annotations

import csv
import io

from devices.csvio import export_units, import_units
from devices.registry import Registry
from foreshock.db import make_engine, migrate, session_factory

EVIL = '=HYPERLINK("http://evil.example/","Update")'


def test_the_units_export_writes_formulas_as_text_and_its_import_reads_them_back(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    migrate(engine)
    registry = Registry(session_factory(engine))
    registry.create_unit("P-0001", customer="@SUM(A1:A9)", site="+49 hall", firmware=EVIL, batch="-B1")
    registry.create_unit("P-0002", customer="ACME", site="Hall 2", firmware="1.2.0", batch="-12")
    text = export_units(registry)
    rows = {r["device_id"]: r for r in csv.DictReader(io.StringIO(text))}
    first = rows["P-0001"]
    assert (first["customer"], first["site"], first["firmware"], first["batch"]) == (
        "'@SUM(A1:A9)", "'+49 hall", "'" + EVIL, "'-B1")
    assert (rows["P-0002"]["customer"], rows["P-0002"]["batch"]) == ("ACME", "-12")  # plain text, a number: as is
    assert import_units(registry, io.StringIO(text)) == (0, 2)  # the round trip keeps every value
    unit = registry.get_unit("P-0001")
    assert (unit.customer, unit.site, unit.firmware, unit.batch) == ("@SUM(A1:A9)", "+49 hall", EVIL, "-B1")
    assert export_units(registry) == text
    engine.dispose()


def test_the_monthly_report_csv_writes_formulas_as_text():
    from alerts.reports import report_csv

    report = {"alerts": {}, "tickets": {}, "top5_failure_modes": [],
              "pareto": {"customer": [{"key": "=cmd|' /C calc'!A0", "count": 3, "share": 1.0, "cumulative": 1.0}],
                         "firmware": [{"key": EVIL, "count": 1, "share": 1.0, "cumulative": 1.0}]},
              "mtta_s": -1.5, "mttr_s": None, "sla": {}, "field_precision": {"all": {}}}
    rows = list(csv.reader(io.StringIO(report_csv(report))))
    keys = {r[1] for r in rows if r[0].startswith("pareto_")}
    assert keys == {"'=cmd|' /C calc'!A0", "'" + EVIL}
    assert ["times", "mtta_s", "mean", "-1.5"] in rows  # a negative number stays a number


def test_text_that_already_starts_with_an_apostrophe_and_a_formula_character_round_trips(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    migrate(engine)
    registry = Registry(session_factory(engine))
    registry.create_unit("P-0001", customer="'=quoted", site="''+two", firmware="'plain", batch="'-12")
    text = export_units(registry)
    row = next(csv.DictReader(io.StringIO(text)))
    assert (row["customer"], row["site"], row["firmware"], row["batch"]) == ("''=quoted", "'''+two", "'plain", "'-12")
    assert import_units(registry, io.StringIO(text)) == (0, 1)
    unit = registry.get_unit("P-0001")
    assert (unit.customer, unit.site, unit.firmware, unit.batch) == ("'=quoted", "''+two", "'plain", "'-12")
    engine.dispose()
