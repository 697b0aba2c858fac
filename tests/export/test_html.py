"""The standalone HTML without a browser: every asset inlined, nothing left to load."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from geo.errors import ExportError
from geo.export import SnapshotSpec
from geo.export.frames import read_snapshot_layers
from geo.export.html import ASSET_BASE, check_offline, fit_view, snapshot_html
from tests.conftest import ROOT, require
from tests.export.world import PETEN


@pytest.fixture(scope="module")
def page(tiny_world) -> str:
    require((ROOT / "static" / "vendor" / "leaflet" / "dist" / "leaflet.js").exists(),
            "front-end assets are not installed (make assets)")
    spec = SnapshotSpec(formats=("html",), title=f"<b>{PETEN}</b> ${{x}}")
    html, extent = snapshot_html(read_snapshot_layers(tiny_world, spec), spec,
                                 when=datetime(2025, 1, 2, 3, 4, tzinfo=UTC), subtitle="w")
    assert extent is not None
    return html


def test_every_script_and_stylesheet_is_inlined(page):
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r'<link rel="stylesheet"', page)
    assert ASSET_BASE not in page
    assert "L.Icon.Default.imagePath = \"\";" in page
    assert "data:application/json;base64," in page  # the basemap's land and borders
    assert "data:font/woff2;base64," in page
    check_offline(page)


def test_title_and_marking_are_escaped_on_the_page(page):
    assert f"&lt;b&gt;{PETEN}&lt;/b&gt; &#36;{{x}}" in page
    assert f"<b>{PETEN}</b>" not in page
    assert page.count("UNCLASSIFIED // FOR OFFICIAL USE") == 2


@pytest.mark.parametrize("markup", [
    '<img src="https://tile.example/1.png">',
    '<script src="http://cdn.example/x.js"></script>',
    '<link rel="stylesheet" href="//cdn.example/x.css">',
    "<style>body{background:url(https://x.example/a.png)}</style>",
    "<style>@import 'https://x.example/a.css';</style>",
    '<div style="background:url(/local.png)"></div>',
    f'<a href="{ASSET_BASE}/vendor/x.js">x</a>',
], ids=["img", "script", "link", "css-url", "import", "style-attr", "placeholder"])
def test_check_offline_refuses_anything_a_browser_would_load(markup):
    with pytest.raises(ExportError, match="would still load"):
        check_offline(f"<html><body>{markup}</body></html>")


def test_check_offline_reads_scripts_as_code_not_markup():
    check_offline('<html><script>var s = "<img src=http://x>"; e.src = u;</script>'
                  '<style>.a{background:url("data:image/png;base64,AA")}</style></html>')


def test_fit_view_frames_the_extent_at_a_whole_zoom():
    (lon, lat), zoom = fit_view((-82.0, -35.0, -34.0, 13.0), 1600, 940)
    assert (lon, zoom) == (-58.0, 4)
    assert lat == pytest.approx(-12.056, abs=1e-3)  # the Mercator middle, not (S + N) / 2
    assert fit_view((-65.0, -14.0, -64.9999, -13.9999), 1600, 940)[1] == 18  # capped


def test_a_spanish_page_shows_the_candidates_reason_in_spanish(tiny_world):
    require((ROOT / "static" / "vendor" / "leaflet" / "dist" / "leaflet.js").exists(),
            "front-end assets are not installed (make assets)")
    pages = {}
    for language in ("en", "es"):
        spec = SnapshotSpec(formats=("html",), language=language)
        pages[language], _ = snapshot_html(read_snapshot_layers(tiny_world, spec), spec,
                                           when=datetime(2025, 1, 2, tzinfo=UTC), subtitle="w")
    assert "1.1 km long, 22 m wide" in pages["en"]
    assert "1,1 km de largo, 22 m de ancho" in pages["es"]
    assert "km long" not in pages["es"]
    # and says its language (screen readers, a browser's offer to translate)
    assert pages["es"].startswith('<!DOCTYPE html>\n<html lang="es">')
    assert '<html lang="en">' in pages["en"]


def test_event_popups_carry_their_details_offline_past_the_apps_limit(tiny_world,
                                                                       monkeypatch):
    """More events than the app ships details for: the page still carries each one's own."""
    import geo.export.html as html
    from layers.events import DETAILS_LIMIT

    require((ROOT / "static" / "vendor" / "leaflet" / "dist" / "leaflet.js").exists(),
            "front-end assets are not installed (make assets)")
    spec = SnapshotSpec(formats=("html",), language="es")
    layers = read_snapshot_layers(tiny_world, spec)
    events = layers["events"]
    many = events.iloc[[0] * (DETAILS_LIMIT + 1)].reset_index(drop=True)
    page, _ = snapshot_html({**layers, "events": many}, spec,
                            when=datetime(2025, 1, 2, tzinfo=UTC), subtitle="w")
    assert '"details": [[' in page  # the app would have sent none
    assert page.count(str(events["source"].iloc[0])) >= DETAILS_LIMIT + 1
    # past the export's own limit, the popup says where the details are (not "below the map")
    monkeypatch.setattr(html, "EVENT_DETAILS_LIMIT", 3)
    page, _ = snapshot_html({**layers, "events": many}, spec,
                            when=datetime(2025, 1, 2, tzinfo=UTC), subtitle="w")
    assert '"details": null' in page
    said = json.dumps("Los detalles están en los archivos de datos de la instantánea")
    assert f'"detailsBelow": {said}' in page
    assert "debajo del mapa" not in page
