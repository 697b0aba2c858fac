"""Accounts in a real browser: each role's pages, refusals, failed sign-ins, idle timeout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from geo.auth import PAGE_ACTIONS, can
from geo.store import default_url, open_store
from geo.store.audit import read_audit
from geo.store.users import set_role
from tests.browser.conftest import ARTIFACTS, App, start_app, stop_app, wait_idle
from tests.browser.test_overview import open_map
from tests.conftest import copy_world
from tools.serve import TEST_PASSWORD, TEST_USERS, open_signed_in, sign_in
from ui import state

pytestmark = pytest.mark.browser

#: The pages in app.py's menu order.
TITLES = {"map": "Overview map", "alerts": "Runway alerts", "imagery": "Imagery",
          "analysis": "Risk analysis", "ingest": "Import data", "jobs": "Background jobs",
          "admin": "Accounts and audit"}
MENU_LINKS = '[data-testid="stSidebar"] a[data-testid="stSidebarNavLink"]'




@pytest.fixture(scope="module")
def idle_app(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """Run the app with a 3-second idle timeout."""
    folder = copy_world(small_world, tmp_path_factory.mktemp("idle") / "world")
    running = start_app(folder, folder.parent / "streamlit.log",
                        {"ATALAYA_IDLE_TIMEOUT_MIN": "0.05"})
    yield running
    stop_app(running)


def _audit(data_dir: Path) -> list:
    store = open_store(default_url({"ATALAYA_DATA_DIR": str(data_dir)}))
    try:
        return read_audit(store)
    finally:
        store.engine.dispose()


@pytest.mark.parametrize("user", TEST_USERS)
def test_each_role_sees_only_its_pages(app, browser, user):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    try:
        open_signed_in(pg, app.url, user)
        expected = [TITLES[p] for p in TITLES if can(user, PAGE_ACTIONS[p])]
        if len(expected) > 1:
            pg.locator(MENU_LINKS).first.wait_for(timeout=30_000)
            assert pg.locator(MENU_LINKS).all_inner_texts() == expected
        # The home page is the first one the role may open.
        pg.get_by_role("heading", name=expected[0], exact=True).wait_for(timeout=60_000)
        if len(expected) == 1:  # one page (a field team's): no menu to choose from
            assert pg.locator(MENU_LINKS).count() == 0
        assert pg.get_by_text(f"Signed in as {user}").is_visible()
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"access-home-{user}.png"))
        context.close()


def test_a_field_user_opening_the_map_or_import_address_is_refused(app, small_world, page):
    pg, rec = page
    open_signed_in(pg, f"{app.url}/map", "field")
    pg.get_by_text("Your role may not open the map explorer.").wait_for(timeout=90_000)
    assert pg.locator('iframe[title="streamlit_folium.st_folium"]').count() == 0
    pg.goto(f"{app.url}/ingest", wait_until="domcontentloaded")
    sign_in(pg, "field")
    pg.get_by_text("Your role may not import data files.").wait_for(timeout=90_000)
    assert pg.locator('[data-testid="stFileUploader"]').count() == 0
    # a page of its own: a title, and where to go instead
    assert pg.get_by_role("heading", name="Not for your role").is_visible()
    assert pg.get_by_text("lists the pages your role may open").is_visible()
    refused = [e.field for e in _audit(small_world)
               if e.action == "access_refused" and e.actor == "field"]
    assert "page map (view_map)" in refused
    assert "page ingest (import_data)" in refused
    assert rec.foreign() == []


def test_a_wrong_password_is_refused_logged_and_never_shown(app, small_world, page):
    pg, _rec = page
    wrong = "not-the-password-" + str(time.time_ns())
    pg.goto(app.url, wait_until="domcontentloaded")
    pg.get_by_label("User name").fill("planner")
    pg.get_by_label("Password", exact=True).fill(wrong)
    pg.get_by_role("button", name="Sign in").click()
    pg.get_by_text("Wrong user name or password.").wait_for(timeout=30_000)
    assert pg.locator(MENU_LINKS).count() == 0
    failed = [e for e in _audit(small_world)
              if e.action == "sign_in_failed" and e.actor == "planner"]
    assert failed
    # Neither the typed password, the real one nor any hash reaches the page or the log.
    sign_in(pg, "planner")
    html = pg.content() + "".join(f.content() for f in pg.frames[1:] if f.url.startswith("http"))
    log = app.log.read_text(errors="replace")
    for secret in (wrong, TEST_PASSWORD, "$scrypt$"):
        assert secret not in html
        assert secret not in log
        assert all(secret not in repr((e.old_value, e.new_value)) for e in _audit(small_world))


def test_after_the_idle_timeout_the_user_signs_in_again(idle_app, page):
    pg, _rec = page
    open_signed_in(pg, f"{idle_app.url}/alerts", "field")
    pg.get_by_role("heading", name="Runway alerts").wait_for(timeout=60_000)
    time.sleep(7)  # well past the 3 s timeout, even if a run was still finishing
    pg.get_by_role("button", name="Sign out").click()  # any click reaches the server
    pg.get_by_text("You were signed out after").wait_for(timeout=30_000)
    pg.get_by_label("User name").wait_for(timeout=30_000)  # is_visible() would not wait
    sign_in(pg, "field")
    pg.get_by_role("heading", name="Runway alerts").wait_for(timeout=60_000)


def test_the_first_run_asks_for_an_administrator(small_world, tmp_path, browser):
    folder = copy_world(small_world, tmp_path / "world")
    running = start_app(folder, tmp_path / "streamlit.log", accounts=False)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    try:
        pg.goto(running.url, wait_until="domcontentloaded")
        pg.get_by_role("heading", name="Create the administrator account").wait_for(
            timeout=60_000)
        pg.get_by_label("User name").fill("Jefa")
        pg.get_by_label("Password", exact=True).fill("short")
        pg.get_by_label("Password again").fill("short")
        pg.get_by_role("button", name="Create and sign in").click()
        pg.get_by_text("at least 12").first.wait_for(timeout=30_000)
        pg.get_by_label("User name").fill("Jefa")
        pg.get_by_label("Password", exact=True).fill("a long enough passphrase")
        pg.get_by_label("Password again").fill("a long enough passphrase")
        pg.get_by_role("button", name="Create and sign in").click()
        pg.get_by_text("Signed in as jefa").wait_for(timeout=60_000)
        pg.get_by_role("link", name="Accounts and audit").click()
        pg.get_by_role("heading", name="Accounts and audit").wait_for(timeout=60_000)
        pg.get_by_role("heading", name="Add an account").wait_for(timeout=60_000)
        pg.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=30_000)  # accounts
        pg.wait_for_timeout(500)
        pg.screenshot(path=str(ARTIFACTS / "access-admin-1280x800.png"))
        # Switched to Spanish on this page, the new-account form's role follows (it sits in
        # a form, so it is handed back explicitly: ui.sidebar.relabelled).
        role = pg.locator(f".st-key-{state.ADMIN_ADD_ROLE}").get_by_role("combobox")
        expect(role).to_have_value("Analyst")
        pg.locator(f".st-key-{state.LANGUAGE}").get_by_role("combobox").click()
        pg.get_by_role("option", name="Español").click()
        pg.get_by_role("heading", name="Añadir una cuenta").wait_for(timeout=60_000)
        expect(role).to_have_value("Analista", timeout=30_000)
        # The choice is saved on her account: another browser (her phone) signs in to it.
        phone = browser.new_context(viewport={"width": 390, "height": 844})
        try:
            other = phone.new_page()
            other.goto(running.url, wait_until="domcontentloaded")
            other.get_by_role("heading", name="Sign in").wait_for(timeout=60_000)
            other.get_by_label("User name").fill("jefa")
            other.get_by_label("Password", exact=True).fill("a long enough passphrase")
            other.get_by_role("button", name="Sign in").click()
            other.get_by_role("button", name="Cerrar sesión").wait_for(timeout=60_000)
            expect(other.locator(f".st-key-{state.LANGUAGE}").get_by_role("combobox")) \
                .to_have_value("Español")
            other.screenshot(path=str(ARTIFACTS / "access-phone-es.png"))
        finally:
            phone.close()
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "access-admin-es.png"))
        context.close()
        stop_app(running)


def test_without_a_deployment_language_the_sign_in_page_speaks_the_browsers(
        small_world, tmp_path, browser):
    """A Brazilian analyst's sign-in page, and every reload, read Spanish (the default)."""
    folder = copy_world(small_world, tmp_path / "world")
    running = start_app(folder, tmp_path / "streamlit.log", {"ATALAYA_LANGUAGE": ""})
    try:
        for locale, heading in (("pt-BR", "Entrar"), ("fr-FR", "Iniciar sesión"),
                                ("en-US", "Sign in")):
            context = browser.new_context(viewport={"width": 1280, "height": 800},
                                          locale=locale)
            try:
                pg = context.new_page()
                pg.goto(running.url, wait_until="domcontentloaded")
                pg.get_by_role("heading", name=heading, exact=True).wait_for(timeout=60_000)
            finally:
                context.close()
    finally:
        stop_app(running)


