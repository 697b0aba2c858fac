"""Hostile text in every layer shows as text and runs nothing, in a real browser."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest

from tests.browser.conftest import App, start_app
from tests.browser.test_overview import DESCRIBE_MAP, MAP_FRAME, open_map

pytestmark = pytest.mark.browser

PAYLOADS = {
    "img": '<img src=x onerror="window.__pwned=1;alert(1)">',
    "template": "${window.__pwned=2}${alert(2)}",
    "script": "</script><script>window.__pwned=3;alert(3)</script>",
    "backslash": "C:\\xdrive\\new`tick` \\u2028 end",
}


@pytest.fixture(scope="module")
def hostile_app(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    world = tmp_path_factory.mktemp("hostile")
    for item in small_world.iterdir():
        if item.is_file():
            shutil.copy(item, world / item.name)
    events = gpd.read_parquet(small_world / "events.parquet")
    for i, text in enumerate(PAYLOADS.values()):
        events.loc[i, "description"] = text
        events.loc[i, "source"] = text
    events.to_parquet(world / "events.parquet")
    for name, column in (("routes", "origin"), ("candidates", "reason"), ("aerodromes", "name")):
        layer = gpd.read_file(small_world / f"{name}.geojson")
        for i, text in enumerate(PAYLOADS.values()):
            layer.loc[i, column] = text
        layer.to_file(world / f"{name}.geojson", driver="GeoJSON")
    app = start_app(world, world / "streamlit.log")
    yield app
    app.process.terminate()
    app.process.wait(timeout=15)


def _pwned(page, handle) -> list[object]:
    return [page.evaluate("() => window.__pwned"), handle.evaluate("() => window.__pwned")]


@pytest.mark.parametrize("which", list(PAYLOADS))
def test_event_popup_shows_the_payload_as_text(hostile_app, page, which):
    pg, rec = page
    _frame, handle = open_map(pg, hostile_app.url)
    index = list(PAYLOADS).index(which)
    # Zoom onto the event so it is alone under the cursor, then click it.
    events = gpd.read_parquet(Path(hostile_app.log).parent / "events.parquet")
    point = events.geometry.iloc[index]
    handle.evaluate(
        "([lat, lon]) => { const m = Object.values(window).find(v => v instanceof L.Map);"
        " m.setView([lat, lon], 16, {animate: false}); }", [point.y, point.x])
    handle.wait_for_timeout(300)
    xy = handle.evaluate(
        "([lat, lon]) => { const m = Object.values(window).find(v => v instanceof L.Map);"
        " const p = m.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
        [point.y, point.x])
    # Clicked through the locator, which scrolls the map into view first (it sits below the
    # explorer's controls and may be partly off screen).
    pg.frame_locator(MAP_FRAME).locator(".leaflet-container").click(
        position={"x": xy[0], "y": xy[1]})
    popup = pg.frame_locator(MAP_FRAME).locator(".leaflet-popup-content")
    popup.wait_for(timeout=10_000)
    assert PAYLOADS[which] in popup.inner_text()
    # The click also went back to the app, which shows the event's details below the map.
    panel = pg.locator(".st-key-explore_selected_event")
    panel.get_by_text(PAYLOADS[which], exact=True).first.wait_for(timeout=30_000)
    assert _pwned(pg, handle) == [None, None]
    assert not rec.dialogs
    assert rec.foreign() == []


def test_vector_popups_and_tooltips_show_payloads_as_text(hostile_app, page):
    pg, rec = page
    _frame, handle = open_map(pg, hostile_app.url)
    state = handle.evaluate(DESCRIBE_MAP)
    assert state["eventsDrawn"] > 0  # a payload that broke the script would leave no map
    # Open every feature's popup and tooltip programmatically, as clicks and hovers would.
    texts = handle.evaluate("""() => {
      const m = Object.values(window).find(v => v instanceof L.Map);
      const out = [];
      const show = (c) => {
        const div = document.createElement('div');
        if (c instanceof HTMLElement) div.appendChild(c.cloneNode(true)); else div.innerHTML = c;
        document.body.appendChild(div);
        out.push(div.innerText);
        div.remove();
      };
      const render = (thing, layer) => {
        let c = thing.getContent();
        show(typeof c === 'function' ? c(layer) : c);
      };
      m.eachLayer(l => {
        // The aerodromes canvas layer builds its popup and tooltip on demand, per row.
        if (l.options && l.options.kind === 'aerodromes') {
          for (let i = 0; i < l._data.n; i++) {
            show(l.popupHtml(i));
            show(l.tipHtml(i));
          }
          return;
        }
        // folium binds GeoJson popups and tooltips on the group, called with each feature.
        for (const thing of [l.getPopup && l.getPopup(), l.getTooltip && l.getTooltip()]) {
          if (!thing) continue;
          if (l.feature) render(thing, l);
          else if (l.eachLayer) l.eachLayer(child => { if (child.feature) render(thing, child); });
        }
      });
      return out;
    }""")
    assert len(texts) > 1000
    joined = "\n".join(texts)
    for text in PAYLOADS.values():
        assert text.split("\\u2028")[0] in joined
    pg.wait_for_timeout(500)
    assert _pwned(pg, handle) == [None, None]
    assert not rec.dialogs
    assert rec.foreign() == []
