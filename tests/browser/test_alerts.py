"""Runway alert review in a real browser: queue, one alert, a verdict with a comment, history."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from geo.store import (
    awaiting_first,
    get_alert,
    list_alerts,
    open_store,
    read_audit,
    read_comments,
)
from tests.browser.conftest import ARTIFACTS, App, start_app, stop_app, wait_idle
from tools.serve import open_signed_in, sign_in
from ui.alerts import QUEUE_MAX_ZOOM

pytestmark = pytest.mark.browser

#: A part of the queue's caption, there once the queue is drawn.
QUEUE_CAPTION = "alerts, those awaiting a verdict or a visit first"
HOSTILE = '<img src=x onerror="window.__pwned=1;alert(1)"> {{ 7*7 }}'


@pytest.fixture(scope="module")
def review_app(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """Run the app on a copy of the sample world, with its own SQLite store."""
    world = tmp_path_factory.mktemp("review")
    for item in small_world.iterdir():
        if item.is_file() and not item.name.startswith("atalaya.sqlite3"):
            shutil.copy(item, world / item.name)
        elif item.is_dir() and item.name == "scenes":  # the alert page cuts chips from them
            shutil.copytree(item, world / item.name)
    running = start_app(world, world / "streamlit.log", {"ATALAYA_DATABASE_URL": ""})
    yield running
    stop_app(running)


def _store(app: App):
    return open_store(f"sqlite:///{Path(app.log).parent / 'atalaya.sqlite3'}")


def _open_queue(pg, app: App, user: str) -> None:
    """Open the queue signed in as ``user``.

    The page merges the data folder's candidates into the store, so a test that reads the
    store after it does not depend on another having done it.
    """
    open_signed_in(pg, f"{app.url}/alerts", user)
    pg.get_by_text(QUEUE_CAPTION).wait_for(timeout=90_000)


def test_a_verdict_with_a_comment_lands_in_the_audit_history(review_app, page):
    pg, rec = page
    _open_queue(pg, review_app, "field")
    with _store(review_app) as store:
        first = awaiting_first(list_alerts(store))[0]  # the queue's first row
    assert first.state == "new"
    # Open the first row of the queue through its selection cell (35 px rows).
    grid = pg.locator('[data-testid="stDataFrame"]').first
    box = grid.bounding_box()
    pg.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
    pg.get_by_role("button", name="Back to the queue").wait_for(timeout=30_000)
    assert f"alert={first.id}" in pg.url
    pg.get_by_role("textbox", name="Comment").fill(HOSTILE)
    pg.get_by_role("button", name="Under review", exact=True).click()
    pg.get_by_text("Saved.").wait_for(timeout=30_000)
    # Shown as text among the comments (the comment box itself may still hold it a moment).
    pg.locator('[data-testid="stText"]').filter(has_text=HOSTILE).first.wait_for(
        timeout=30_000)
    with _store(review_app) as store:
        after = get_alert(store, first.id)
        audit = read_audit(store, alert_id=first.id)
        comments = read_comments(store, first.id)
    assert after.state == "under_review"
    assert after.version == first.version + 1
    assert [c["body"] for c in comments] == [HOSTILE]
    assert any(e.actor == "field" and e.field == "state" and e.old_value == "new"
               and e.new_value == "under_review" for e in audit)
    assert pg.evaluate("() => window.__pwned") is None
    assert not rec.dialogs
    assert rec.foreign() == []


def test_a_verdict_from_a_stale_copy_is_refused_and_loses_nothing(review_app, page):
    pg, _rec = page
    _open_queue(pg, review_app, "analyst")  # fills the store, whichever test runs first
    with _store(review_app) as store:
        target = next(a for a in list_alerts(store) if a.state == "new")
    open_signed_in(pg, f"{review_app.url}/alerts?alert={target.id}", "analyst")
    # Enabled once the run that knows the reviewer has drawn the buttons (after the image
    # chips, which the first visit cuts): the page then holds the copy that goes stale.
    expect(pg.get_by_role("button", name="Dismissed", exact=True)).to_be_enabled(
        timeout=60_000)
    # Someone else moves the alert on while this page shows the old copy.
    from geo.store import AlertChange, update_alert

    with _store(review_app) as store:
        update_alert(store, AlertChange(target.id, target.version, state="under_review"),
                     actor="Marta")
    pg.get_by_role("textbox", name="Comment").fill("A straight track between two fields")
    pg.get_by_role("button", name="Dismissed", exact=True).click()
    pg.get_by_test_id("stAlertContentError").get_by_text("changed by Marta").wait_for(
        timeout=30_000)  # (a toast repeats it)
    with _store(review_app) as store:
        assert get_alert(store, target.id).state == "under_review"


def test_the_alert_page_on_a_phone(review_app, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    pg = context.new_page()
    try:
        # The queue first, as a field user starts
        _open_queue(pg, review_app, "field")
        with _store(review_app) as store:
            target = list_alerts(store)[-1]
        open_signed_in(pg, f"{review_app.url}/alerts?alert={target.id}", "field")
        pg.get_by_role("button", name="Back to the queue").wait_for(timeout=60_000)
        pg.wait_for_timeout(1500)
        button = pg.get_by_role("button", name="Assign to me")
        box = button.bounding_box()
        assert box["height"] >= 36  # a finger-sized target
        assert box["width"] >= 150
        # each fact on one line, its name beside its value (stacked, 14 facts took two
        # screens before the imagery and the verdict)
        name = pg.locator('[data-testid="stCaptionContainer"]').filter(
            has_text=re.compile(r"^Priority$")).first
        row = name.locator("xpath=ancestor::*[@data-testid='stHorizontalBlock'][1]")
        value = row.locator('[data-testid="stText"]').first
        assert abs(name.bounding_box()["y"] - value.bounding_box()["y"]) < 12
        assert value.bounding_box()["x"] > name.bounding_box()["x"] + 60
        # the verdict, below the map, the facts and the imagery, is one tap away
        assert button.bounding_box()["y"] > 844  # below the first screen
        pg.get_by_role("link", name="Go to the verdict ↓").click()
        expect(pg.get_by_role("heading", name="Verdict")).to_be_in_viewport()
        expect(button).to_be_in_viewport()
        assert f"alert={target.id}" in pg.evaluate("() => location.href")
        # the outcome shows under the buttons, where the reviewer is (at the top, out of view)
        pg.get_by_role("textbox", name="Comment").fill("Overflown: no activity.")
        pg.get_by_role("button", name="Comment only").click()
        expect(pg.get_by_text("Saved.")).to_be_in_viewport(timeout=30_000)
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "alert-390x844.png"))
        context.close()


def test_the_queue_on_a_phone_keeps_its_counts_short(review_app, browser):
    """The seven state counts take at most three lines (stacked columns took seven).

    And the folded filters leave the queue's first rows on the first screen.
    """
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    pg = context.new_page()
    try:
        open_signed_in(pg, f"{review_app.url}/alerts", "field")
        pg.get_by_text(QUEUE_CAPTION).wait_for(timeout=90_000)
        wait_idle(pg)
        tops = sorted({round(box["y"]) for box in (
            m.bounding_box() for m in pg.locator('[data-testid="stMetric"]').all())})
        assert len(tops) <= 3
        # the filters folded: the first alerts show on the first screen
        assert pg.locator('[data-testid="stDataFrame"]').first.bounding_box()["y"] < 844 - 100
        width = pg.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390  # nothing wider than the screen
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "alerts-queue-390x844.png"))
        context.close()


def test_an_alert_reads_in_spanish(review_app, page):
    """The reason is stored in English; the alert page shows it in the reader's language."""
    import re

    from tests.browser.conftest import wait_idle
    from ui import state

    pg, rec = page
    open_signed_in(pg, f"{review_app.url}/alerts", "field")  # the queue fills the store
    pg.get_by_text("Runway alerts").first.wait_for(timeout=60_000)
    wait_idle(pg)
    with _store(review_app) as store:
        target = list_alerts(store)[0]
    assert " km long, " in target.reason  # stored in English
    open_signed_in(pg, f"{review_app.url}/alerts?alert={target.id}", "field")
    pg.get_by_role("button", name="Back to the queue").wait_for(timeout=60_000)
    wait_idle(pg)
    pg.locator(f".st-key-{state.LANGUAGE}").get_by_role("combobox").click()
    pg.get_by_role("option", name="Español").click()
    reason = pg.get_by_text(re.compile(r"^\d+,\d km de largo, \d+ m de ancho, suelo desnudo"))
    reason.wait_for(timeout=60_000)
    wait_idle(pg)
    text = pg.locator("[data-testid=stMain]").inner_text()
    assert "km long" not in text
    assert "surroundings" not in text
    length = target.reason.split(" km long")[0].replace(".", ",")
    assert reason.inner_text().startswith(f"{length} km de largo")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    reason.scroll_into_view_if_needed()
    pg.screenshot(path=str(ARTIFACTS / "alert-es.png"))
    assert rec.foreign() == []


