from __future__ import annotations

import base64
import json

import folium
import geopandas as gpd
import numpy as np
import pytest

from geo.errors import CRSError, SchemaError
from layers.assets import localize
from layers.events import build_events_layer, encode_events, pack_events
from tests.layers.conftest import HOSTILE, appears_escaped, external_urls, poison


def decode(text: str, dtype: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


def many_events(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    return gpd.GeoDataFrame(
        {"event_type": rng.choice(["seizure", "interdiction", "incident"], n),
         "description": ["x"] * n},
        geometry=gpd.points_from_xy(rng.uniform(-120, -30, n), rng.uniform(-60, 35, n)),
        crs=4326,
    )


def test_payload_round_trips_coordinates_and_types(events: gpd.GeoDataFrame) -> None:
    payload = encode_events(events)
    lat = decode(payload["lat"], "<i4") / payload["scale"]
    lon = decode(payload["lon"], "<i4") / payload["scale"]
    codes = decode(payload["type"], "u1")
    got = sorted(zip(np.round(lon, 5), np.round(lat, 5),
                     [payload["categories"][c] for c in codes], strict=True))
    want = sorted(zip(events.geometry.x.round(5), events.geometry.y.round(5),
                      events["event_type"].str.replace("_", " ").str.capitalize(), strict=True))
    assert got == want
    assert payload["n"] == 5
    assert list(codes) == sorted(codes)  # sorted by type: one colour run each


def test_details_follow_the_point_order(events: gpd.GeoDataFrame) -> None:
    payload = encode_events(events)
    lat = decode(payload["lat"], "<i4") / payload["scale"]
    by_lat = dict(zip(events.geometry.y.round(5), events["source"], strict=True))
    sources = [row[4] for row in payload["details"]]
    assert sources == [by_lat[round(v, 5)] for v in lat]


def test_payload_for_100k_events_is_compact() -> None:
    payload = encode_events(many_events(100_000), details_limit=50_000)
    assert payload["details"] is None
    size = len(json.dumps(payload))
    assert size / 100_000 <= 16, f"{size / 100_000:.1f} bytes per event"


def test_packed_blob_holds_the_same_arrays_as_the_inline_payload() -> None:
    events = many_events(1_000, seed=3)
    inline = encode_events(events)
    meta, blob = pack_events(events)
    n = meta["n"]
    assert len(blob) == 9 * n  # 4 + 4 + 1 bytes per event
    assert np.array_equal(np.frombuffer(blob, "<i4", n, 0), decode(inline["lat"], "<i4"))
    assert np.array_equal(np.frombuffer(blob, "<i4", n, 4 * n), decode(inline["lon"], "<i4"))
    assert np.array_equal(np.frombuffer(blob, "u1", n, 8 * n), decode(inline["type"], "u1"))
    assert {k: v for k, v in inline.items() if k not in ("lat", "lon", "type")} == meta


def test_details_are_shipped_up_to_the_limit() -> None:
    assert encode_events(many_events(10), details_limit=10)["details"] is not None
    assert encode_events(many_events(11), details_limit=10)["details"] is None


def test_missing_points_are_skipped(events: gpd.GeoDataFrame) -> None:
    events.loc[1, "geometry"] = None
    assert encode_events(events)["n"] == 4


def test_empty_layer_renders() -> None:
    empty = many_events(0)
    m = folium.Map(tiles=None)
    build_events_layer(empty, name="Events").add_to(m)
    assert '"n": 0' in m.get_root().render()


def test_hostile_text_is_escaped_in_the_page(events: gpd.GeoDataFrame) -> None:
    bad = poison(events, ("description", "source"))
    m = folium.Map(tiles=None)
    build_events_layer(bad, name="<b>Events</b>").add_to(m)
    folium.LayerControl().add_to(m)
    html = m.get_root().render()
    for raw in HOSTILE:
        assert raw not in html
        assert appears_escaped(html, raw)
    assert "<b>Events</b>" not in html


def test_layer_registers_with_the_layer_control(events: gpd.GeoDataFrame) -> None:
    m = folium.Map(tiles=None)
    layer = build_events_layer(events, name="Eventos").add_to(m)
    folium.LayerControl().add_to(m)
    html = localize(m).get_root().render()
    assert f'"Eventos" : {layer.get_name()}' in html
    assert f"{layer.get_name()}.addTo(" in html
    assert 'data-atalaya-layer", this.options.kind' in html
    assert external_urls(html) == []


def test_hidden_layer_is_not_added(events: gpd.GeoDataFrame) -> None:
    m = folium.Map(tiles=None)
    layer = build_events_layer(events, name="Events", show=False).add_to(m)
    assert f"{layer.get_name()}.addTo(" not in m.get_root().render()


def test_wrong_crs_and_missing_columns_are_refused(events: gpd.GeoDataFrame) -> None:
    with pytest.raises(CRSError, match="EPSG:4326"):
        encode_events(events.to_crs(3857))
    with pytest.raises(SchemaError, match="event_type"):
        encode_events(events.drop(columns="event_type"))
