"""The map explorer in a real browser: filters, a drawn area, shared links, phone width."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import geopandas as gpd
import pytest
import shapely

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_overview import MAP_FRAME, open_map

pytestmark = pytest.mark.browser

FIND_MAP = "Object.values(window).find(v => v instanceof L.Map)"
DRAWN = "() => Number(document.querySelector('canvas[data-atalaya-layer=\"events\"]')" \
        "?.dataset.drawn ?? -1)"


def _fit(handle, events: gpd.GeoDataFrame) -> int:
    """Fit the map to the events' bounds and return how many points the canvas drew."""
    x0, y0, x1, y1 = events.total_bounds
    handle.evaluate(f"([a, b, c, d]) => {{ const m = {FIND_MAP};"
                    " m.fitBounds([[b, a], [d, c]], {animate: false, padding: [20, 20]}); }",
                    [float(x0), float(y0), float(x1), float(y1)])
    handle.wait_for_timeout(300)
    return int(handle.evaluate(DRAWN))


def _single_map(pg) -> None:
    pg.wait_for_function(f"() => document.querySelectorAll('{MAP_FRAME}').length === 1",
                         timeout=30_000)


def _metric(pg, label: str) -> int:
    box = pg.locator('[data-testid="stMetric"]', has_text=label).first
    value = box.locator('[data-testid="stMetricValue"]').inner_text()
    return int(re.sub(r"[^\d]", "", value))


def _wait_metric(pg, label: str, expected: int) -> None:
    pg.wait_for_function(
        """([label, expected]) => [...document.querySelectorAll('[data-testid="stMetric"]')]
             .some(m => m.innerText.includes(label) &&
                   Number(m.querySelector('[data-testid="stMetricValue"]').innerText
                          .replace(/[^0-9]/g, '')) === expected)""",
        arg=[label, expected], timeout=60_000)


def _fresh_handle(pg):
    _single_map(pg)
    handle = pg.query_selector(MAP_FRAME).content_frame()
    handle.wait_for_function(
        "() => document.querySelector('canvas[data-atalaya-layer=\"events\"]')", timeout=60_000)
    return handle


def test_event_type_filter_changes_the_drawn_events(app, page, small_world):
    pg, rec = page
    _frame, handle = open_map(pg, app.url)
    events = gpd.read_parquet(small_world / "events.parquet")
    assert _fit(handle, events) == len(events)
    pg.locator('[data-testid="stMultiSelect"]').first.click()
    pg.get_by_role("option", name="Seizure", exact=True).click()
    pg.keyboard.press("Escape")
    seizures = events[events["event_type"] == "seizure"]
    _wait_metric(pg, "Events", len(seizures))
    handle = _fresh_handle(pg)
    assert _fit(handle, seizures) == len(seizures)
    assert "types=seizure" in pg.url  # the map wrote the filter into the shareable URL
    assert rec.foreign() == [], f"requests left 127.0.0.1: {rec.foreign()}"
    assert not rec.console_errors or all("favicon" in e for e in rec.console_errors)


def test_drawing_a_rectangle_filters_the_figures_and_table(app, page, small_world):
    pg, rec = page
    frame, handle = open_map(pg, app.url)
    handle.evaluate(f"() => {{ const m = {FIND_MAP}; m.setView([-12, -70], 5, "
                    "{animate: false}); }")
    handle.wait_for_timeout(300)
    # The toolbar offers the rectangle tool; a mouse drag over the canvas-drawn routes is
    # flaky (a release over a route opens its popup), so the test then completes the drawing
    # as Leaflet.draw itself does, by firing draw:created with the rectangle.
    frame.locator(".leaflet-draw-draw-rectangle").click()
    (ax, ay), (bx, by) = (250, 200), (520, 430)
    corners = handle.evaluate(
        f"(pts) => {{ const m = {FIND_MAP}; const ll = pts.map(p => m.containerPointToLatLng(p));"
        " const layer = L.rectangle(L.latLngBounds(ll[0], ll[1]));"
        " m.fire('draw:created', {layer: layer, layerType: 'rectangle'});"
        " return ll.map(p => [p.lng, p.lat]); }",
        [[ax, ay], [bx, by]])
    events = gpd.read_parquet(small_world / "events.parquet")
    (x0, y1), (x1, y0) = corners
    inside = events[shapely.intersects(shapely.box(x0, y0, x1, y1), events.geometry.values)]
    assert 0 < len(inside) < len(events)
    _wait_metric(pg, "Events", len(inside))
    pg.get_by_text(f"of {len(inside):,} matching events").wait_for(timeout=30_000)
    pg.wait_for_function("() => location.search.includes('aoi=')", timeout=30_000)
    handle = _fresh_handle(pg)
    # The active area is drawn as a dashed outline on the rebuilt map.
    dashed = handle.evaluate(f"() => {{ let n = 0; {FIND_MAP}.eachLayer(l => {{"
                             " if (l.feature && l.options.dashArray === '6 4') n++; });"
                             " return n; }")
    assert dashed == 1
    assert rec.foreign() == []


