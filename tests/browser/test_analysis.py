"""Risk analysis in a real browser: a weight change re-scores the cells and their popups."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS
from tools.serve import open_signed_in

pytestmark = pytest.mark.browser

MAP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'

# Every risk cell on the live map (the component's map is ``map_div``): cell -> explanation.
_CELLS_JS = """() => {
  var out = {};
  map_div.eachLayer(function (l) {
    var p = l.feature && l.feature.properties;
    if (p && p.cell && p.risk_explanation !== undefined) { out[p.cell] = p.risk_explanation; }
  });
  return out;
}"""

# Click the cell's polygon as a user would (the popup belongs to its GeoJSON layer), then
# return the popup's text.
_OPEN_JS = """(cell) => {
  map_div.closePopup();
  var hit = null;
  map_div.eachLayer(function (l) {
    var p = l.feature && l.feature.properties;
    if (p && p.cell === cell && p.risk_explanation !== undefined) { hit = l; }
  });
  if (!hit) { return null; }
  hit.fire("click", {latlng: hit.getBounds().getCenter()}, true);
  var box = document.querySelector(".leaflet-popup-content");
  return box ? box.innerText : null;
}"""


def _map_frame(pg: Any) -> Any:
    pg.locator(MAP_FRAME).first.wait_for(timeout=120_000)
    handle = pg.locator(MAP_FRAME).first.element_handle()
    return handle.content_frame()


def _cells(frame: Any, timeout: float = 120.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = frame.evaluate(_CELLS_JS)
        except Exception:
            found = None
        if found:
            return dict(found)
        time.sleep(0.5)
    raise AssertionError("no risk cell appeared on the map")


def test_a_weight_change_rescores_the_risk_layer_and_its_popups(app, page):
    pg, rec = page
    open_signed_in(pg, f"{app.url}/analysis", "analyst")
    pg.locator("h1", has_text="Risk analysis").wait_for(timeout=120_000)
    frame = _map_frame(pg)
    before = _cells(frame)
    # A cell whose score owes points to its hot spot z-score.
    cell = next(c for c, why in sorted(before.items()) if "hot spot z =" in why)
    popup = frame.evaluate(_OPEN_JS, cell)
    assert popup is not None
    assert "hot spot z =" in popup
    assert before[cell] in popup  # the breakdown sentence, as the score's "why"
    pg.wait_for_timeout(500)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "analysis-before.png"))
    # the legend's classes side by side: one per line, it covered a third of the map
    legend, box = (frame.evaluate(f"() => {{const e = document.querySelector('{sel}'); "
                                  "const r = e.getBoundingClientRect(); "
                                  "return [r.width, r.height];}")
                   for sel in (".atalaya-legend", ".leaflet-container"))
    assert legend[0] * legend[1] < 0.15 * box[0] * box[1], (legend, box)

    pg.get_by_text("Risk weights").click()
    slider = pg.locator('[data-testid="stSidebar"] [data-testid="stSlider"]',
                        has_text="Hot spot (Gi* z-score)").get_by_role("slider")
    slider.focus()
    for _ in range(6):  # 3.0 -> 0.0 in steps of 0.5
        slider.press("ArrowLeft")
    deadline = time.monotonic() + 120
    after = before
    while time.monotonic() < deadline:
        frame = _map_frame(pg)
        after = _cells(frame)
        if cell in after and "hot spot z =" not in after[cell]:
            break
        time.sleep(1.0)
    assert cell in after
    assert "hot spot z =" not in after[cell]
    assert not any("hot spot z =" in why for why in after.values())
    changed = [c for c in before if c in after and before[c] != after[c]]
    assert len(changed) > len(before) // 4  # the whole layer was re-scored
    popup = frame.evaluate(_OPEN_JS, cell)
    assert popup is not None
    assert "hot spot z =" not in popup
    assert after[cell] in popup
    pg.wait_for_timeout(500)  # the popup's fade-in
    pg.screenshot(path=str(ARTIFACTS / "analysis-after.png"))
    assert rec.foreign() == []


# Keys of the overlay groups on the live map, and the layer control's ticks by label.
_ON_MAP_JS = """() => {
  var on = [];
  map_div.eachLayer(function (l) {
    var k = l.options && l.options.atalayaKey;
    if (k && on.indexOf(k) < 0) { on.push(k); }
  });
  var ticks = {};
  document.querySelectorAll(".leaflet-control-layers-overlays label").forEach(function (lb) {
    var box = lb.querySelector("input");
    if (box) { ticks[lb.innerText.trim()] = box.checked; }
  });
  return [on.sort(), ticks];
}"""

# Mark the groups streamlit-folium has added so far; a later swap adds unmarked ones.
_MARK_JS = "() => { (window.feature_group || []).forEach(g => { g.__seen = true; }); }"
_SWAPPED_JS = "() => (window.feature_group || []).some(g => !g.__seen)"

_OFF_AT_FIRST = ("Event density (kernel)", "Hot and cold spots", "Emerging hot spots")


def _settled(frame: Any, want: Any, timeout: float = 60.0) -> tuple[list[str], dict[str, bool]]:
    """Poll the map until ``want(on, ticks)`` holds; return what it shows last."""
    deadline = time.monotonic() + timeout
    on: list[str] = []
    ticks: dict[str, bool] = {}
    while time.monotonic() < deadline:
        on, ticks = frame.evaluate(_ON_MAP_JS)
        if want(on, ticks):
            break
        time.sleep(0.3)
    return on, ticks


def test_layers_built_off_start_off_and_ticks_outlast_a_new_weight(app, page):
    """Density, hot spots and trends start unticked; what the analyst ticks stays as ticked."""
    pg, rec = page
    open_signed_in(pg, f"{app.url}/analysis", "analyst")
    pg.locator("h1", has_text="Risk analysis").wait_for(timeout=120_000)
    frame = _map_frame(pg)
    _cells(frame)
    on, ticks = _settled(frame, lambda on, ticks: "hotspots" not in on and len(ticks) >= 5)
    assert on == ["candidates", "cells"], on
    assert {name: ticks.get(name) for name in _OFF_AT_FIRST} == dict.fromkeys(_OFF_AT_FIRST,
                                                                              False), ticks
    assert ticks["Risk per cell"] is True

    frame.locator(".leaflet-control-layers:not(.atalaya-legend)").hover()
    layers = frame.locator(".leaflet-control-layers-overlays label")
    layers.filter(has_text="Hot and cold spots").locator("input").click()
    layers.filter(has_text="Risk per cell").locator("input").click()
    on, ticks = _settled(frame, lambda on, ticks: on == ["candidates", "hotspots"])
    assert on == ["candidates", "hotspots"], on
    # and its cells are drawn (its layer, built off, was never added to its group)
    drawn = frame.evaluate("""() => { var n = 0; map_div.eachLayer(function (l) {
      if (l.feature && l.feature.properties && l.feature.properties.hotspot) { n++; } });
      return n; }""")
    assert drawn > 0
    assert ticks["Hot and cold spots"] is True
    assert ticks["Risk per cell"] is False

    frame.evaluate(_MARK_JS)
    pg.mouse.move(0, 0)
    pg.get_by_text("Risk weights").click()
    slider = pg.locator('[data-testid="stSidebar"] [data-testid="stSlider"]',
                        has_text="Hot spot (Gi* z-score)").get_by_role("slider")
    slider.focus()
    slider.press("ArrowLeft")  # new weights: new cells and candidates groups
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        frame = _map_frame(pg)
        if frame.evaluate(_SWAPPED_JS):
            break
        time.sleep(0.5)
    assert frame.evaluate(_SWAPPED_JS), "the map's groups were not swapped"
    pg.wait_for_timeout(1000)  # any group taken off is taken off at the next tick
    on, ticks = frame.evaluate(_ON_MAP_JS)
    assert on == ["candidates", "hotspots"], on
    assert ticks["Hot and cold spots"] is True
    assert ticks["Risk per cell"] is False
    assert not any(ticks[name] for name in _OFF_AT_FIRST if name != "Hot and cold spots")
    pg.screenshot(path=str(ARTIFACTS / "analysis-layers-kept.png"))
    assert rec.foreign() == []
