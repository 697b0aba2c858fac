"""The map explorer in a real browser: filters, a drawn area, shared links, phone width."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import geopandas as gpd
import pytest
import shapely
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bench.bench_explorer_browser import ZOOM
from geo.filters import Filters, filter_events, latest_sightings, view_bounds
from tests.browser.conftest import ARTIFACTS, start_app, stop_app, wait_idle
from tests.browser.test_overview import DESCRIBE_MAP, LAYER_CONTROL, MAP_FRAME, open_map
from tools.serve import open_signed_in
from ui.jobs import LOG_FILE

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
    # the benchmark's zoom timing finds the events layer and its redraw (bench_explorer_browser
    # runs it; nothing else in the suite does)
    ms, count = handle.evaluate(ZOOM, 1)
    assert ms > 0
    assert 0 < count <= len(seizures)
    assert rec.foreign() == [], f"requests left 127.0.0.1: {rec.foreign()}"
    assert not rec.console_errors or all("favicon" in e for e in rec.console_errors)


# Set in the map's page; a map whose page was reloaded has lost it.
MARK = "() => { window.__sameMapPage = true; }"
SAME_PAGE = ("() => document.querySelector('" + MAP_FRAME.replace("'", "\\'") + "')"
             ".contentWindow.__sameMapPage === true")


def _choose(pg, label: str) -> None:
    pg.locator('[data-testid="stMultiSelect"]').first.click()
    pg.get_by_role("option", name=label, exact=True).click()
    pg.keyboard.press("Escape")


def test_a_filter_change_swaps_the_layers_on_the_live_map(app, page, small_world):
    """No reload of the map's page; a layer the analyst switched off stays off."""
    pg, rec = page
    frame, handle = open_map(pg, app.url)
    handle.evaluate(MARK)
    frame.locator(LAYER_CONTROL).hover()
    frame.locator(".leaflet-control-layers-overlays label", has_text="Trafficking routes").click()
    events = gpd.read_parquet(small_world / "events.parquet")
    incidents = events[events["event_type"] == "incident"]
    _choose(pg, "Incident")
    _wait_metric(pg, "Events", len(incidents))
    assert _fit(handle, incidents) == len(incidents)
    assert pg.evaluate(SAME_PAGE), "the map's page was reloaded by a filter change"
    frame.locator(LAYER_CONTROL).hover()
    overlays = {o["name"]: o["on"] for o in handle.evaluate(DESCRIBE_MAP)["overlays"]}
    assert overlays["Trafficking routes"] is False
    assert overlays["Events"] is True
    assert overlays["Runway candidates"] is True
    # the legend leaves out the layer switched off, also once the groups were swapped
    handle.wait_for_function(f"() => ({LEGEND_SHOWN})().join() === "
                             "'candidates,aerodromes,scenes'", timeout=10_000)
    frame.locator(LAYER_CONTROL).hover()
    frame.locator(".leaflet-control-layers-overlays label", has_text="Trafficking routes").click()
    handle.wait_for_function(f"() => ({LEGEND_SHOWN})().includes('routes')", timeout=10_000)
    assert rec.foreign() == []


#: Layer keys of the sections the map's legend shows.
LEGEND_SHOWN = ("() => [...document.querySelectorAll('.atalaya-legend [data-atalaya-layer]')]"
                ".filter(s => s.offsetParent !== null).map(s => s.dataset.atalayaLayer)")


def _export_layers(pg) -> list[str]:
    """Return the layers chosen in the snapshot panel (the chips of its "Layers" box)."""
    box = pg.locator('[data-testid="stMultiSelect"]').filter(has_text="Layers").first
    box.locator("[data-tag]").first.wait_for(timeout=30_000)
    return [str(tag.get_attribute("aria-label")) for tag in box.locator("[data-tag]").all()]


