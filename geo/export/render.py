"""PNG and PDF through headless Chromium (Debian's, driven by Playwright), network blocked.

The PNG is a screenshot of the standalone map page (:mod:`geo.export.html`) at the spec's size,
``device_scale_factor = dpi / 96``; the PDF is the briefing page (:mod:`geo.export.briefing`)
printed by Chromium, with the classification marking in the header and footer of every page
and the page numbers. Every request other than the page's own ``file:`` URL is aborted and
recorded: a page that tries to load anything fails the export.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo.errors import ExportError

__all__ = ["MapRender", "browser_available", "render_map_png", "render_pdf"]

READY_TIMEOUT_MS = 120_000
# What the map page draws, read in the page once the basemap and events are in.
_DESCRIBE = """() => {
  const events = document.querySelector('canvas[data-atalaya-layer="events"]');
  const box = document.querySelector('.leaflet-container');
  return {eventsDrawn: events ? Number(events.dataset.drawn || 0) : -1,
          legends: document.querySelectorAll('.atalaya-legend').length,
          basemap: box ? box.getAttribute('data-atalaya-basemap') : null,
          scale: document.querySelectorAll('.leaflet-control-scale').length,
          marking: (document.getElementById('atalaya-marking-top') || {}).textContent || '',
          caretsShown: [...document.querySelectorAll('.atalaya-legend-caret')]
            .filter(e => e.offsetParent !== null).length,
          legendsFolded: [...document.querySelectorAll('.atalaya-legend-body')]
            .filter(e => e.offsetParent === null).length};
}"""
_READY = """(expectEvents) => {
  const box = document.querySelector('.leaflet-container');
  if (!box || !box.getAttribute('data-atalaya-basemap')) { return false; }
  if (!expectEvents) { return true; }
  const c = document.querySelector('canvas[data-atalaya-layer="events"]');
  return !!c && Number(c.dataset.drawn || 0) > 0;
}"""


@dataclass(frozen=True)
class MapRender:
    """What the rendered map showed: events drawn, legends, basemap state, requests refused."""

    events_drawn: int
    legends: int
    basemap: str | None
    scale_bars: int
    blocked: tuple[str, ...]
    #: Legend fold carets and folded legend bodies left visible / hidden in the picture.
    carets_shown: int = 0
    legends_folded: int = 0


def browser_available() -> str | None:
    """Return the Chromium executable to drive, or None (``tools.serve.chromium_path``)."""
    from tools.serve import chromium_path

    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None
    return chromium_path()


@contextmanager
def _browser() -> Iterator[Any]:
    path = browser_available()
    if path is None:
        try:
            import playwright  # noqa: F401
        except ImportError:
            raise ExportError("PNG and PDF are drawn by headless Chromium through Playwright, "
                              "which is not installed: pip install -r requirements.txt") from None
        raise ExportError("PNG and PDF are drawn by headless Chromium, which is not installed: "
                          "apt-get install chromium (or set ATALAYA_CHROMIUM to its path)")
    from playwright.sync_api import sync_playwright

    from tools.serve import CHROMIUM_FLAGS

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def _open(browser: Any, page_path: Path, **context: Any) -> tuple[Any, Any, list[str]]:
    url = page_path.resolve().as_uri()
    blocked: list[str] = []
    ctx = browser.new_context(**context)

    def route(r: Any) -> None:
        if r.request.url == url:
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    page = ctx.new_page()
    page.goto(url, wait_until="load", timeout=READY_TIMEOUT_MS)
    return ctx, page, blocked


def _stamp_dpi(png_path: Path, dpi: int) -> None:
    """Write the resolution into the PNG (``pHYs``), so a layout program prints it at size.

    Chromium's screenshot carries no resolution: a 1,000 px wide map at 192 dpi would be
    placed as if it were at 72 or 96 dpi, twice as large as meant.
    """
    from PIL import Image

    with Image.open(png_path) as image:
        image.load()
        image.save(png_path, format="PNG", dpi=(dpi, dpi), optimize=False)


def render_map_png(html_path: Path, png_path: Path, *, width: int, height: int, dpi: int,
                   expect_events: bool) -> MapRender:
    """Screenshot the standalone map at ``width`` x ``height`` CSS px and ``dpi``.

    Raises
    ------
    ExportError
        When Chromium is absent, the map does not finish drawing, or it asked for a URL.
    """
    with _browser() as browser:
        ctx, page, blocked = _open(browser, html_path,
                                   viewport={"width": width, "height": height},
                                   device_scale_factor=dpi / 96)
        try:
            from playwright.sync_api import TimeoutError as PlaywrightTimeout

            try:
                page.wait_for_function(_READY, arg=expect_events, timeout=READY_TIMEOUT_MS)
            except PlaywrightTimeout as err:  # say what did not draw
                state = page.evaluate(_DESCRIBE)
                raise ExportError(f"the map did not finish drawing in Chromium: {state}") from err
            # The buttons are for hands, not for a picture: the zoom and layer controls go,
            # and so do the legends' fold carets; a legend folded on a narrow map unfolds.
            page.add_style_tag(content=".leaflet-control-zoom,.leaflet-control-layers:not("
                               ".atalaya-legend),.atalaya-legend-caret{display:none!important}"
                               ".atalaya-legend{max-height:none!important}"
                               ".atalaya-legend-body{display:block!important}")
            page.wait_for_timeout(300)  # let the canvas layers settle after the last redraw
            state = page.evaluate(_DESCRIBE)
            page.screenshot(path=str(png_path), full_page=False)
        finally:
            ctx.close()
    _stamp_dpi(png_path, dpi)
    if blocked:
        raise ExportError(f"the map page tried to load {len(blocked)} URL(s): {blocked[:5]}")
    return MapRender(int(state["eventsDrawn"]), int(state["legends"]), state["basemap"],
                     int(state["scale"]), tuple(blocked), carets_shown=int(state["caretsShown"]),
                     legends_folded=int(state["legendsFolded"]))


def _band(marking: str, *, with_pages: bool) -> str:
    from layers.escape import escape_text

    pages = ('<span style="position:absolute;right:12mm">'
             '<span class="pageNumber"></span> / <span class="totalPages"></span></span>'
             if with_pages else "")
    return (f'<div style="width:100%;font:bold 9px Arial,sans-serif;text-align:center;'
            f'position:relative;color:#111">{escape_text(marking)}{pages}</div>')


def render_pdf(briefing_path: Path, pdf_path: Path, *, marking: str) -> None:
    """Print the briefing page to an A4 PDF: marking top and bottom, page numbers below."""
    with _browser() as browser:
        ctx, page, blocked = _open(browser, briefing_path)
        try:
            page.pdf(path=str(pdf_path), format="A4", print_background=True,
                     display_header_footer=True,
                     header_template=_band(marking, with_pages=False),
                     footer_template=_band(marking, with_pages=True),
                     margin={"top": "18mm", "bottom": "18mm", "left": "12mm", "right": "12mm"})
        finally:
            ctx.close()
    if blocked:
        raise ExportError(f"the briefing tried to load {len(blocked)} URL(s): {blocked[:5]}")