def test_choices_already_shown_follow_a_language_switch(review_app, page):
    """A keyed choice keeps its old label in Streamlit unless it is handed back (sidebar)."""
    from ui import state

    pg, rec = page
    open_signed_in(pg, f"{review_app.url}/alerts", "field")
    pg.get_by_text(QUEUE_CAPTION).wait_for(timeout=90_000)
    wait_idle(pg)
    pg.get_by_text("Filters", exact=True).click()  # folded by default
    wait_idle(pg)  # (clicked at once, the list below did not open)
    imagery = pg.locator(f".st-key-{state.QUEUE_IMAGERY}")
    expect(imagery.get_by_role("combobox")).to_be_visible()
    imagery.get_by_role("combobox").click()
    pg.get_by_role("option", name="Active", exact=True).click()
    pg.keyboard.press("Escape")
    wait_idle(pg)
    area = pg.locator(f".st-key-{state.QUEUE_AREA}").get_by_role("combobox")
    expect(area).to_have_value("Anywhere")
    expect(imagery).to_contain_text("Active")
    pg.locator(f".st-key-{state.LANGUAGE}").get_by_role("combobox").click()
    pg.get_by_role("option", name="Español").click()
    pg.get_by_text("Alertas de pistas").first.wait_for(timeout=60_000)
    wait_idle(pg)
    expect(area).to_have_value("Cualquier lugar")
    expect(imagery).to_contain_text("Activa")
    expect(imagery).not_to_contain_text("Active")
    text = pg.locator("[data-testid=stMain]").inner_text()
    assert "alertas: primero las que esperan un veredicto" in text
    assert "Filtros (1 activo)" in text  # the fold stayed open, its count in Spanish
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "queue-es-after-switch.png"))
    assert rec.foreign() == []