def test_the_snapshot_takes_the_layers_the_map_shows(app, page):
    """A layer switched off in the map's layer control is left out of the snapshot."""
    pg, rec = page
    frame, _handle = open_map(pg, app.url, "planner")  # planners export; analysts do not
    pg.get_by_text("Snapshot for planners").click()
    assert "Trafficking routes" in _export_layers(pg)
    assert "Imagery footprints" in _export_layers(pg)  # on the map, so in the snapshot
    frame.locator(LAYER_CONTROL).hover()
    frame.locator(".leaflet-control-layers-overlays label", has_text="Trafficking routes").click()
    frame.locator(".leaflet-control-layers-overlays label",
                  has_text="Registered aerodromes").click()
    chosen_js = "(name) => !!document.querySelector(`[data-tag][aria-label=\"${name}\"]`)"
    pg.wait_for_function(f"() => ![\"Trafficking routes\", \"Registered aerodromes\"]"
                         f".some({chosen_js})", timeout=30_000)
    chosen = _export_layers(pg)
    assert "Trafficking routes" not in chosen
    assert "Registered aerodromes" not in chosen
    assert {"Events", "Runway candidates"} <= set(chosen)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "explorer-snapshot-layers.png"), full_page=True)
    frame.locator(LAYER_CONTROL).hover()
    frame.locator(".leaflet-control-layers-overlays label", has_text="Trafficking routes").click()
    pg.wait_for_function(f"() => ({chosen_js})(\"Trafficking routes\")",
                         timeout=30_000)  # switched on again: chosen again
    assert rec.foreign() == []


GROUP = ("(key) => Object.values(" + FIND_MAP + "._layers)"
         ".find(l => l.options && l.options.atalayaKey === key)")
MARK_GROUP = "(key) => { (" + GROUP + ")(key).__mark = 'kept'; }"
IS_MARKED = "(key) => ((" + GROUP + ")(key) || {}).__mark === 'kept'"
FETCHED = ("() => performance.getEntriesByType('resource')"
           ".filter(e => e.name.includes('/app/static/data/') && !e.name.endsWith('.js'))"
           ".map(e => e.name)")


@pytest.fixture(scope="module")
def published_app(small_world, tmp_path_factory):
    """Run the app with the events always in a published file, however few (the 1M path)."""
    running = start_app(small_world, tmp_path_factory.mktemp("published") / "streamlit.log",
                        extra_env={"ATALAYA_INLINE_EVENTS_BYTES": "0"})
    yield running
    stop_app(running)


@pytest.mark.parametrize("which", ["inline", "published"])
def test_a_filter_change_rebuilds_only_the_groups_it_changes(app, published_app, page,
                                                             small_world, which):
    """The event-type filter leaves the candidates' Leaflet group as it was.

    Few events travel inside the map script; many (here forced) in a published file that the
    page fetches once per filter set.
    """
    pg, rec = page
    _frame, handle = open_map(pg, (app if which == "inline" else published_app).url)
    handle.evaluate(MARK_GROUP, "candidates")
    handle.evaluate(MARK_GROUP, "events")
    events = gpd.read_parquet(small_world / "events.parquet")
    incidents = events[events["event_type"] == "incident"]
    _choose(pg, "Incident")
    _wait_metric(pg, "Events", len(incidents))
    handle.wait_for_function(f"() => !({IS_MARKED})('events')", timeout=30_000)
    assert handle.evaluate(IS_MARKED, "candidates"), "the candidates group was rebuilt"
    assert _fit(handle, incidents) == len(incidents)
    fetched = handle.evaluate(FETCHED)
    if which == "inline":
        assert fetched == []
    else:  # all events, then the incidents: each file once
        assert len(fetched) == len(set(fetched)) == 2, fetched
        assert all(re.search(r"/app/static/data/[0-9a-f]{64}\.bin\.gz$", url) for url in fetched)
    assert rec.foreign() == []


def test_the_figures_and_table_follow_the_map_view(app, page, small_world):
    pg, _rec = page
    _frame, handle = open_map(pg, app.url)
    events = gpd.read_parquet(small_world / "events.parquet")
    handle.evaluate(f"() => {{ const m = {FIND_MAP}; m.setView([-10, -72], 6, "
                    "{animate: false}); }")
    handle.wait_for_timeout(500)
    s, w, n, e = handle.evaluate(
        f"() => {{ const b = {FIND_MAP}.getBounds();"
        " return [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()]; }")
    bounds = view_bounds(s, w, n, e)
    assert bounds is not None
    in_view = len(filter_events(events, Filters(bounds=bounds)))
    assert 0 < in_view < len(events)
    _wait_metric(pg, "Events", in_view)
    pg.get_by_text(f"of {in_view:,} matching events").wait_for(timeout=30_000)
    pg.get_by_text("Only what the map shows").click()
    _wait_metric(pg, "Events", len(events))


