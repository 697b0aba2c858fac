"""Candidate reasons: stored in English from templates, shown in the reader's language."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from geo.detect.context import describe_candidates
from geo.detect.reasons import (
    BRIGHTER_RGB,
    BRIGHTER_SOIL,
    NOTES,
    PARTS,
    REDDER,
    aerodrome_part,
    describe,
    localize_reason,
)
from geo.detect.window import RawCandidate
from geo.i18n import translator

_FIELD = re.compile(r"\{(\w+)\}")

lengths = st.floats(100.0, 9999.0, allow_nan=False)
widths = st.floats(1.0, 200.0, allow_nan=False)
ratios = st.floats(0.1, 99.0, allow_nan=False)
dists = st.one_of(st.just(float("nan")), st.floats(0.0, 3000.0, allow_nan=False))
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
                max_size=12)


def _reason(length: float, width: float, ratio: float, dist: float, name: str | None,
            kind: int, notes: list[str]) -> str:
    evidence = (REDDER, BRIGHTER_RGB, BRIGHTER_SOIL)[kind].format(ratio=f"{ratio:.1f}")
    return describe(length, width, evidence, aerodrome_part(dist, name, near_km=5.0), notes)


@settings(max_examples=150, deadline=None)
@given(length=lengths, width=widths, ratio=ratios, dist=dists, name=st.none() | names,
       kind=st.integers(0, 2), notes=st.lists(st.sampled_from(NOTES), max_size=3))
def test_english_reasons_read_back_unchanged(length, width, ratio, dist, name, kind, notes):
    reason = _reason(length, width, ratio, dist, name, kind, notes)
    assert localize_reason(reason, lambda s: s) == reason
    # in English only the numbers' grouping may change ("1234 km" -> "1,234 km")
    en = translator("en")
    assert localize_reason(reason, en, en.number).replace(",", "") == reason.replace(",", "")


@settings(max_examples=150, deadline=None)
@given(length=lengths, width=widths, ratio=ratios, dist=dists,
       name=st.none() | st.from_regex(r"[A-Z]{2}[A-Z0-9]{2}", fullmatch=True),
       kind=st.integers(0, 2), notes=st.lists(st.sampled_from(NOTES), max_size=3))
def test_spanish_reasons_keep_every_value_and_no_english_phrase(length, width, ratio, dist,
                                                                name, kind, notes):
    es = translator("es")
    reason = _reason(length, width, ratio, dist, name, kind, notes)
    shown = localize_reason(reason, es, es.number)
    for english in ("long", "wide", "surroundings", "nearest", "scorer", "priority lowered",
                    "taken as"):
        assert english not in shown
    assert es.number(round(ratio, 1), digits=1) in shown  # "2,3": the reader's decimal comma
    if name and np.isfinite(dist):
        assert name in shown
    assert shown.count("; ") == len(notes)


def test_a_detected_candidate_reads_in_spanish_and_portuguese():
    cand = RawCandidate(x=0.0, y=0.0, length_m=1134.0, width_m=18.2, bearing_deg=10.0,
                        features=(("ndvi_drop", 0.2), ("red_ratio", 2.34)))
    frame = gpd.GeoDataFrame({"score": [0.9]}, geometry=[Point(-75.0, -9.0)], crs=4326)
    aerodromes = gpd.GeoDataFrame({"ident": ["SPJC"]}, geometry=[Point(-75.3, -9.0)], crs=4326)
    reason = describe_candidates(frame, [cand], aerodromes=aerodromes,
                                 notes=["learned multispectral scorer"])["reason"].iloc[0]
    assert reason == ("1.1 km long, 18 m wide, bare soil 2.3x redder than surroundings, "
                      "33 km from the nearest registered aerodrome (SPJC); learned "
                      "multispectral scorer")
    es, pt = translator("es"), translator("pt")
    assert localize_reason(reason, es, es.number) == (
        "1,1 km de largo, 18 m de ancho, suelo desnudo 2,3 veces más rojo que el entorno, "
        "a 33 km del aeródromo registrado más cercano (SPJC); puntuador aprendido "
        "multiespectral")
    assert localize_reason(reason, pt, pt.number).startswith(
        "1,1 km de comprimento, 18 m de largura, solo exposto 2,3 vezes mais vermelho")


@pytest.mark.parametrize(("stored", "shown"), [
    ("", ""),
    ("an analyst's own words, with commas; and a semicolon",
     "an analyst's own words, with commas; and a semicolon"),
    ("1.1 km long, 18 m wide, bare soil nanx redder than surroundings",
     "1,1 km de largo, 18 m de ancho, bare soil nanx redder than surroundings"),
    ("{length} km long, {width} m wide", "{length} km long, {width} m wide"),
    ("0.9 km long, 20 m wide, 4 km from registered aerodrome {0}: probably that aerodrome, "
     "priority lowered; {x}",
     "0,9 km de largo, 20 m de ancho, a 4 km del aeródromo registrado {0}: probablemente ese "
     "aeródromo, prioridad rebajada; {x}"),
])
def test_text_made_from_no_template_is_shown_as_stored(stored, shown):
    es = translator("es")
    assert localize_reason(stored, es, es.number) == shown


def test_every_template_is_translated_with_the_same_fields():
    for lang in ("es", "pt"):
        t = translator(lang)
        for template in (*PARTS, *NOTES):
            assert t(template) != template, (lang, template)
            assert sorted(_FIELD.findall(t(template))) == sorted(_FIELD.findall(template))
