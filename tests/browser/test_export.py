"""Snapshots in a real headless Chromium: the standalone HTML offline, the PNG and the PDF.

The HTML is opened from a ``file:`` URL with every other request aborted (and recorded); the
PNG and PDF are made by the command line in a subprocess (Playwright's sync API cannot start
a second browser in the process that holds the session's one).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geo.export import SnapshotSpec, make_snapshot, verify_snapshot
from tests.browser.conftest import ARTIFACTS
from tests.conftest import ROOT, require
from tests.export.world import PETEN, write_tiny_world

pytestmark = pytest.mark.browser

DESCRIBE = """() => {
  const map = Object.values(window).find(v => v instanceof L.Map);
  let features = 0;
  map.eachLayer(l => { if (l.feature) features += 1; });
  const events = document.querySelector('canvas[data-atalaya-layer="events"]');
  return {
    overlays: [...document.querySelectorAll('.leaflet-control-layers-overlays label')]
      .map(l => l.textContent.trim()),
    features, eventsDrawn: events ? Number(events.dataset.drawn || 0) : -1,
    legends: document.querySelectorAll('.atalaya-legend').length,
    basemap: map.getContainer().getAttribute('data-atalaya-basemap'),
    scale: document.querySelectorAll('.leaflet-control-scale').length,
    credit: document.querySelector('.leaflet-control-attribution').textContent,
    title: document.getElementById('atalaya-title').textContent,
    marking: document.getElementById('atalaya-marking-bottom').textContent};
}"""


OPEN_POPUP_AT_TOP = """() => {
  const map = Object.values(window).find(v => v instanceof L.Map);
  const at = map.containerPointToLatLng([map.getSize().x / 2, 40]);
  L.popup().setLatLng(at).setContent('candidate id<br>detected at<br>scene id').openOn(map);
}"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_world(tmp_path_factory.mktemp("tiny-world"))


def test_standalone_html_shows_every_layer_with_the_network_blocked(browser, world, tmp_path):
    m = make_snapshot(world, SnapshotSpec(formats=("html",), title=f"Snapshot {PETEN}"),
                      tmp_path)
    page_path = tmp_path / m.files[0].name
    url = page_path.as_uri()
    seen: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.on("request", lambda r: seen.append(r.url))
    context.route("**/*", lambda r: r.continue_() if r.request.url == url else r.abort())
    try:
        page = context.new_page()
        page.goto(url, wait_until="load")
        page.wait_for_function(
            "() => { const c = document.querySelector('canvas[data-atalaya-layer=\"events\"]');"
            " const box = document.querySelector('.leaflet-container');"
            " return c && Number(c.dataset.drawn) > 0"
            " && box.getAttribute('data-atalaya-basemap') === 'loaded'; }", timeout=60_000)
        state = page.evaluate(DESCRIBE)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "export-standalone-html.png"))
        # a popup opened at the top edge pans below the title box instead of under it
        page.evaluate(OPEN_POPUP_AT_TOP)
        page.wait_for_timeout(800)  # the pan's animation
        popup_top, title_bottom = page.evaluate(
            "() => [document.querySelector('.leaflet-popup').getBoundingClientRect().top,"
            " document.getElementById('atalaya-title').getBoundingClientRect().bottom]")
        # the legends (above the map's panes) fade while a popup is open, and come back
        legend_opacity = "() => [...document.querySelectorAll('.atalaya-legend')]" \
                         ".map(l => getComputedStyle(l).opacity)"
        faded = page.evaluate(legend_opacity)
        page.evaluate("() => { Object.values(window).find(v => v instanceof L.Map).closePopup(); }")
        shown = page.evaluate(legend_opacity)
    finally:
        context.close()
    others = [u for u in seen if u != url and not u.startswith(("data:", "blob:", "about:"))]
    assert others == [], f"the standalone page asked for {others}"
    assert state["eventsDrawn"] == 8
    assert popup_top >= title_bottom
    assert faded == ["0.1", "0.1"]
    assert shown == ["1", "1"]
    assert state["basemap"] == "loaded"  # land and borders from the inlined data
    for name in ("Events", "Trafficking routes", "Runway candidates", "Registered aerodromes"):
        assert name in state["overlays"]
    assert state["features"] > 5  # routes, candidate and land polygons
    assert state["legends"] == 2
    assert state["scale"] == 1
    assert "Natural Earth" in state["credit"]  # the basemap's data, credited offline too
    assert PETEN in state["title"]
    assert state["marking"] == "UNCLASSIFIED // FOR OFFICIAL USE"


