"""What a user sees: the overview map in a real headless Chromium, fully offline."""

from __future__ import annotations

import pytest

from tools.serve import open_signed_in

pytestmark = pytest.mark.browser

MAP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'
LAYER_CONTROL = ".leaflet-control-layers:not(.atalaya-legend)"

# Finds the folium map object in the component's frame and describes what is drawn on it.
DESCRIBE_MAP = """() => {
  const map = Object.values(window).find(v => v instanceof L.Map);
  const overlays = [...document.querySelectorAll('.leaflet-control-layers-overlays label')]
    .map(l => ({name: l.textContent.trim(), on: l.querySelector('input').checked}));
  let features = 0;
  map.eachLayer(l => { if (l.feature) features += 1; });
  const drawn = (kind) => {
    const c = document.querySelector('canvas[data-atalaya-layer="' + kind + '"]');
    return c ? Number(c.dataset.drawn || 0) : -1;
  };
  return {overlays, features, zoom: map.getZoom(), center: map.getCenter(),
          eventsDrawn: drawn("events"), aerodromesDrawn: drawn("aerodromes"),
          tiles: document.querySelectorAll('img.leaflet-tile').length};
}"""


def open_map(page, url: str, user: str = "analyst"):
    open_signed_in(page, url, user)
    page.wait_for_selector(MAP_FRAME, timeout=60_000)
    frame = page.frame_locator(MAP_FRAME)
    frame.locator(".leaflet-container").wait_for(timeout=60_000)
    frame.locator(LAYER_CONTROL).wait_for(timeout=30_000)
    handle = page.query_selector(MAP_FRAME).content_frame()
    handle.wait_for_function(
        "() => { const c = document.querySelector('canvas[data-atalaya-layer=\"events\"]');"
        " return c && Number(c.dataset.drawn) > 0; }", timeout=30_000)
    return frame, handle


def test_overview_map_draws_every_layer_offline(app, page):
    pg, rec = page
    frame, handle = open_map(pg, app.url)
    state = handle.evaluate(DESCRIBE_MAP)
    names = [o["name"] for o in state["overlays"]]
    for expected in ("Events", "Trafficking routes", "Runway candidates", "Registered aerodromes"):
        assert expected in names, names
    assert all(o["on"] for o in state["overlays"] if o["name"] != "OpenStreetMap (online)")
    assert state["eventsDrawn"] > 1000
    assert state["features"] > 100  # routes, candidates and land polygons
    assert state["aerodromesDrawn"] > 100  # on a canvas of their own, as the events
    assert state["tiles"] == 0  # offline basemap: no tile images at all
    legends = frame.locator(".atalaya-legend")  # the vector layers, and the events' own
    assert legends.count() == 2
    assert legends.first.is_visible()
    assert legends.last.is_visible()
    pg.wait_for_timeout(500)
    assert rec.foreign() == [], f"requests left 127.0.0.1: {rec.foreign()}"
    assert not rec.dialogs


def test_layers_toggle_from_the_layer_control(app, page):
    pg, rec = page
    frame, handle = open_map(pg, app.url)
    before = handle.evaluate(DESCRIBE_MAP)
    frame.locator(LAYER_CONTROL).hover()
    frame.locator(".leaflet-control-layers-overlays label", has_text="Events").click()
    handle.wait_for_function(
        "() => !document.querySelector('canvas[data-atalaya-layer=\"events\"]')"
        " || Number(document.querySelector('canvas[data-atalaya-layer=\"events\"]')"
        ".dataset.drawn) === 0", timeout=10_000)
    frame.locator(".leaflet-control-layers-overlays label",
                  has_text="Registered aerodromes").click()
    after = handle.evaluate(DESCRIBE_MAP)
    assert before["aerodromesDrawn"] > 0
    assert after["aerodromesDrawn"] == -1  # its canvas left the map with the layer
    off = {o["name"] for o in after["overlays"] if not o["on"]}
    assert {"Events", "Registered aerodromes"} <= off
    assert rec.foreign() == []


def test_language_switch_in_the_browser(app, page):
    pg, rec = page
    open_map(pg, app.url)
    pg.get_by_role("combobox").first.click()
    pg.get_by_role("option", name="Español").click()
    pg.get_by_role("heading", name="Mapa general").wait_for(timeout=30_000)
    # While the script reruns Streamlit briefly keeps the stale map beside the new one: wait
    # for a single map whose layer control is in Spanish.
    pg.wait_for_function(
        f"""() => {{ const f = document.querySelectorAll('{MAP_FRAME}');
          if (f.length !== 1 || !f[0].contentDocument) return false;
          return [...f[0].contentDocument.querySelectorAll(
            '.leaflet-control-layers-overlays label')].some(l => l.textContent.includes('Eventos'));
        }}""", timeout=30_000)
    frame = pg.frame_locator(MAP_FRAME)
    assert frame.locator(".atalaya-legend").get_by_text("Incautación").count() >= 1
    assert pg.get_by_text("Aeródromos registrados").count() >= 1
    # the drawing toolbar too (Leaflet.draw's own words are English)
    assert frame.locator(".leaflet-draw-draw-polygon").get_attribute("title") == \
        "Dibujar un polígono"
    # and Leaflet's own zoom buttons (their tooltip and accessible name)
    assert frame.locator(".leaflet-control-zoom-in").get_attribute("title") == "Acercar"
    assert frame.locator(".leaflet-control-zoom-out").get_attribute("aria-label") == "Alejar"
    # and Streamlit's own English in a multiselect: the placeholder is ours, and its "Select
    # all" entry is not offered (an empty filter already means all)
    types = pg.locator('[data-testid="stMultiSelect"]').first
    assert types.get_by_placeholder("Todas las opciones", exact=True).count() == 1
    types.click()
    pg.get_by_role("option", name="Incautación").wait_for(timeout=10_000)
    assert pg.get_by_role("option", name="Select all").count() == 0
    pg.keyboard.press("Escape")
    # and in the file uploader: its button and size limit in Spanish, its English line hidden
    pg.get_by_role("link", name="Importar datos").click()
    pg.get_by_role("heading", name="Importar datos").wait_for(timeout=30_000)
    pg.get_by_role("button", name="Subir", exact=True).wait_for(timeout=10_000)
    drop = pg.locator('[data-testid="stFileUploaderDropzone"]')
    assert "Upload" not in drop.inner_text()
    assert "per file" not in drop.inner_text()
    assert pg.get_by_text("Hasta 200 MB por archivo.").is_visible()
    assert rec.foreign() == []


def test_phone_width_still_shows_the_map(app, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    urls: list[str] = []
    context.on("request", lambda req: urls.append(req.url))
    pg = context.new_page()
    try:
        _frame, handle = open_map(pg, app.url)
        assert handle.evaluate(DESCRIBE_MAP)["eventsDrawn"] > 0
        # the scale bar's label fits the bar it names (at 16 px it ran past a short bar)
        label = handle.evaluate("() => { const e = document.querySelector("
                               "'.leaflet-control-scale-line');"
                               " return [e.scrollWidth, e.clientWidth, e.innerText]; }")
        assert label[0] <= label[1], label
    finally:
        from tests.browser.conftest import ARTIFACTS

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "overview-phone.png"), full_page=True)
        context.close()
    assert all(u.startswith(("http://127.0.0.1", "data:", "blob:", "about:")) for u in urls)
