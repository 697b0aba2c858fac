"""Image layers of rendered views, the NDVI legend and the swipe, checked in the map's HTML."""

from __future__ import annotations

import json
import re

import pytest

from geo.display import NDVI_RAMP
from layers.imagery import (
    INLINE_MAX_BYTES,
    SIDE_BY_SIDE_JS,
    build_imagery_map,
    build_ndvi_legend,
    build_swipe,
    build_view_layer,
    finish_imagery_map,
)
from tests.layers.conftest import HOSTILE_TEXT, appears_escaped, external_urls

BOUNDS = (-74.7, -9.5, -74.5, -9.3)  # west, south, east, north


def _html(m: object) -> str:
    return m.get_root().render()  # type: ignore[attr-defined, no-any-return]


def test_overlay_uses_leaflet_lat_lon_bounds_and_the_url_as_given() -> None:
    m = build_imagery_map(center_lonlat=(-74.6, -9.4), zoom=12)
    build_view_layer(BOUNDS, name="2024-08-02", url="/app/static/data/abc.bin").add_to(m)
    html = _html(finish_imagery_map(m))
    match = re.search(r"L\.imageOverlay\(\s*(\"[^\"]*\"),\s*(\[\[[^\]]*\],\s*\[[^\]]*\]\])", html)
    assert match is not None
    assert json.loads(match[1]) == "/app/static/data/abc.bin"  # not read as a file path
    assert json.loads(match[2]) == [[-9.5, -74.7], [-9.3, -74.5]]
    assert not external_urls(html)


def test_small_png_goes_inline_and_a_large_one_is_refused() -> None:
    layer = build_view_layer(BOUNDS, name="x", png=b"\x89PNG....")
    assert layer.url.startswith("data:image/png;base64,")
    with pytest.raises(ValueError, match="publish"):
        build_view_layer(BOUNDS, name="x", png=b"0" * (INLINE_MAX_BYTES + 1))
    with pytest.raises(ValueError, match="exactly one"):
        build_view_layer(BOUNDS, name="x")
    with pytest.raises(ValueError, match="west, south"):
        build_view_layer((-74.5, -9.5, -74.7, -9.3), name="x", url="/a.png")


def test_layer_name_is_escaped() -> None:
    m = build_imagery_map(center_lonlat=(-74.6, -9.4), zoom=12)
    build_view_layer(BOUNDS, name=HOSTILE_TEXT, url="/a.png").add_to(m)
    html = _html(finish_imagery_map(m))
    assert appears_escaped(html, HOSTILE_TEXT)
    assert "<img src=x" not in html


def test_ndvi_legend_lists_the_ramp_highest_first() -> None:
    legend = build_ndvi_legend(NDVI_RAMP, title="NDVI <b>")
    assert "NDVI &lt;b&gt;" in legend.html
    assert legend.html.index("+0.9") < legend.html.index("+0.4") < legend.html.index("-0.2")
    for _, colour in NDVI_RAMP:
        assert colour in legend.html


def test_swipe_links_the_local_plugin_and_clips_two_panes() -> None:
    m = build_imagery_map(center_lonlat=(-74.6, -9.4), zoom=12)
    left = build_view_layer(BOUNDS, name="2023", url="/a.png").add_to(m)
    right = build_view_layer(BOUNDS, name="2024", url="/b.png").add_to(m)
    build_swipe(m, left, right)
    html = _html(finish_imagery_map(m))
    assert f"/app/static/vendor/{SIDE_BY_SIDE_JS}" in html
    assert "/app/static/vendor/leaflet-side-by-side/range.css" in html
    assert "L.control.sideBySide" in html
    swipe = html[html.index('"atalayaSwipeRight"'):]
    assert left.get_name() in swipe
    assert right.get_name() in swipe
    assert not external_urls(html)


def test_swipe_needs_both_layers_on_the_map() -> None:
    m = build_imagery_map(center_lonlat=(-74.6, -9.4), zoom=12)
    left = build_view_layer(BOUNDS, name="2023", url="/a.png").add_to(m)
    right = build_view_layer(BOUNDS, name="2024", url="/b.png")
    with pytest.raises(ValueError, match="before the swipe"):
        build_swipe(m, left, right)