OPEN_WIDE_POPUP = """() => {
  const map = Object.values(window).find(v => v instanceof L.Map);
  const at = map.containerPointToLatLng([map.getSize().x / 2, map.getSize().y / 2]);
  L.popup({maxWidth: 600}).setLatLng(at).setContent(
    '<table><tr><th>Mode</th><td>' + 'maritime-semisubmersible '.repeat(8)
    + '</td></tr><tr><th>Origin</th><td>Tumaco (Nariño), Colombia</td></tr></table>')
    .openOn(map);
}"""

CONTROLS_SHOWN = """() => [...document.querySelectorAll('.leaflet-top .leaflet-control')]
  .map(c => getComputedStyle(c).opacity)"""


def test_on_a_phone_a_wide_popup_fits_the_map_and_the_controls_fade(browser, world, tmp_path):
    m = make_snapshot(world, SnapshotSpec(formats=("html",), title=f"Snapshot {PETEN}"),
                      tmp_path)
    url = (tmp_path / m.files[0].name).as_uri()
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    context.route("**/*", lambda r: r.continue_() if r.request.url == url else r.abort())
    try:
        page = context.new_page()
        page.goto(url, wait_until="load")
        page.wait_for_function("() => document.querySelector('.leaflet-control-zoom')",
                               timeout=60_000)
        before = page.evaluate(CONTROLS_SHOWN)
        page.evaluate(OPEN_WIDE_POPUP)
        page.wait_for_timeout(800)  # the pan's animation
        popup = page.evaluate("() => { const r = document.querySelector('.leaflet-popup')"
                              ".getBoundingClientRect(); return [r.left, r.right]; }")
        map_box = page.evaluate("() => { const r = document.querySelector('.leaflet-container')"
                                ".getBoundingClientRect(); return [r.left, r.right]; }")
        during = page.evaluate(CONTROLS_SHOWN)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "export-popup-390x844.png"))
        page.evaluate("() => { Object.values(window).find(v => v instanceof L.Map).closePopup(); }")
        after = page.evaluate(CONTROLS_SHOWN)
    finally:
        context.close()
    # the whole popup, close button included, inside the map: nothing cut at its right edge
    assert map_box[0] <= popup[0]
    assert popup[1] <= map_box[1]
    # zoom, drawing tools and layers stood above the popup's text: faded meanwhile
    assert before
    assert set(before) == {"1"}
    assert set(during) == {"0.1"}
    assert after == before


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "geo.export", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)