AREA_NAME = '<img src=x onerror="window.__pwned=2"> río'


def test_follow_an_area_and_open_a_change_from_the_inbox(review_app, page):
    from shapely.geometry import box

    from geo.areas import save_area
    from geo.store import AlertChange, allowed_next, update_alert

    pg, rec = page
    open_signed_in(pg, f"{review_app.url}/alerts", "planner")
    pg.get_by_text(QUEUE_CAPTION).wait_for(timeout=90_000)
    with _store(review_app) as store:  # the page has merged the data folder's candidates
        target = list_alerts(store)[-1]
    x, y = target.centroid_lon, target.centroid_lat
    save_area(Path(review_app.log).parent, AREA_NAME, box(x - 0.01, y - 0.01, x + 0.01, y + 0.01))
    pg.reload(wait_until="domcontentloaded")  # the page lists the areas saved before it ran
    sign_in(pg, "planner")
    wait_idle(pg)  # a click during a script run can be dropped (seen once on a loaded CI)
    # once on a loaded CI the sign-in landed on the planner's home page (the map), not on
    # the reloaded /alerts: go to the queue by its link, wherever the sign-in landed
    pg.locator('[data-testid="stSidebar"] a').filter(has_text="Runway alerts").click()
    pg.get_by_text(QUEUE_CAPTION).wait_for(timeout=90_000)
    wait_idle(pg)
    pg.get_by_text("Follow an area", exact=True).click()
    pg.get_by_role("button", name="Follow this area").click()
    followed = pg.get_by_text(f"You follow {AREA_NAME} now.")
    try:
        followed.wait_for(timeout=30_000)
    except PlaywrightTimeout:
        # On a loaded CI the submit was lost twice, the page idle before it (cause not found:
        # not the inbox fragment's timed run, tried): a user clicks again. Only if nothing
        # was stored, so a click that did land is never doubled.
        from geo.store import list_subscriptions

        with _store(review_app) as store:
            assert not list_subscriptions(store, user="planner")
        wait_idle(pg)
        pg.get_by_role("button", name="Follow this area").click()
        followed.wait_for(timeout=90_000)
    with _store(review_app) as store:
        update_alert(store, AlertChange(target.id, target.version,
                                        state=allowed_next(target.state)[0]), actor="Marta")
    pg.reload(wait_until="domcontentloaded")  # (or wait for the inbox's own refresh)
    sign_in(pg, "planner")  # a new browser session signs in again
    pg.get_by_text("Inbox (1 unread)").wait_for(timeout=30_000)
    pg.get_by_text("Inbox (1 unread)").click()
    pg.get_by_text(f"Alert #{target.id} in {AREA_NAME}").wait_for(timeout=30_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "alerts-inbox-1280x800.png"), full_page=True)
    pg.get_by_role("button", name="Open alert", exact=True).click()
    pg.get_by_role("button", name="Back to the queue").wait_for(timeout=30_000)
    assert f"alert={target.id}" in pg.url
    assert pg.evaluate("() => window.__pwned") is None
    assert not rec.dialogs
    assert rec.foreign() == []


