"""The map's large scripts travel as published files, loaded once by the component frame."""

from __future__ import annotations

import folium

from ui.cache import STATIC_DATA
from ui.mapview import PUBLISH_OVER, render_base, render_group


def _big_group(n: int) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name="many")
    for i in range(n):
        folium.CircleMarker([i * 0.01, i * 0.01], radius=2, tooltip=f"point {i}").add_to(group)
    return group


def test_a_large_base_map_is_sent_as_a_loader_of_its_published_script() -> None:
    m = folium.Map(tiles=None)
    _big_group(400).add_to(m)
    base = render_base(m, key="t")
    assert len(base.script) < 1_000
    (digest, blob), = base.published
    assert len(blob) > PUBLISH_OVER
    assert f"/app/static/data/{digest}.js" in base.script
    assert (STATIC_DATA / f"{digest}.js").read_bytes() == blob
    assert b"var map_" in blob  # the real base map, evaluated globally by the loader
    assert "(0, eval)(x.responseText)" in base.script


def test_only_large_reusable_groups_are_published() -> None:
    small = render_group(_big_group(3), 0, reuse=True)
    assert small.published == ()
    assert "L.circleMarker" in small.script
    big = render_group(_big_group(400), 1, reuse=True)
    (digest, blob), = big.published
    assert "L.circleMarker" not in big.script
    assert f"{digest}.js" in big.script
    # The fetched code runs in a function of its own and hands back the group.
    assert blob.startswith(b"(function () {")
    assert blob.rstrip().endswith(b"})()")
    assert f"return {big.var};".encode() in blob
    not_reused = render_group(_big_group(400), 2, reuse=False)
    assert not_reused.published == ()
    assert "L.circleMarker" in not_reused.script