def test_png_and_pdf_briefing_from_the_command_line(world, tmp_path):
    require(shutil.which("pdftotext") is not None and shutil.which("pdftoppm") is not None,
            "poppler-utils is not installed (apt-get install poppler-utils)")
    out = tmp_path / "snap"
    done = _cli("--data", str(world), "--out", str(out), "--formats", "png,pdf",
                "--since", "2023-01-01", "--until", "2024-12-31", "--types",
                "seizure,incident", "--title", f"Briefing {PETEN}", "--width", "1000",
                "--height", "700", "--dpi", "192", "--marking", "SECRET // REL TO PARTNERS",
                "--user", "ana")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["failed"] == {}
    assert verify_snapshot(out) == []
    files = {f["format"]: out / f["name"] for f in manifest["files"]}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(files["png"], ARTIFACTS / "export-map.png")
    shutil.copy(files["pdf"], ARTIFACTS / "export-briefing.pdf")

    image = Image.open(files["png"]).convert("RGB")
    assert image.size == (2000, 1400)  # 192 dpi: two device pixels per CSS pixel
    with Image.open(files["png"]) as stored:  # and it says so, for print layouts
        assert tuple(round(v) for v in stored.info["dpi"]) == (192, 192)
    pixels = np.asarray(image, dtype=float)
    assert pixels.std() > 20  # not blank: sea, land, borders, symbols
    drawn = manifest["notes"]["png_render"]
    assert drawn["legends"] == 2
    assert drawn["legend_carets_shown"] == 0  # the fold carets are for hands, not paper
    assert drawn["legends_folded"] == 0
    assert drawn["events_drawn"] == 4  # e1, e4 (2024), e5 and e6: seizures and incidents
    assert drawn["basemap"] == "loaded"

    subprocess.run(["pdftoppm", "-r", "40", "-png", str(files["pdf"]), str(tmp_path / "page")],
                   check=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 1
    assert np.asarray(Image.open(pages[0]).convert("L"), dtype=float).std() > 10
    text = subprocess.run(["pdftotext", "-layout", str(files["pdf"]), "-"], check=True,
                          capture_output=True, text=True, timeout=120).stdout
    assert f"Briefing {PETEN}" in text
    assert "Time window: 2023-01-01 to 2024-12-31" in text
    assert "Event types: Incident, Seizure" in text
    assert "Features per layer" in text
    assert "Events by type" in text
    assert text.count("SECRET // REL TO PARTNERS") >= 2 * len(pages)
    for n in range(1, len(pages) + 1):
        assert re.search(rf"\b{n}\s*/\s*{len(pages)}\b", text), f"page number {n} missing"
    # A line may start with spaces: pdftotext lays text out by glyph position, and with
    # Debian's Chromium 150.0.7871.100 (2026-12-02) the counts table's lines start with one.
    counts = dict(re.findall(r"^\s*(Events|Trafficking routes|Runway candidates|Registered "
                             r"aerodromes)\s+(\d+)\b", text, flags=re.MULTILINE))
    assert counts == {"Events": "4", "Trafficking routes": "2", "Runway candidates": "1",
                      "Registered aerodromes": "3"}


def test_the_panel_makes_the_snapshot_in_a_background_job_found_again_after_a_reload(
        browser, small_world, tmp_path):
    """A planner's click queues one export job; its card shows progress, then the download."""
    from geo.jobs import list_jobs
    from geo.store import default_url, open_store
    from tests.browser.conftest import start_app, stop_app
    from tests.conftest import copy_world
    from tools.serve import open_signed_in, sign_in

    world = copy_world(small_world, tmp_path / "world", scenes=False)
    app = start_app(world, tmp_path / "streamlit.log")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        pg = context.new_page()
        open_signed_in(pg, app.url, "planner", timeout=120_000)
        pg.get_by_text("Snapshot for planners").first.click(timeout=120_000)
        pg.get_by_role("button", name="Make the snapshot").click()
        card = pg.locator("[class*='st-key-jobs_card']").first
        card.wait_for(timeout=60_000)
        assert re.search(r"Export · job \d+ · (Queued|Running|Succeeded)", card.inner_text())
        pg.get_by_text("Snapshot made").wait_for(timeout=240_000)
        pg.get_by_role("button", name="Download the snapshot (ZIP)").wait_for()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "export-panel-job.png"), full_page=True)
        pg.reload(wait_until="domcontentloaded")  # a new session: the job is in the store
        sign_in(pg, "planner")
        pg.get_by_text("Snapshot for planners").first.click(timeout=120_000)
        pg.get_by_text("Snapshot made").wait_for(timeout=60_000)
        assert "Succeeded" in pg.locator("[class*='st-key-jobs_card']").first.inner_text()
    finally:
        context.close()
        stop_app(app)
    store = open_store(default_url({"ATALAYA_DATA_DIR": str(world)}))
    try:
        jobs = list_jobs(store, kinds=["export"])
    finally:
        store.engine.dispose()
    assert [(j.state, j.created_by) for j in jobs] == [("succeeded", "planner")]
    assert (world / jobs[0].result["folder"] / "manifest.json").is_file()