def test_a_role_changed_meanwhile_reaches_the_maps_own_reruns(small_world, tmp_path, page):
    """The map and its tables rerun alone (a fragment) when the view or a toggle changes.

    Such a rerun renews the session from the store too: an analyst made a planner meanwhile
    gets the planner's view (events at cell centres) on the next one, not the exact layers.
    """
    folder = copy_world(small_world, tmp_path / "world", scenes=False)
    running = start_app(folder, tmp_path / "streamlit.log")
    try:
        pg, rec = page
        open_map(pg, running.url)
        told = "Event locations are shown at the centre of 0.1° grid cells"
        wait_idle(pg)
        assert pg.get_by_text(told).count() == 0
        store = open_store(default_url({"ATALAYA_DATA_DIR": str(folder)}))
        try:
            set_role(store, "analyst", "planner", actor="admin")
        finally:
            store.engine.dispose()
        pg.get_by_text("Only what the map shows").click()  # reruns the fragment only
        pg.get_by_text(told).first.wait_for(timeout=60_000)
        assert rec.foreign() == []
    finally:
        stop_app(running)


#: A phone's browser, as Streamlit tells one (it folds its menu away only for these).
PHONE_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36")


def test_on_a_phone_the_menu_folds_away_once_a_page_is_chosen(app, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  user_agent=PHONE_UA)
    pg = context.new_page()
    try:
        open_signed_in(pg, app.url, "analyst")
        pg.get_by_role("heading", name=TITLES["map"], exact=True).wait_for(timeout=60_000)
        sidebar = pg.locator('[data-testid="stSidebar"]')
        if sidebar.get_attribute("data-collapsed") == "true":
            pg.locator('[data-testid="stExpandSidebarButton"]').click()
        expect(sidebar).to_have_attribute("data-collapsed", "false")
        pg.locator(MENU_LINKS).filter(has_text=TITLES["imagery"]).click()
        pg.get_by_role("heading", name=TITLES["imagery"], exact=True).wait_for(timeout=60_000)
        # the page chosen is in view, not under the menu (it covered three quarters of it)
        expect(sidebar).to_have_attribute("data-collapsed", "true")
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "access-phone-menu-folded.png"))
        context.close()
