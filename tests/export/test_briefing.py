"""The PDF briefing's page (HTML before Chromium prints it): legend and filters."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from geo.export import SnapshotSpec
from geo.export.briefing import briefing_html, describe_filters
from geo.export.frames import read_snapshot_layers
from geo.filters import Filters
from geo.i18n import Translator
from layers.labels import DEFAULT_LABELS


def _legend_labels(page: str) -> list[str]:
    # up to the next block of the page (the legend's own rows nest divs)
    legend = page.split('<div class="legend">', 1)[1].split('<div class="block">', 1)[0]
    return re.findall(r"<span>(.*?)</span>", legend)


def test_the_legend_lists_the_exported_layers_and_categories_only(tiny_world):
    spec = SnapshotSpec(filters=Filters(event_types=["seizure"]),
                        layers=("events", "candidates"), formats=("pdf",))
    layers = read_snapshot_layers(tiny_world, spec)
    t = Translator("en")
    page = briefing_html(spec, when=datetime(2025, 1, 2, tzinfo=UTC), snapshot_id="0" * 32,
                         version="test", filters_text=describe_filters(spec, t), tables=(),
                         map_png=None, labels=DEFAULT_LABELS, t=t, layers=layers)
    shown = _legend_labels(page)
    assert DEFAULT_LABELS["seizure"] in shown
    for absent in ("interdiction", "suspicious_flight", "air", "maritime", "aerodromes"):
        assert DEFAULT_LABELS[absent] not in shown, absent
    states = set(layers["candidates"]["state"])
    assert {DEFAULT_LABELS[s] for s in states} <= set(shown)


def test_all_and_none_agree_with_each_list_in_spanish():
    spec = SnapshotSpec(filters=Filters(commodities=None, sources=[], countries=None))
    lines = describe_filters(spec, Translator("es"))
    assert "Mercancías: todas" in lines
    assert "Fuentes: ninguna" in lines
    assert "Países: todos" in lines
    assert describe_filters(spec, Translator("en"))[2] == "Commodities: all"


def test_top_countries_are_named_in_the_readers_language(tiny_world):
    from geo.export.briefing import top_tables

    layers = read_snapshot_layers(tiny_world, SnapshotSpec(layers=("events",)))
    codes = set(layers["events"]["country"].astype(str))
    table = next(x for x in top_tables(layers, Translator("es"), DEFAULT_LABELS)
                 if x.title == "Principales países")
    shown = [row[0] for row in table.rows]
    assert shown
    assert all(name.endswith(")") and name[-3:-1] in codes for name in shown), shown
    if "PE" in codes:
        assert "Perú (PE)" in shown