#: The centre and zoom of the Leaflet map of a frame (null: no map there).
_MAP_VIEW = """() => {
  const map = typeof L === "undefined" ? null : Object.values(window).find(v => v instanceof L.Map);
  if (!map || !map._loaded) return null;
  const c = map.getCenter();
  return {lat: c.lat, lon: c.lng, zoom: map.getZoom()};
}"""


def test_a_queue_of_one_alert_still_shows_it_on_the_map(review_app, page):
    """One alert left by the filters: the map zooms to it (Leaflet once drew nothing: NaN zoom)."""
    from geo.store import AlertChange, update_alert

    pg, rec = page
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    open_signed_in(pg, f"{review_app.url}/alerts", "field")  # merges the data folder's
    pg.get_by_text(QUEUE_CAPTION).wait_for(timeout=90_000)
    with _store(review_app) as store:
        mine = [a for a in list_alerts(store) if a.assignee == "field"]
        target = mine[0] if mine else list_alerts(store)[-1]
        if not mine:
            update_alert(store, AlertChange(target.id, target.version, assignee="field"),
                         actor="jefa")
    open_signed_in(pg, f"{review_app.url}/alerts", "field")
    pg.get_by_text(QUEUE_CAPTION).wait_for(timeout=90_000)
    wait_idle(pg)
    pg.get_by_text("Filters", exact=True).click()
    wait_idle(pg)
    pg.get_by_text("Assigned to me").click()
    pg.get_by_text(re.compile(r"^1 of \d+ alerts")).wait_for(timeout=60_000)
    wait_idle(pg)
    pg.wait_for_timeout(2000)  # the map's frame is drawn after the script run
    view = next(v for v in (f.evaluate(_MAP_VIEW) for f in pg.frames) if v is not None)
    assert view["zoom"] == QUEUE_MAX_ZOOM  # a zero-size box: the cap
    assert abs(view["lat"] - target.centroid_lat) < 0.01
    assert abs(view["lon"] - target.centroid_lon) < 0.01
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.locator("iframe").last.scroll_into_view_if_needed()
    pg.screenshot(path=str(ARTIFACTS / "alerts-queue-of-one.png"))
    assert not [e for e in errors if "LatLng" in e or "NaN" in e]
    assert rec.foreign() == []


_OVERLAYS = """() => [...document.querySelectorAll('img.leaflet-image-layer')]
  .map(i => ({data: i.src.startsWith('data:image/png'), w: i.naturalWidth}))"""


def test_the_alert_map_lays_the_newest_image_under_the_strip(review_app, page):
    """On the offline basemap a strip's map showed beige: now its newest chip lies under it."""
    pg, rec = page
    open_signed_in(pg, f"{review_app.url}/alerts", "field")  # merges the data folder's
    pg.get_by_text(QUEUE_CAPTION).wait_for(timeout=90_000)
    with _store(review_app) as store:  # an alert of a generated scene: the catalogue has it
        target = next(a for a in list_alerts(store) if a.scene_id != "sample")
    open_signed_in(pg, f"{review_app.url}/alerts?alert={target.id}", "field")
    pg.get_by_text(re.compile(r"^Under the strip: true colour, \d{4}-\d{2}-\d{2}\.$")).wait_for(
        timeout=90_000)
    wait_idle(pg)
    pg.wait_for_timeout(1500)  # the map's frame draws after the script run
    overlays = [o for f in pg.frames for o in f.evaluate(_OVERLAYS)]
    assert len(overlays) == 1, overlays
    assert overlays[0]["data"]  # an inline PNG
    assert overlays[0]["w"] > 0  # decoded
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.locator("iframe").first.scroll_into_view_if_needed()
    pg.screenshot(path=str(ARTIFACTS / "alert-map-over-imagery.png"))
    assert rec.foreign() == []
