"""Our encoder produces exactly what influxdb-client's Point.to_line_protocol() produces."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from influxdb_client import Point as ClientPoint
from influxdb_client import WritePrecision

from foreshock.tsdb.base import Point
from foreshock.tsdb.lineprotocol import encode_point, encode_points

NASTY = st.sampled_from([" ", ",", "=", '"', "\\", "\n", "\t", "\r", "é", "∆", "🙂", "'", "#"])
names = st.text(st.one_of(NASTY, st.characters(codec="utf-8", exclude_categories=("Cs",))), min_size=1, max_size=12)
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.text(st.one_of(NASTY, st.characters(exclude_categories=("Cs",))), max_size=12),
)


def _client_line(p: Point) -> str:
    cp = ClientPoint(p.measurement)
    for k, v in p.tags.items():
        cp.tag(k, v)
    for k, v in p.fields.items():
        cp.field(k, v)
    cp.time(p.ts_ms, WritePrecision.MS)
    return cp.to_line_protocol()


@settings(max_examples=400, deadline=None)
@given(
    measurement=names,
    tags=st.dictionaries(names, names, max_size=3),
    fields=st.dictionaries(names, values, min_size=1, max_size=4),
    ts=st.integers(min_value=0, max_value=2**53),
)
def test_same_bytes_as_influxdb_client(measurement, tags, fields, ts):
    p = Point(measurement, tags, fields, ts)
    assert encode_point(p) == _client_line(p)


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"x": 1.0}, "x=1"),
        ({"x": 1}, "x=1i"),
        ({"x": True}, "x=true"),
        ({"x": 'say "hi" \\'}, r'x="say \"hi\" \\"'),
        ({"x": 1e21}, "x=1e+21"),
        ({"a b,c=d": 2.5}, r"a\ b\,c\=d=2.5"),
    ],
)
def test_field_encoding(fields, expected):
    assert encode_point(Point("m", {}, fields, 7)) == f"m {expected} 7"


def test_tag_value_ending_in_backslash_and_skipped_values():
    p = Point("m,x y", {"dev": "a\\", "empty": ""}, {"nan": math.nan, "ok": 1.5}, 1)
    assert encode_point(p) == r"m\,x\ y,dev=a\  ok=1.5 1"
    assert encode_point(Point("m", {}, {"nan": math.inf}, 1)) == ""


def test_batch_drops_empty_lines():
    body = encode_points([Point("m", {}, {"a": 1.0}, 1), Point("m", {}, {"b": math.nan}, 2), Point("m", {}, {"c": 2.0}, 3)])
    assert body == b"m a=1 1\nm c=2 3"


def test_unsupported_type_names_the_field():
    with pytest.raises(ValueError, match="field: \"bad\""):
        encode_point(Point("m", {}, {"bad": [1, 2]}, 1))
