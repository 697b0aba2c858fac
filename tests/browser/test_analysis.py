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
