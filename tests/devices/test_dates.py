"""A unit's dates are YYYY-MM-DD, whatever the entry point, and its model is named exactly: what is not is
named, never guessed."""

from __future__ import annotations

import io

import pytest

from devices.csvio import CsvImportError, import_units
from devices.errors import InvalidInput


def test_an_import_refuses_dates_that_are_not_iso_rather_than_reading_1970(registry):
    csv_text = (
        "device_id,install_date,warranty_end\n"
        "P-0001,0,\n"              # an ERP's "unknown": stored as 1970-01-01 before
        "P-0002,2025-01-15,86400\n"  # stored as 1970-01-02 before
        "P-0003,20250115,\n"       # "Datetimes provided to dates should have zero time" before
        "P-0004,01/02/2025,\n"     # "Input should be a valid date or datetime, invalid character in year" before
        "P-0005,2025-02-30,\n"
        "P-0006, 2025-01-15 ,2027-01-15\n"
    )
    with pytest.raises(CsvImportError) as err:
        import_units(registry, io.StringIO(csv_text))
    text = str(err.value)
    assert [(e.line, e.field) for e in err.value.errors] == [
        (2, "install_date"), (3, "warranty_end"), (4, "install_date"), (5, "install_date"), (6, "install_date")]
    assert "line 2: install_date: expected a date as YYYY-MM-DD, got '0'" in text
    assert "line 3: warranty_end: expected a date as YYYY-MM-DD, got '86400'" in text
    assert "line 4: install_date: expected a date as YYYY-MM-DD, got '20250115'" in text
    assert "line 5: install_date: expected a date as YYYY-MM-DD, got '01/02/2025'" in text
    assert "line 6: install_date: '2025-02-30' is not a date (day is out of range for month)" in text
    assert registry.get_unit("P-0001") is None


def test_the_python_api_refuses_a_number_for_a_date(registry):
    with pytest.raises(InvalidInput, match="install_date: expected a date as YYYY-MM-DD, got 0"):
        registry.create_unit("P-0001", install_date=0)
    unit = registry.create_unit("P-0002", install_date="2025-01-15", warranty_end=" 2027-01-15")
    assert (str(unit.install_date), str(unit.warranty_end)) == ("2025-01-15", "2027-01-15")


def test_a_misspelt_model_gets_the_nearest_name(registry):
    registry.create_model("PUMP-6205")
    registry.create_model("FAN-6305")
    csv_text = "device_id,model\nP-0001,PUMP-6250\nP-0002,pump-6205\nP-0003,GEARBOX-9\n"
    with pytest.raises(CsvImportError) as err:
        import_units(registry, io.StringIO(csv_text))
    assert [str(e) for e in err.value.errors] == [
        "line 2: model: no machine model named 'PUMP-6250' (did you mean 'PUMP-6205'?)",
        "line 3: model: no machine model named 'pump-6205' (did you mean 'PUMP-6205'?)",
        "line 4: model: no machine model named 'GEARBOX-9'",
    ]
    with pytest.raises(InvalidInput, match=r"no machine model named 'FAN-6350' \(did you mean 'FAN-6305'\?\)"):
        registry.create_unit("P-0001", model="FAN-6350")
    with pytest.raises(InvalidInput, match=r"'GEARBOX-9' \(add it first: foreshock devices models add\)"):
        registry.create_unit("P-0001", model="GEARBOX-9")


def test_a_header_in_capitals_is_read_and_a_header_repeated_inside_the_file_is_refused(registry):
    # before: "unknown column" for Device_ID; and two exports joined made a unit 'device_id' of the second header
    assert import_units(registry, io.StringIO("Device_ID,Customer\nP-0001,ACME\n")) == (1, 0)
    assert registry.get_unit("P-0001").customer == "ACME"
    joined = "device_id,customer\nP-0002,ACME\ndevice_id,customer\nP-0003,ACME\n"
    with pytest.raises(CsvImportError) as err:
        import_units(registry, io.StringIO(joined))
    assert [str(e) for e in err.value.errors] == [
        "line 3: row: repeats the header line (two files joined into one?); remove it"]
    assert registry.get_unit("device_id") is None and registry.get_unit("P-0002") is None
