"""Property tests: the cell parsers never raise anything but our error, and round-trip."""

from __future__ import annotations

import contextlib
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.coords import format_dms
from geo.ingest import FileRefusedError, MappingError, safe_name
from geo.ingest.kml import read_kml
from geo.ingest.mapping import Mapping
from geo.ingest.parse import (
    ValueParseError,
    parse_coordinate,
    parse_coordinate_columns,
    parse_dates,
    parse_numbers,
)
from geo.ingest.text import decode_text, is_formula, neutralise
from geo.ingest.upload import detect_format

CELLS = st.one_of(
    st.text(max_size=60),
    st.text(alphabet="0123456789.,-+ °'\"NSEWO:/dms", max_size=30),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


@given(CELLS, st.sampled_from(["lat", "lon"]))
def test_parse_coordinate_raises_only_its_error(cell: str, axis: str) -> None:
    try:
        value = parse_coordinate(cell, axis=axis)  # type: ignore[arg-type]
    except ValueParseError:
        return
    assert math.isfinite(value)
    assert abs(value) <= (90 if axis == "lat" else 180)


@given(st.floats(-90, 90), st.floats(-180, 180))
def test_dms_round_trip(lat: float, lon: float) -> None:
    lat_text, lon_text = format_dms(lon, lat, decimals=2).split(" ")
    assert parse_coordinate(lat_text, axis="lat") == pytest.approx(lat, abs=0.006 / 3600)
    assert parse_coordinate(lon_text, axis="lon") == pytest.approx(lon, abs=0.006 / 3600)


@settings(deadline=None)
@given(st.floats(-90, 90), st.floats(-180, 180), st.booleans())
def test_decimal_round_trip_point_or_comma(lat: float, lon: float, comma: bool) -> None:
    def text(v: float) -> str:
        s = f"{v:.6f}"
        return s.replace(".", ",") if comma else s

    xs, ys, why = parse_coordinate_columns(pd.Series([text(lat)]), pd.Series([text(lon)]))
    assert why == [None]
    assert xs[0] == pytest.approx(lon, abs=1e-6)
    assert ys[0] == pytest.approx(lat, abs=1e-6)


@given(st.lists(CELLS, max_size=8), st.lists(CELLS, max_size=8))
def test_coordinate_columns_never_raise(lats: list[str], lons: list[str]) -> None:
    n = min(len(lats), len(lons))
    xs, ys, why = parse_coordinate_columns(pd.Series(lats[:n], dtype=object),
                                           pd.Series(lons[:n], dtype=object))
    assert len(xs) == len(ys) == len(why) == n


@settings(deadline=None)
@given(st.lists(st.one_of(st.text(max_size=40), st.datetimes().map(str),
                          st.dates().map(lambda d: d.strftime("%d/%m/%Y"))), max_size=8),
       st.booleans())
def test_parse_dates_never_raise(cells: list[str], dayfirst: bool) -> None:
    values, bad = parse_dates(pd.Series(cells, dtype=object), dayfirst=dayfirst)
    assert len(values) == len(bad) == len(cells)
    assert str(values.dtype) == "datetime64[ns, UTC]"


@given(st.dates(min_value=pd.Timestamp("1900-01-01").date(),
                max_value=pd.Timestamp("2200-01-01").date()))
def test_dayfirst_round_trip(day: object) -> None:
    text = day.strftime("%d/%m/%Y")  # type: ignore[attr-defined]
    values, bad = parse_dates(pd.Series([text]), dayfirst=True)
    assert not bad[0]
    assert values.iloc[0].date() == day


@given(st.lists(CELLS, max_size=8))
def test_parse_numbers_never_raise(cells: list[str]) -> None:
    values, bad = parse_numbers(pd.Series(cells, dtype=object))
    assert len(values) == len(bad) == len(cells)


@given(st.floats(min_value=0.0, allow_nan=False, allow_infinity=False))
def test_a_scene_figure_written_for_the_parser_reads_back_exactly(value: float) -> None:
    """A scene's resolution and cloud share go through the parser as text (geo.ingest.scenes)."""
    from geo.ingest.scenes import _number_text

    values, bad = parse_numbers(pd.Series([_number_text(value)]))
    assert not bad[0]
    assert values[0] == value


@given(st.binary(max_size=200))
def test_decode_text_is_total(data: bytes) -> None:
    text, encoding = decode_text(data)
    assert isinstance(text, str)
    assert encoding


@given(st.text(max_size=80))
def test_neutralised_cells_are_never_formulas(cell: str) -> None:
    assert not is_formula(neutralise(cell)) or neutralise(cell).startswith("'")
    assert not neutralise(cell).startswith(("=", "@")) or not is_formula(cell)


@given(st.text(max_size=200))
def test_safe_name_has_no_path_or_control(name: str) -> None:
    out = safe_name(name)
    assert out
    assert "/" not in out
    assert "\\" not in out
    assert not out.startswith(".")
    assert all(ord(c) >= 32 and c != "\x7f" for c in out)
    assert len(out) <= 120


@given(st.text(max_size=40), st.binary(max_size=40))
def test_detect_format_raises_only_refusal(name: str, head: bytes) -> None:
    with contextlib.suppress(FileRefusedError):
        detect_format(safe_name(name), head)


@settings(deadline=None)
@given(st.text(max_size=300))
def test_kml_reader_raises_only_refusal(text: str) -> None:
    doc = f'<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark>{text}</Placemark></kml>'
    for data in (text.encode(), doc.encode()):
        with contextlib.suppress(FileRefusedError):
            read_kml(data, shown="x.kml", max_rows=10)


@given(st.text(max_size=200))
def test_mapping_json_raises_only_mapping_error(text: str) -> None:
    with contextlib.suppress(MappingError):
        Mapping.from_json(text)


HEADER = ["event_id", "fecha", "tipo", "droga", "cantidad", "pais", "fuente", "confianza",
          "descripcion", "lat", "lon"]


@settings(deadline=None, max_examples=60)
@given(st.lists(st.lists(CELLS, min_size=len(HEADER), max_size=len(HEADER)), min_size=1,
                max_size=6))
def test_validate_never_crashes_on_any_table(tmp_path_factory: pytest.TempPathFactory,
                                             rows: list[list[str]]) -> None:
    import csv
    import io

    from geo.errors import AtalayaError
    from tests.ingest.common import offer

    buf = io.StringIO()
    csv.writer(buf).writerows([HEADER, *rows])
    path = tmp_path_factory.mktemp("prop") / "eventos.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    try:
        report = offer(path, "events")
    except AtalayaError:
        return
    assert report.counts["accepted"] + report.counts["rejected"] == report.counts["rows"]
    assert report.accepted.geometry.is_valid.all()


@settings(deadline=None, max_examples=60)
@given(st.binary(max_size=400), st.sampled_from(["x.csv", "x.geojson", "x.kml", "x.json"]))
def test_readers_raise_only_our_errors(tmp_path_factory: pytest.TempPathFactory, data: bytes,
                                       name: str) -> None:
    from geo.errors import AtalayaError
    from geo.ingest import read_source, receive_file

    try:
        with receive_file(data, name=name) as upload:
            read_source(upload)
    except AtalayaError:
        pass
