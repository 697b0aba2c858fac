"""Invariants of the safety helpers, for any text (hypothesis)."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from geo.export.paths import MAX_NAME, SUFFIX_ROOM, safe_name, target
from geo.export.vector import FORMULA_PREFIXES, neutralise_cell

SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_title_gives_a_portable_name_inside_the_folder(text):
    name = safe_name(text)
    assert SAFE.fullmatch(name), name
    assert ".." not in name.split("/")
    out = Path("/tmp/atalaya-export-invariant")
    assert target(out, name).parent == out.resolve()


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_a_snapshot_base_name_takes_every_suffix_whole(text):
    """The longest suffixes a snapshot adds still leave a name ``target`` accepts as it is."""
    base = safe_name(text, limit=MAX_NAME - SUFFIX_ROOM)
    for suffix in ("-aerodromes.csv", "-candidates.csv", "-geojson.zip", ".gpkg"):
        assert target(Path("/tmp/atalaya-export-invariant"), base + suffix).name == base + suffix


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_no_neutralised_cell_starts_a_formula(text):
    cell = neutralise_cell(text)
    assert isinstance(cell, str)
    assert not cell.startswith(FORMULA_PREFIXES)
    assert cell in (text, "'" + text)
