from __future__ import annotations

import folium
import pytest
from folium.plugins import Draw, HeatMap, MarkerCluster

from layers.assets import LOCAL_ASSETS, UnknownAssetError, localize
from tests.layers.conftest import external_urls


def every_element_map() -> folium.Map:
    """Build a map with every folium element the app uses (and plugins the UI may add)."""
    m = folium.Map(location=[0, -75], zoom_start=3, tiles=None, maxZoom=18)
    fg = folium.FeatureGroup(name="group").add_to(m)
    folium.GeoJson(
        {"type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {"a": "x"},
            "geometry": {"type": "Point", "coordinates": [-75, 0]}}]},
        popup=folium.GeoJsonPopup(fields=["a"]), tooltip=folium.GeoJsonTooltip(fields=["a"]),
    ).add_to(fg)
    cluster = MarkerCluster(name="cluster").add_to(m)
    folium.Marker([1, -75], icon=folium.Icon(icon="plane", prefix="fa")).add_to(cluster)
    HeatMap([[0, -75, 1.0], [1, -74, 0.5]], name="heat").add_to(m)
    Draw(export=False).add_to(m)
    folium.LayerControl().add_to(m)
    return m


def test_localized_map_links_no_external_url() -> None:
    html = localize(every_element_map()).get_root().render()
    assert external_urls(html) == []
    for rel in ("leaflet/dist/leaflet.js", "leaflet.markercluster/dist/MarkerCluster.css",
                "leaflet-draw/dist/leaflet.draw.js", "folium/leaflet_heat.min.js",
                "fontawesome-free/css/all.min.css"):
        assert f"/app/static/vendor/{rel}" in html


def test_unlocalized_map_does_link_cdns() -> None:
    # The guard above means something: folium itself links public CDNs.
    assert external_urls(every_element_map().get_root().render())


def test_icon_image_path_is_set_before_any_marker() -> None:
    html = localize(every_element_map(), base_url="/x/vendor").get_root().render()
    set_at = html.index('L.Icon.Default.imagePath = "/x/vendor/leaflet/dist/images/"')
    assert set_at < html.index("L.marker(")


def test_unknown_cdn_url_raises_and_lists_it() -> None:
    m = folium.Map(tiles=None)
    m.default_js = [*m.default_js, ("evil", "https://cdn.example.com/evil.js")]
    with pytest.raises(UnknownAssetError, match=r"cdn\.example\.com/evil\.js"):
        localize(m)


def test_other_maps_are_unaffected() -> None:
    localize(every_element_map())
    assert dict(folium.Map.default_js)["leaflet"].startswith("https://")
    assert dict(MarkerCluster.default_js)["markerclusterjs"].startswith("https://")
    assert external_urls(folium.Map(tiles=None).get_root().render())


def test_localize_is_idempotent() -> None:
    m = localize(localize(every_element_map()))
    html = m.get_root().render()
    assert html.count("L.Icon.Default.imagePath") == 1
    assert external_urls(html) == []


def test_every_local_asset_is_a_plain_relative_path() -> None:
    for rel in LOCAL_ASSETS.values():
        assert not rel.startswith("/")
        assert ".." not in rel
