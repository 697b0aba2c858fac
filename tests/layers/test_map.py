from __future__ import annotations

import json
import re

import geopandas as gpd
import pytest

from layers.labels import DEFAULT_LABELS
from layers.map import build_overview_map
from tests.layers.conftest import HOSTILE, appears_escaped, external_urls, poison

LAYER_KEYS = ("events", "routes", "candidates", "aerodromes", "borders")


@pytest.fixture
def world(events: gpd.GeoDataFrame, routes: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame,
          aerodromes: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    return {"events": events, "routes": routes, "candidates": candidates,
            "aerodromes": aerodromes}


def test_overview_lists_every_layer_offline(world: dict[str, gpd.GeoDataFrame]) -> None:
    html = build_overview_map(**world, labels={}).get_root().render()
    for key in LAYER_KEYS:
        assert f"{json.dumps(DEFAULT_LABELS[key])} :" in html, key
    assert external_urls(html) == []
    assert "atalaya-legend" in html
    assert "L.control.layers(" in html
    assert "/app/static/basemap/countries-50m.geojson" in html
    assert "prefer_canvas" not in html
    assert '"preferCanvas": true' in html
    assert '"maxZoom": 18' in html
    assert '"zoom": 3' in html


def test_basemap_is_fetched_not_embedded(world: dict[str, gpd.GeoDataFrame]) -> None:
    html = build_overview_map(**world, labels={}).get_root().render()
    assert "Venezuela" not in html
    assert "fetch(url)" in html


def test_translated_labels_are_used(world: dict[str, gpd.GeoDataFrame]) -> None:
    labels = {"events": "Eventos", "routes": "Rutas", "seizure": "Incautación",
              "legend": "Leyenda"}
    html = build_overview_map(**world, labels=labels).get_root().render()
    for text in ('"Eventos" :', '"Rutas" :', "Incautaci", "Leyenda"):
        assert text in html
    assert '"Runway candidates" :' in html  # absent key: English fall-back


def test_online_tiles_only_when_enabled(world: dict[str, gpd.GeoDataFrame]) -> None:
    offline = build_overview_map(**world, labels={}).get_root().render()
    assert "tile.openstreetmap.org" not in offline
    online = build_overview_map(**world, labels={}, online_tiles=True).get_root().render()
    assert "tile.openstreetmap.org" in online
    assert '"OpenStreetMap (online)" :' in online
    allowed = {"openstreetmap.org"}
    for url in external_urls(online):
        assert any(host in url for host in allowed), url


def test_asset_base_is_respected(world: dict[str, gpd.GeoDataFrame]) -> None:
    html = build_overview_map(**world, labels={}, asset_base="/base/static/").get_root().render()
    assert "/base/static/vendor/leaflet/dist/leaflet.js" in html
    assert "/base/static/basemap/world-110m.geojson" in html
    assert "/app/static" not in html


def test_hostile_text_everywhere_is_escaped(world: dict[str, gpd.GeoDataFrame]) -> None:
    bad = {
        "events": poison(world["events"], ("description", "source")),
        "routes": poison(world["routes"], ("origin", "destination", "source")),
        "candidates": poison(world["candidates"], ("reason",)),
        "aerodromes": poison(world["aerodromes"], ("name", "surface")),
    }
    labels = {"events": HOSTILE[0], "legend": HOSTILE[1]}
    html = build_overview_map(**bad, labels=labels).get_root().render()
    for raw in HOSTILE:
        assert raw not in html, raw
        assert appears_escaped(html, raw), raw


def test_empty_layers_still_build(world: dict[str, gpd.GeoDataFrame]) -> None:
    empty = {k: v.iloc[:0] for k, v in world.items()}
    html = build_overview_map(**empty, labels={}).get_root().render()
    assert f"{json.dumps(DEFAULT_LABELS['events'])} :" in html


def test_user_text_is_never_evaluated_as_a_template(world: dict[str, gpd.GeoDataFrame]) -> None:
    """Jinja syntax in data stays literal text: no server-side evaluation, no failure."""
    text = "{{ 7*7 }} {{ cycler.__init__.__globals__ }} {% endfor %}"
    bad = {**world,
           "events": world["events"].assign(description=text, source=text),
           "routes": world["routes"].assign(origin=text),
           "candidates": world["candidates"].assign(reason=text),
           "aerodromes": world["aerodromes"].assign(name=text)}
    html = build_overview_map(**bad, labels={"events": text}).get_root().render()
    assert html.count(text) >= 5
    # 7*7 evaluated would read "49 "; a random element id may end in ...49 (hex before it)
    assert not re.search(r"(?<![0-9a-f])49 ", html)
    assert "__globals__ }}" in html


def test_a_snapshot_legend_lists_only_what_its_frames_hold(
        world: dict[str, gpd.GeoDataFrame]) -> None:
    from layers.map import overview_legend

    events = world["events"]
    seizures = events[events["event_type"] == "seizure"]
    cands = world["candidates"].iloc[:1].assign(priority="high")
    state, priority = cands["state"].iloc[0], "high"
    present = {"events": seizures, "routes": world["routes"].iloc[:0], "candidates": cands,
               "aerodromes": None}
    sections = overview_legend({}, present=present)
    titles = [s.title for s in sections]
    assert titles == [DEFAULT_LABELS["events"], DEFAULT_LABELS["candidates"]]  # no empty layer
    assert [i.label for i in sections[0].items] == [DEFAULT_LABELS["seizure"]]
    assert [i.label for i in sections[1].items] == [
        DEFAULT_LABELS[state], f"{DEFAULT_LABELS['priority']}: {DEFAULT_LABELS[priority]}"]
    # without frames, every layer and category (the app's live map)
    everything = overview_legend({})
    assert len(everything) == 5
    assert len(everything[0].items) > 1
    html = build_overview_map(events=seizures, routes=world["routes"].iloc[:0],
                              candidates=cands, aerodromes=world["aerodromes"].iloc[:0],
                              labels={}, legend_of_data=True).get_root().render()
    shown = {span for text in re.findall(r"div\.innerHTML = (\".*?\");", html)
             for span in re.findall(r"<span>(.*?)</span>", json.loads(text))}
    assert shown == {DEFAULT_LABELS["seizure"], DEFAULT_LABELS[state],
                     f"{DEFAULT_LABELS['priority']}: {DEFAULT_LABELS[priority]}"}


def test_each_legend_section_names_the_group_it_explains() -> None:
    """The legend hides a section while its group is off: the keys must be the groups'."""
    from layers.legend import legend_html
    from layers.map import OVERLAY_KEYS, overview_legend

    sections = overview_legend({})
    keys = [s.layer for s in sections]
    assert keys == ["events", "routes", "candidates", "aerodromes", "scenes"]
    assert set(keys) <= {*OVERLAY_KEYS, "aerodromes"}  # aerodromes: a group of the base map
    html = legend_html(sections)
    assert re.findall(r'data-atalaya-layer="(\w+)"', html) == keys
    # every section's markup is closed: as many <div> as </div>
    assert html.count("<div") == html.count("</div>")


def test_the_analysis_legend_names_its_groups_and_a_group_lists_its_key() -> None:
    """A legend knows the groups a page built: GroupKey lists each key in the page."""
    import folium

    from layers.map import GroupKey
    from layers.risk import risk_legend

    sections = risk_legend(risk_title="r", hotspot_title="h", emerging_title="e", labels={})
    assert [s.layer for s in sections] == ["cells", "hotspots", "emerging"]
    m = folium.Map(tiles=None)
    group = folium.FeatureGroup(name="g").add_to(m)
    GroupKey("cells").add_to(group)
    html = m.get_root().render()
    assert f'{group.get_name()}.options.atalayaKey = "cells";' in html
    assert '(window.atalayaGroupKeys = window.atalayaGroupKeys || {})["cells"] = true;' in html


def test_a_group_built_off_is_marked_for_the_overlay_memory(
        aerodromes: gpd.GeoDataFrame) -> None:
    """streamlit-folium adds every group; the memory takes one built with show=False off.

    The browser half (it starts unticked, and a tick outlasts a swap) is
    ``tests/browser/test_analysis.py``.
    """
    import folium

    from layers.map import OverlayMemory, overlay_group
    from layers.risk import build_analysis_base_map

    on = overlay_group("cells", "Cells", control=True)
    # a layer built off (build_hotspot_layer's default) is still added to its group: the
    # group shows or hides it (it was never added, so a ticked group stayed empty)
    child = folium.GeoJson({"type": "FeatureCollection", "features": []}, show=False)
    off = overlay_group("hotspots", "Hot spots", child, show=False)
    m = folium.Map(tiles=None)
    on.add_to(m)
    off.add_to(m)
    OverlayMemory().add_to(m)
    html = m.get_root().render()
    assert f"{off.get_name()}.options.atalayaOff = true;" in html
    assert f"{child.get_name()}.addTo({off.get_name()});" in html
    assert f"{on.get_name()}.options.atalayaOff" not in html
    assert "e.layer.options.atalayaOff" in html  # read by the memory's layeradd handler
    # the analysis map swaps groups too, so it carries the memory
    analysis = build_analysis_base_map(aerodromes=aerodromes, labels={}).get_root().render()
    assert analysis.count("window.atalayaHiddenOverlays = hidden;") == 1
