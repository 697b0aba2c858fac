"""Each GeoJSON layer rendered alone: names, popups, styles and escaping."""

from __future__ import annotations

import base64
from collections.abc import Callable

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from layers.aerodromes import aerodrome_payload, build_aerodromes_layer
from layers.assets import localize
from layers.candidates import build_candidates_layer
from layers.routes import build_routes_layer, route_features
from tests.layers.conftest import HOSTILE, appears_escaped, external_urls, poison

Builder = Callable[..., folium.map.Layer]
CASES = {
    "routes": (build_routes_layer, ("origin", "destination", "source")),
    "candidates": (build_candidates_layer, ("reason", "scene_id")),
    "aerodromes": (build_aerodromes_layer, ("name", "surface")),
}


def render(layer: folium.map.Layer) -> str:
    m = folium.Map(tiles=None)
    layer.add_to(m)
    folium.LayerControl().add_to(m)
    return localize(m).get_root().render()


@pytest.fixture
def frames(routes: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame,
           aerodromes: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    return {"routes": routes, "candidates": candidates, "aerodromes": aerodromes}


@pytest.mark.parametrize("kind", list(CASES))
def test_layer_renders_with_its_name_offline(kind: str,
                                            frames: dict[str, gpd.GeoDataFrame]) -> None:
    build, _ = CASES[kind]
    html = render(build(frames[kind], name=f"Capa {kind}"))
    assert f'"Capa {kind}" :' in html  # listed in the layer control
    if kind == "aerodromes":  # a canvas layer: its popup and tooltip are built on demand
        assert "new window.AtalayaPointsLayer(" in html
        assert "popupHtml" in html
        assert "tipHtml" in html
    else:
        assert "bindPopup" in html
        assert "bindTooltip" in html
    assert external_urls(html) == []


@pytest.mark.parametrize("kind", list(CASES))
def test_hostile_text_only_appears_escaped(kind: str,
                                           frames: dict[str, gpd.GeoDataFrame]) -> None:
    build, columns = CASES[kind]
    html = render(build(poison(frames[kind], columns), name="<i>layer</i>",
                        labels={"reason": "<b>why</b>", "name": "${x}"}))
    for raw in (*HOSTILE, "<i>layer</i>", "<b>why</b>"):
        assert raw not in html, raw
    for raw in HOSTILE:
        assert appears_escaped(html, raw), raw


@pytest.mark.parametrize("kind", list(CASES))
def test_empty_layer_renders(kind: str, frames: dict[str, gpd.GeoDataFrame]) -> None:
    build, _ = CASES[kind]
    html = render(build(frames[kind].iloc[:0], name="empty"))
    assert '"empty" :' in html


def test_routes_are_coloured_by_mode_and_carry_arrowheads(routes: gpd.GeoDataFrame) -> None:
    data = route_features(routes, {"air": "Aérea"})
    air, sea = data["features"]
    assert air["properties"]["mode"] == "Aérea"
    assert air["properties"]["_color"] != sea["properties"]["_color"]
    assert air["properties"]["_dash"]
    assert sea["properties"]["_dash"] is None
    # The line itself, then the arrowheads at the middle and at the destination end.
    parts = air["geometry"]["coordinates"]
    assert len(parts) == 3
    assert parts[0] == [list(c) for c in routes.geometry[0].coords]
    assert parts[2][1] == pytest.approx([-90.0, 17.0])  # tip at the destination


def test_route_weight_follows_volume(routes: gpd.GeoDataFrame) -> None:
    routes["volume_kg_year"] = [100.0, 10_000.0]
    small, big = route_features(routes)["features"]
    assert small["properties"]["_weight"] < big["properties"]["_weight"]


def test_candidate_popup_fields(candidates: gpd.GeoDataFrame) -> None:
    html = render(build_candidates_layer(candidates, name="c"))
    for field in ("Score", "Length (m)", "Width (m)", "Bearing (°)", "State", "Reason"):
        assert f'"{field}"' in html or field.replace("°", "\\u00b0") in html, field
    assert '"0.82"' in html
    assert '"1080"' in html
    assert '"New"' in html


def test_a_near_certain_score_is_cut_not_rounded_up(candidates: gpd.GeoDataFrame) -> None:
    html = render(build_candidates_layer(candidates.assign(score=0.9977), name="c"))
    assert '"0.99"' in html
    assert '"1.00"' not in html


def test_popup_numbers_are_written_as_the_reader_writes_them(
        candidates: gpd.GeoDataFrame, routes: gpd.GeoDataFrame) -> None:
    from geo.i18n import Translator
    from ui.labels import map_labels

    pt = map_labels(Translator("pt"))
    html = render(build_candidates_layer(candidates, name="c", labels=pt))
    assert '"0,82"' in html
    assert '"1.080"' in html
    assert '"0.82"' not in html
    assert '"1.080"' in render(build_candidates_layer(candidates, name="c",
                                                      labels=map_labels(Translator("es"))))
    assert '"1,080"' in render(build_candidates_layer(candidates, name="c",
                                                      labels=map_labels(Translator("en"))))
    volumes = {f["properties"].get("volume_kg_year") for f in
               route_features(routes, pt)["features"]}
    assert all("," not in v for v in volumes if v), volumes


def test_aerodrome_popup_fields(aerodromes: gpd.GeoDataFrame) -> None:
    html = render(build_aerodromes_layer(aerodromes, name="a"))
    assert 'kind: "aerodromes"' in html
    for value in ("SKBO", "3800", "Runway length (m)", "Surface"):
        assert value in html


def test_an_aerodromes_surface_is_named_with_its_code(aerodromes: gpd.GeoDataFrame) -> None:
    from geo.i18n import Translator
    from ui.labels import map_labels

    frame = aerodromes.assign(surface=["ASP", "GRV/GRASS", "UNK"])
    rows = aerodrome_payload(frame)["details"]
    surface = aerodrome_payload(frame)["keys"].index("surface")
    assert [r[surface] for r in rows] == ["Paved (ASP)", "Gravel/Grass (GRV/GRASS)", "UNK"]
    es = aerodrome_payload(frame, labels=map_labels(Translator("es")))["details"]
    assert es[0][surface] == "Pavimentada (ASP)"


def test_aerodrome_payload_rows_radii_and_tooltip(aerodromes: gpd.GeoDataFrame) -> None:
    """One row of escaped strings per drawn aerodrome; radius by runway length; ident+name tip."""
    frame = aerodromes.copy()
    frame.loc[frame.index[0], "runway_length_m"] = 4000.0
    frame.loc[frame.index[-1], "runway_length_m"] = np.nan
    frame = pd.concat([frame, frame.iloc[:1].set_geometry([None], crs=4326)],
                      ignore_index=True)  # a row without a point is skipped
    payload = aerodrome_payload(frame, labels={"name": "Nombre"})
    n = len(aerodromes)
    assert payload["n"] == n == len(payload["details"])
    assert payload["fields"][payload["keys"].index("name")] == "Nombre"
    radius = np.frombuffer(base64.b64decode(payload["radius"]), dtype=np.uint8)
    assert radius[0] == 30  # 3 px (the most) for 4,000 m
    assert radius[-1] == 12  # 1.2 px when the length is unknown
    lat = np.frombuffer(base64.b64decode(payload["lat"]), dtype="<i4") / payload["scale"]
    assert lat == pytest.approx(aerodromes.geometry.y.to_numpy(), abs=1e-5)
    assert [payload["keys"][i] for i in payload["tipFields"]] == ["ident", "name"]
    assert payload["details"][0][payload["keys"].index("ident")] == aerodromes["ident"].iloc[0]


def test_an_inline_legend_section_lays_its_symbols_side_by_side() -> None:
    """Short classes (a ramp) wrap in rows; a plain section keeps one symbol per line."""
    from layers.legend import LegendItem, LegendSection, legend_html
    from layers.risk import risk_legend

    items = (LegendItem("<b>0</b>", "#fff", "square"), LegendItem("1", "#000", "square"))
    inline = legend_html([LegendSection("Ramp", items, inline=True)])
    plain = legend_html([LegendSection("Ramp", items)])
    assert 'flex-wrap:wrap' in inline
    assert inline.count("display:inline-flex") == 2
    assert "display:inline-flex" not in plain
    assert plain.count("display:flex;") == 2
    assert "<b>0</b>" not in inline  # escaped either way
    sections = risk_legend(risk_title="Risk", hotspot_title="Gi*", emerging_title="New",
                           labels={})
    assert [s.inline for s in sections] == [True, True, True]


def test_aerodrome_kind_is_shown_by_its_name(aerodromes: gpd.GeoDataFrame) -> None:
    """OurAirports' type codes ("medium_airport") read as names, in the labels' language."""
    frame = aerodromes.assign(kind=["large_airport", "medium_airport", None])
    english = aerodrome_payload(frame)
    col = english["keys"].index("kind")
    assert english["fields"][col] == "Kind"
    assert [row[col] for row in english["details"]] == ["Large airport", "Medium airport", ""]
    spanish = aerodrome_payload(frame, labels={"kind": "Tipo",
                                               "large_airport": "Aeropuerto grande"})
    assert spanish["fields"][col] == "Tipo"
    assert spanish["details"][0][col] == "Aeropuerto grande"
    assert spanish["details"][1][col] == "Medium airport"  # no label given: English


def test_a_layer_of_one_symbol_is_named_once_in_the_legend() -> None:
    from layers.legend import LegendItem, LegendSection, legend_html

    one = legend_html([LegendSection("Registered aerodromes",
                                     (LegendItem("Registered aerodromes", "#333"),))])
    assert one.count("Registered aerodromes") == 1
    assert "<svg" in one  # the symbol still shown, beside the name
    two = legend_html([LegendSection("Routes", (LegendItem("Air", "#f00"),
                                                LegendItem("Land", "#0f0")))])
    assert all(two.count(x) == 1 for x in ("Routes", "Air", "Land"))


def test_every_map_has_a_metric_scale_only(aerodromes: gpd.GeoDataFrame) -> None:
    """Metres and kilometres only: folium's own scale adds miles and feet."""
    from layers.imagery import build_imagery_map
    from layers.map import build_base_map
    from layers.risk import build_analysis_base_map

    maps = [build_base_map(aerodromes=aerodromes, labels={}),
            build_analysis_base_map(aerodromes=aerodromes, labels={}),
            build_imagery_map(center_lonlat=(-74.6, -9.4), zoom=8)]
    for m in maps:
        html = m.get_root().render()
        assert html.count("L.control.scale(") == 1
        assert "L.control.scale({imperial: false, metric: true, maxWidth: 120," in html
        # an open popup fits a phone's map and fades the controls (browser: test_export)
        assert html.count('style.id = "atalaya-popup-room"') == 1