def test_a_copied_link_restores_the_view_and_filters(app, browser, page):
    pg, _rec = page
    _frame, handle = open_map(pg, app.url + "/?types=seizure,incident&show=points")
    handle.evaluate(f"() => {{ const m = {FIND_MAP}; m.setView([-12.5, -70.25], 7, "
                    "{animate: false}); }")
    pg.wait_for_function("() => location.search.includes('z=7')", timeout=10_000)
    link = pg.url
    query = parse_qs(urlparse(link).query)
    assert query["lat"] == ["-12.5"]
    assert query["lon"] == ["-70.25"]
    assert query["types"] == ["incident,seizure"]
    other = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        pg2 = other.new_page()
        _frame2, handle2 = open_map(pg2, link)
        view = handle2.evaluate(f"() => {{ const m = {FIND_MAP}; const c = m.getCenter();"
                                " return [c.lat, c.lng, m.getZoom()]; }")
        # Within a pixel (0.011 degree at zoom 7): Leaflet snaps the centre to whole pixels.
        assert view[0] == pytest.approx(-12.5, abs=0.011)
        assert view[1] == pytest.approx(-70.25, abs=0.011)
        assert view[2] == 7
        chips = pg2.locator('[data-testid="stMultiSelect"]').first.inner_text()
        assert "Seizure" in chips
        assert "Incident" in chips
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg2.screenshot(path=str(ARTIFACTS / "explorer-shared-link.png"))
    finally:
        other.close()


def test_go_to_moves_the_map(app, page):
    pg, _rec = page
    open_map(pg, app.url)
    box = pg.get_by_role("textbox", name="Go to")
    box.fill("9°24'S 74°36'W")
    box.press("Enter")
    pg.wait_for_function("() => location.search.includes('z=11')", timeout=60_000)
    handle = _fresh_handle(pg)
    lat, lon = handle.evaluate(f"() => {{ const c = {FIND_MAP}.getCenter();"
                               " return [c.lat, c.lng]; }")
    assert lat == pytest.approx(-9.4, abs=1e-3)
    assert lon == pytest.approx(-74.6, abs=1e-3)
    box.fill("-120.5, 5.2")
    box.press("Enter")
    pg.get_by_text("Did you write longitude first?").wait_for(timeout=30_000)


@pytest.mark.parametrize(("width", "height", "mode"),
                         [(1280, 800, "hexagons"), (390, 844, "heat")], ids=["desktop", "phone"])
def test_screenshots_of_the_explorer(app, browser, width, height, mode):
    context = browser.new_context(viewport={"width": width, "height": height},
                                  is_mobile=width < 600)
    urls: list[str] = []
    context.on("request", lambda req: urls.append(req.url))
    pg = context.new_page()
    try:
        pg.goto(f"{app.url}/?show={mode}", wait_until="domcontentloaded")
        pg.wait_for_selector(MAP_FRAME, timeout=60_000)
        frame = pg.frame_locator(MAP_FRAME)
        frame.locator(".leaflet-container").wait_for(timeout=60_000)
        pg.wait_for_timeout(1500)
        assert frame.locator(".atalaya-legend").count() == 1
        if mode == "hexagons":
            handle = pg.query_selector(MAP_FRAME).content_frame()
            cells = handle.evaluate(f"() => {{ let n = 0; {FIND_MAP}.eachLayer(l => {{"
                                    " if (l.feature && l.feature.properties._fill) n++; });"
                                    " return n; }")
            assert cells > 50
        else:
            assert frame.locator("canvas.leaflet-heatmap-layer").count() == 1
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"explorer-{width}x{height}.png"))
        context.close()
    assert all(u.startswith(("http://127.0.0.1", "data:", "blob:", "about:")) for u in urls)
