"""Imagery in a real browser: the rendered view lines up with the map, and the swipe works.

The maps are written by the layers themselves (``layers.imagery``) as standalone pages and
served with the app's ``static/`` folder at ``/app/static/`` by a small local HTTP server, so
Leaflet, the basemap and the side-by-side control are the very files the app serves.
"""

from __future__ import annotations

import functools
import io
import math
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import folium
import numpy as np
import pytest
import rasterio
from PIL import Image

from geo.display import build_overviews, render_view
from layers.imagery import build_imagery_map, build_swipe, build_view_layer, finish_imagery_map
from tests.browser.conftest import ARTIFACTS
from tests.conftest import ROOT, require
from tests.geo.test_display import Scene, write_scene
from tools.serve import open_signed_in

pytestmark = pytest.mark.browser

LON, LAT = -74.6, -9.4
MAGENTA = (255, 0, 255)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """Serve a folder on 127.0.0.1 whose ``/app/static`` is the project's static folder."""
    require((ROOT / "static" / "vendor" / "leaflet-side-by-side").is_dir(),
            "static/vendor lacks leaflet-side-by-side (run make assets)")
    root = tmp_path_factory.mktemp("site")
    (root / "app").mkdir()
    (root / "app" / "static").symlink_to(ROOT / "static")
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _open(pg: object, url: str, map_name: str) -> None:
    pg.goto(url)  # type: ignore[attr-defined]
    pg.wait_for_function(f"typeof {map_name} !== 'undefined' && {map_name}._loaded")  # type: ignore[attr-defined]
    pg.wait_for_function(  # type: ignore[attr-defined]
        "Array.from(document.querySelectorAll('img.leaflet-image-layer'))"
        ".every(i => i.complete && i.naturalWidth > 0)")
    pg.wait_for_timeout(300)  # type: ignore[attr-defined]


def _shot(pg: object, name: str) -> np.ndarray:
    png = pg.screenshot()  # type: ignore[attr-defined]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_bytes(png)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _centroid(mask: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero(mask)
    assert len(rows), "nothing found"
    return float(cols.mean()) + 0.5, float(rows.mean()) + 0.5


def _map_page(site: tuple[Path, str], name: str, zoom: int, layers: list[tuple[str, Path]],
              *, marker: bool = False, swipe: bool = False) -> tuple[str, folium.Map, list]:
    """Write a page: map centred near the cross at ``zoom``, with the given image files."""
    root, base = site
    m = build_imagery_map(center_lonlat=(LON + 0.004, LAT - 0.003), zoom=zoom)
    overlays = []
    for label, png in layers:
        bounds = tuple(float(v) for v in png.with_suffix(".bounds").read_text().split(","))
        overlays.append(build_view_layer(bounds, name=label, url=f"/{png.name}").add_to(m))
    if marker:
        folium.CircleMarker([LAT, LON], radius=4, color="#ff00ff", fill=True,
                            fill_color="#ff00ff", fill_opacity=1.0, weight=0,
                            name="marker").add_to(m)
    if swipe:
        build_swipe(m, overlays[0], overlays[1])
    finish_imagery_map(m)
    (root / f"{name}.html").write_text(m.get_root().render(), encoding="utf-8")
    return f"{base}/{name}.html", m, overlays


def _view_of(pg: object, map_name: str) -> tuple[tuple[float, ...], int, int]:
    got = pg.evaluate(f"""() => {{ const b = {map_name}.getBounds(), s = {map_name}.getSize();
        return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth(), s.x, s.y]; }}""")  # type: ignore[attr-defined]
    return tuple(got[:4]), int(got[4]), int(got[5])


def _render_to(site: tuple[Path, str], scene: Path, view: tuple[tuple[float, ...], int, int],
               name: str, combo: str = "true_colour") -> Path:
    image = render_view(scene, view[0], view[1], view[2], combo)
    png = site[0] / f"{name}.png"
    png.write_bytes(image.to_png())
    png.with_suffix(".bounds").write_text(",".join(repr(v) for v in image.bounds_lonlat))
    return png