def test_play_steps_the_time_window_through_the_months(app, page, small_world):
    pg, rec = page
    _frame, handle = open_map(pg, app.url + "/?from=2023-01-01&to=2023-03-01")
    handle.evaluate(MARK)
    pg.get_by_role("button", name="Play month by month").click()
    pg.wait_for_function("() => location.search.includes('from=2023-03-01')", timeout=60_000)
    pg.get_by_role("button", name="Pause").click()
    pg.get_by_role("button", name="Play month by month").wait_for(timeout=30_000)
    pg.wait_for_timeout(2500)  # a step already on its way lands, and the map writes the URL
    frm = re.search(r"from=(\d{4}-\d{2}-\d{2})", pg.url).group(1)
    to = re.search(r"to=(\d{4}-\d{2}-\d{2})", pg.url).group(1)
    events = gpd.read_parquet(small_world / "events.parquet")
    when = events["occurred_at"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%d")
    expected = int(((when >= frm) & (when < to)).sum())
    assert expected > 0
    _wait_metric(pg, "Events", expected)
    assert pg.evaluate(SAME_PAGE), "playing reloaded the map's page"
    # The slider itself: moving its first thumb one step narrows the window by a month.
    thumb = pg.locator('[data-testid="stSlider"] input[type="range"]').first
    thumb.focus()
    thumb.press("ArrowRight")
    later = f"{int(frm[:4]) + int(frm[5:7]) // 12}-{int(frm[5:7]) % 12 + 1:02d}-01"
    pg.wait_for_function("(f) => location.search.includes('from=' + f)", arg=later,
                         timeout=30_000)
    assert f"to={to}" in pg.url
    assert rec.foreign() == []


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
    # its hint waits for the pointer (it sat cut at the map's top edge until then)
    hint = frame.locator(".leaflet-draw-tooltip")
    assert hint.evaluate("e => getComputedStyle(e).visibility") == "hidden"
    box = pg.locator(MAP_FRAME).bounding_box()
    pg.mouse.move(box["x"] + 300, box["y"] + 250, steps=3)
    hint.wait_for(state="visible", timeout=10_000)
    assert hint.evaluate("e => e.getBoundingClientRect().top") >= 0
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
    wait_idle(pg)  # the map reports its new view: a rerun of its own
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
        open_signed_in(pg, f"{app.url}/?show={mode}")
        pg.wait_for_selector(MAP_FRAME, timeout=60_000)
        frame = pg.frame_locator(MAP_FRAME)
        frame.locator(".leaflet-container").wait_for(timeout=60_000)
        pg.wait_for_timeout(1500)
        # The vector layers' legend, and the events' own (it follows the display mode).
        assert frame.locator(".atalaya-legend").count() == 2
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


@pytest.mark.parametrize("start", ["points", "clusters"])
def test_switching_to_the_heat_map_on_the_live_map_draws_it(app, page, start):
    """The heat plugin is loaded with the map, not only when the page opens on a heat map.

    streamlit-folium loads the scripts of the first render only: a heat layer swapped in
    later once failed with "L.heatLayer is not a function" and left the map without events.
    """
    pg, rec = page
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    open_signed_in(pg, f"{app.url}/?show={start}")
    pg.wait_for_selector(MAP_FRAME, timeout=60_000)
    frame = pg.frame_locator(MAP_FRAME)
    frame.locator(".leaflet-container").wait_for(timeout=60_000)
    wait_idle(pg)
    pg.get_by_text("Heat map", exact=True).click()
    pg.wait_for_function("() => location.search.includes('show=heat')", timeout=60_000)
    frame.locator("canvas.leaflet-heatmap-layer").wait_for(timeout=60_000)
    assert frame.locator("canvas.leaflet-heatmap-layer").count() == 1
    assert not errors
    assert rec.foreign() == []


CLUSTER_TOTAL = ("() => [...document.querySelectorAll('.atalaya-cluster')]"
                 ".reduce((n, c) => n + (Number(c.innerText.replace(/[^0-9]/g, '')) || 1), 0)")


def test_clusters_count_every_event_and_zoom_in_on_click(app, page, small_world):
    pg, rec = page
    open_signed_in(pg, f"{app.url}/?show=clusters")
    pg.wait_for_selector(MAP_FRAME, timeout=60_000)
    frame = pg.frame_locator(MAP_FRAME)
    frame.locator(".atalaya-cluster").first.wait_for(timeout=60_000)
    handle = pg.query_selector(MAP_FRAME).content_frame()
    events = gpd.read_parquet(small_world / "events.parquet")
    # At the opening view (all of Latin America) the clusters hold every event once.
    handle.wait_for_function(f"(n) => ({CLUSTER_TOTAL})() === n", arg=len(events),
                             timeout=30_000)
    assert frame.locator(".atalaya-cluster").count() < len(events) / 3
    zoom = handle.evaluate(f"() => {FIND_MAP}.getZoom()")
    frame.locator(".atalaya-cluster").first.click()
    handle.wait_for_function(f"(z) => {FIND_MAP}.getZoom() === z", arg=zoom + 2,
                             timeout=10_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.wait_for_timeout(1500)
    pg.screenshot(path=str(ARTIFACTS / "explorer-clusters.png"))
    assert rec.foreign() == []


def _choose_the_first_candidate_row(pg, url: str):
    """Open the map, then the candidates' tab, and tick its first row; return the map frame."""
    _frame, handle = open_map(pg, url)
    pg.get_by_role("tab", name=re.compile(r"^Runway candidates")).click()
    grid = pg.locator('[data-testid="stDataFrame"]').nth(1)
    grid.wait_for(timeout=30_000)
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    # The first body row's selection cell: left edge, below the header row (35 px rows).
    pg.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
    return handle


def test_choosing_a_candidate_row_moves_the_map_there(app, page, small_world):
    pg, _rec = page
    handle = _choose_the_first_candidate_row(pg, app.url)
    candidates = gpd.read_file(small_world / "candidates.geojson")
    candidates = candidates[latest_sightings(candidates)]  # the table lists strips
    best = candidates.sort_values("score", ascending=False, kind="stable").geometry.iloc[0]
    c = shapely.centroid(best)
    handle.wait_for_function(
        f"([lat, lon]) => {{ const m = {FIND_MAP}, p = m.getCenter();"
        " return m.getZoom() === 14 && Math.abs(p.lat - lat) < 1e-3"
        " && Math.abs(p.lng - lon) < 1e-3; }", arg=[c.y, c.x], timeout=30_000)
    wait_idle(pg)  # the page stays on the candidates' tab (a changed tab label reset it)
    assert pg.get_by_role("tab", name="Runway candidates").get_attribute("aria-selected") == "true"


def test_a_row_chosen_earlier_does_not_pull_the_map_back(app, page, small_world):
    """Moving the map after choosing a row stays put (the old choice once moved it again).

    The tables follow the view, so after a move the chosen row's place holds another
    feature; the page used to fly to whatever sat there, at every later move.
    """
    pg, _rec = page
    handle = _choose_the_first_candidate_row(pg, app.url)  # the best candidate
    candidates = gpd.read_file(small_world / "candidates.geojson")
    candidates = candidates[latest_sightings(candidates)]  # the table lists strips
    ranked = candidates.sort_values("score", ascending=False, kind="stable")
    best = shapely.centroid(ranked.geometry.iloc[0])
    handle.wait_for_function(f"() => {FIND_MAP}.getZoom() === 14", timeout=30_000)
    wait_idle(pg)
    # Somewhere else with a candidate of its own: it heads the table there.
    far = max(shapely.centroid(ranked.geometry), key=lambda p: p.distance(best))
    handle.evaluate(f"([x, y]) => {{ {FIND_MAP}.fitBounds([[y - 0.3, x - 0.3],"
                    " [y + 0.3, x + 0.3]], {animate: false}); }", [far.x, far.y])
    zoom = handle.evaluate(f"() => {FIND_MAP}.getZoom()")
    assert zoom < 14
    pg.wait_for_function("(z) => location.search.includes('z=' + z)", arg=zoom, timeout=60_000)
    wait_idle(pg)
    pg.wait_for_timeout(2000)
    wait_idle(pg)
    assert handle.evaluate(f"() => {FIND_MAP}.getZoom()") == zoom
    assert "z=14" not in pg.url


# The aerodromes canvas layer's rows, counted by country (its payload's "country" column).
AERODROME_COUNTRIES = ("() => { const seen = {}; " + FIND_MAP + ".eachLayer(l => {"
                       " if (!l.options || l.options.kind !== 'aerodromes') return;"
                       " const d = l._data, c = d.keys.indexOf('country');"
                       " for (const row of d.details) seen[row[c]] = (seen[row[c]] || 0) + 1;"
                       " }); return seen; }")


def test_the_country_filter_narrows_the_aerodromes_drawn_and_counted(app, page, small_world):
    """The map drew every country's aerodromes while their count followed the filter."""
    pg, rec = page
    _frame, handle = open_map(pg, app.url)
    assert len(handle.evaluate(AERODROME_COUNTRIES)) > 5
    _frame, handle = open_map(pg, app.url + "/?countries=PE")
    drawn = handle.evaluate(AERODROME_COUNTRIES)
    aerodromes = gpd.read_file(small_world / "aerodromes.geojson")
    assert drawn == {"PE": int((aerodromes["country"] == "PE").sum())}
    assert rec.foreign() == []


def test_choosing_a_country_on_the_live_map_keeps_the_view(app, page):
    pg, _rec = page
    _frame, handle = open_map(pg, app.url + "/?lat=-9.4&lon=-74.6&z=7")
    wait_idle(pg)
    handle.evaluate(f"() => {{ {FIND_MAP}.setView([-12.0, -76.0], 8, {{animate: false}}); }}")
    pg.wait_for_function("() => location.search.includes('z=8')", timeout=60_000)
    wait_idle(pg)
    box = pg.locator('[data-testid="stMultiSelect"]').filter(has_text="Countries")
    box.locator("input").click()
    pg.keyboard.type("PE")
    pg.get_by_role("option", name="Peru (PE)", exact=True).click()  # named, code kept
    pg.keyboard.press("Escape")
    pg.wait_for_function("() => location.search.includes('countries=PE')", timeout=60_000)
    wait_idle(pg)
    handle = _fresh_handle(pg)
    handle.wait_for_function("(f) => Object.keys(eval(f)()).join() === 'PE'",
                             arg=AERODROME_COUNTRIES, timeout=30_000)
    lat, lon, zoom = handle.evaluate(f"() => {{ const m = {FIND_MAP}, c = m.getCenter();"
                                     " return [c.lat, c.lng, m.getZoom()]; }")
    assert (round(lat), round(lon), zoom) == (-12, -76, 8)


def _navguard_log(data_dir: Path, last: int = 20) -> str:
    """Return the page guard's latest lines in the app's JSON log (what it dropped or kept)."""
    log = data_dir / LOG_FILE
    lines = [json.loads(x) for x in log.read_text(errors="replace").splitlines()
             if '"atalaya.navguard"' in x] if log.is_file() else []
    return "\n".join(f"{x['time']} {x['message']}" for x in lines[-last:]) or "(nothing)"


def test_the_filters_outlast_a_visit_to_another_page(app, page, small_world):
    """A planner who looks at other pages comes back to the same selection.

    Streamlit 1.67 dropped undrawn widgets' values on a page switch despite the workaround
    of earlier versions: the filters came back as "all" from imagery, alerts and analysis.
    """
    pg, _rec = page
    open_map(pg, app.url)
    events = gpd.read_parquet(small_world / "events.parquet")
    _choose(pg, "Seizure")
    seizures = int((events["event_type"] == "seizure").sum())
    _wait_metric(pg, "Events", seizures)
    for other in ("Background jobs", "Imagery", "Runway alerts", "Risk analysis"):
        # each page's run finished before the next click; a map's late report of its view
        # then once left this page blank, or stayed on the other one (ui.navguard)
        pg.locator('[data-testid="stSidebar"] a').filter(has_text=other).click()
        pg.get_by_role("heading", name=other, exact=True).wait_for(timeout=60_000)
        wait_idle(pg)
        link = pg.locator('[data-testid="stSidebar"] a').filter(has_text="Overview map")
        heading = pg.get_by_role("heading", name="Overview map", exact=True)
        link.click()
        try:
            heading.wait_for(timeout=20_000)
        except PlaywrightTimeout:
            # about once in ten CI runs, from Imagery, the click is lost with nothing dropped
            # by the page guard (its log stays empty; cause not found, 2026-12-07). A reader
            # clicks again; so does this test, whose subject is the filters, not the click
            wait_idle(pg)
            link.click()
            try:
                heading.wait_for(timeout=60_000)
            except PlaywrightTimeout as err:
                raise AssertionError(f"two clicks on the map from {other} did not take; the "
                                     f"page guard said:\n{_navguard_log(small_world)}") from err
        wait_idle(pg)
        _wait_metric(pg, "Events", seizures)  # not every event again
        chosen = pg.locator('[data-testid="stMultiSelect"]').first
        assert "Seizure" in chosen.inner_text(), other