@pytest.fixture(scope="module")
def cross(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return write_scene(tmp_path_factory.mktemp("cross") / "cross_2024-08-02.tif", 32718,
                       LON, LAT)


@pytest.mark.parametrize("zoom", [12, 14, 16])
def test_cross_within_one_screen_pixel_of_the_marker(site: tuple[Path, str], cross: Scene,
                                                      page: tuple[object, object],
                                                      zoom: int) -> None:
    pg, rec = page
    url, m, _ = _map_page(site, f"empty{zoom}", zoom, [])
    _open(pg, url, m.get_name())
    view = _view_of(pg, m.get_name())
    png = _render_to(site, cross.path, view, f"cross{zoom}")
    url, m, (_overlay,) = _map_page(site, f"cross{zoom}", zoom, [("cross", png)], marker=True)
    _open(pg, url, m.get_name())
    assert _view_of(pg, m.get_name()) == view  # the same view as the one rendered
    pg.evaluate("""() => document.querySelectorAll('path.leaflet-interactive')
        .forEach(p => p.style.visibility = 'hidden')""")  # type: ignore[attr-defined]
    image = _shot(pg, f"imagery_cross_z{zoom}.png")
    pg.evaluate("""() => { document.querySelectorAll('path.leaflet-interactive')
        .forEach(p => p.style.visibility = 'visible');
        document.querySelectorAll('img.leaflet-image-layer')
        .forEach(i => i.style.visibility = 'hidden'); }""")  # type: ignore[attr-defined]
    marked = _shot(pg, f"imagery_marker_z{zoom}.png")
    marker = _centroid(np.abs(marked - np.array(MAGENTA)).sum(axis=2) < 30)
    c, r = round(marker[0]), round(marker[1])
    ground_m = 156543.034 * math.cos(math.radians(LAT)) / 2**zoom  # metres per screen px
    radius = int(min(150, max(12, 100 / ground_m)))  # ~200 m: the background dominates
    win = image[r - radius:r + radius + 1, c - radius:c + radius + 1].mean(axis=2)
    weight = np.clip(win - np.median(win), 0, None)
    rows, cols = np.mgrid[r - radius:r + radius + 1, c - radius:c + radius + 1]
    found = (float((weight * cols).sum() / weight.sum()) + 0.5,
             float((weight * rows).sum() / weight.sum()) + 0.5)
    assert math.dist(found, marker) <= 1.0, (found, marker)
    assert not rec.foreign()  # type: ignore[attr-defined]


def _second_date(path: Path) -> Path:
    """Write the cross scene at a later date, the ground turned bare (red band high)."""
    out = path.with_name("cross_2025-01-10.tif")
    with rasterio.open(path) as src:
        profile, data, desc = src.profile, src.read(), src.descriptions
    data[2][data[2] == 500] = 2600  # red: bare soil where there was forest
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = desc
    build_overviews(out, min_side_px=32)
    return out


def test_swipe_drag_shows_two_dates(site: tuple[Path, str], cross: Scene,
                                    page: tuple[object, object]) -> None:
    pg, rec = page
    url, m, _ = _map_page(site, "swipe-empty", 15, [])
    _open(pg, url, m.get_name())
    view = _view_of(pg, m.get_name())
    before = _render_to(site, cross.path, view, "swipe-before")
    after = _render_to(site, _second_date(cross.path), view, "swipe-after")
    url, m, _ = _map_page(site, "swipe", 15, [("before", before), ("after", after)],
                          swipe=True)
    _open(pg, url, m.get_name())
    pg.wait_for_selector(".leaflet-sbs-range", state="attached")  # type: ignore[attr-defined]
    w, h = view[1], view[2]
    first = _shot(pg, "imagery_swipe_start.png")
    probe = (h // 2 + 150, w // 2 - 200)  # left of the divider, away from the cross
    assert first[probe][1] > first[probe][0]  # forest: green over red (the first date)
    right = first[h // 2 + 150, w // 2 + 200]
    assert right[0] > right[1] * 0.8  # bare: red at least as strong (the second date)
    thumb = pg.locator(".leaflet-sbs-range").bounding_box()  # type: ignore[attr-defined]
    y = thumb["y"] + thumb["height"] / 2
    pg.mouse.move(w / 2, y)  # type: ignore[attr-defined]
    pg.mouse.down()  # type: ignore[attr-defined]
    pg.mouse.move(w / 2 - 300, y, steps=10)  # type: ignore[attr-defined]
    pg.mouse.up()  # type: ignore[attr-defined]
    pg.wait_for_timeout(200)  # type: ignore[attr-defined]
    dragged = _shot(pg, "imagery_swipe_dragged.png")
    now = dragged[probe]
    assert now[0] > now[1] * 0.8  # the divider moved left: the probe shows the second date
    divider = pg.evaluate(  # type: ignore[attr-defined]
        "() => document.querySelector('.leaflet-sbs-divider').getBoundingClientRect().left")
    assert divider < w / 2 - 200
    assert not rec.foreign()  # type: ignore[attr-defined]


APP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'
# A fingerprint of each image layer in the map's frame (its whole src), and whether it loaded.
APP_IMAGES = ("() => { const f = document.querySelector('" + APP_FRAME + "');"
              " if (!f || !f.contentDocument) return [];"
              " return [...f.contentDocument.querySelectorAll('img.leaflet-image-layer')]"
              ".map(i => { let h = 0; for (let k = 0; k < i.src.length; k += 3)"
              " { h = (h * 31 + i.src.charCodeAt(k)) | 0; }"
              " return [h + ':' + i.src.length, i.complete]; }); }")


def test_the_imagery_page_draws_the_view_again_after_a_pan(app, page):
    """The page shows the scene, and a pan brings an image made for the new view, offline."""
    pg, rec = page
    open_signed_in(pg, app.url + "/imagery")
    pg.wait_for_function(f"() => ({APP_IMAGES})().some(x => x[1])", timeout=120_000)
    before = {key for key, _ in pg.evaluate(APP_IMAGES)}
    frame = pg.query_selector(APP_FRAME).content_frame()
    frame.evaluate("() => { Object.values(window).find(v => v instanceof L.Map)"
                   ".panBy([150, 80], {animate: false}); return 0; }")
    pg.wait_for_function(
        f"(b) => ({APP_IMAGES})().some(x => x[1] && !b.includes(x[0]))",
        arg=sorted(before), timeout=60_000)
    assert len(pg.query_selector_all(APP_FRAME)) == 1  # the same map, its image swapped
    assert frame.evaluate("() => document.querySelectorAll('.leaflet-control-layers').length") \
        == 1
    pg.screenshot(path=str(ARTIFACTS / "imagery-page-1280x800.png"))
    assert rec.foreign() == [], f"requests left 127.0.0.1: {rec.foreign()}"


def test_back_to_the_scene_brings_a_map_panned_away_back(app, page):
    """A map panned off the scene says so; "Back to the scene" fits it again, twice over."""
    pg, rec = page
    open_signed_in(pg, app.url + "/imagery")
    pg.wait_for_function(f"() => ({APP_IMAGES})().some(x => x[1])", timeout=120_000)
    frame = pg.query_selector(APP_FRAME).content_frame()
    centre = ("() => { const m = Object.values(window).find(v => v instanceof L.Map);"
              " const c = m.getCenter(); return [c.lat, c.lng, m.getZoom()]; }")
    home = frame.evaluate(centre)
    for _ in range(2):  # the same move asked again must move the map again
        frame.evaluate("() => { Object.values(window).find(v => v instanceof L.Map)"
                       ".setView([-40, -100], 9, {animate: false}); return 0; }")
        back = pg.get_by_role("button", name="Back to the scene")
        back.wait_for(timeout=60_000)
        assert pg.get_by_text("is outside the map's view").is_visible()
        back.click()
        for _ in range(120):  # the map lives in the component's frame: ask it
            pg.wait_for_timeout(500)
            frame = pg.query_selector(APP_FRAME).content_frame()
            now = frame.evaluate(centre)
            if abs(now[0] - home[0]) < 0.05 and abs(now[1] - home[1]) < 0.05:
                break
        else:
            raise AssertionError(f"the map stayed at {now}, the scene is at {home}")
        # once the map reports its view on the scene, the note and its button go
        pg.get_by_role("button", name="Back to the scene").wait_for(state="detached",
                                                                     timeout=60_000)
        assert pg.get_by_role("button", name="Back to the scene").count() == 0
    assert rec.foreign() == [], f"requests left 127.0.0.1: {rec.foreign()}"
