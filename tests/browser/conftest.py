"""A running app and a real headless Chromium (Debian's package) driven by Playwright.

Every request the browser makes is recorded so a test can prove nothing left 127.0.0.1; every
test saves a screenshot to ``artifacts/browser/`` (and one on failure).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.conftest import ROOT, require
from tools.serve import CHROMIUM_FLAGS, App, chromium_path, ensure_accounts, start_app, stop_app

__all__ = ["ARTIFACTS", "CHROMIUM_FLAGS", "App", "Recorder", "chromium_path", "start_app",
           "stop_app", "wait_idle"]

ARTIFACTS = ROOT / "artifacts" / "browser"
LOCAL_HOSTS = {"127.0.0.1"}


def wait_idle(pg: object, timeout_ms: int = 120_000) -> None:
    """Wait until the script run a widget change (or a map report) started is over."""
    pg.wait_for_timeout(500)  # type: ignore[attr-defined]
    pg.wait_for_function(  # type: ignore[attr-defined]
        "() => document.querySelector('[data-testid=\"stApp\"]')"
        "?.dataset.testScriptState !== 'running'", timeout=timeout_ms)


@pytest.fixture(scope="session")
def app(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    log = tmp_path_factory.mktemp("app") / "streamlit.log"
    running = start_app(small_world, log)
    yield running
    stop_app(running)


@pytest.fixture(autouse=True)
def _accounts_without_language(request: pytest.FixtureRequest) -> None:
    """Sign the test accounts in to their app's language, whatever a test before chose.

    A language switched while signed in is saved on the account (``ui.auth``), and an app
    (``app``, ``review_app``, ``jobs_app``...) serves every test of its module or session.
    """
    for name in request.fixturenames:
        if name == "app" or name.endswith("_app"):
            running = request.getfixturevalue(name)
            if isinstance(running, App):
                ensure_accounts(running.environ)


@dataclass
class Recorder:
    urls: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def foreign(self) -> list[str]:
        out = []
        for url in self.urls:
            parsed = urlparse(url)
            if parsed.scheme in {"data", "blob", "about"}:
                continue
            if parsed.hostname not in LOCAL_HOSTS:
                out.append(url)
        return out


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    path = chromium_path()
    require(path is not None, "Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest) -> Iterator[tuple[object, Recorder]]:
    """Open a fresh 1280x800 page whose every request, console error and dialog is recorded."""
    rec = Recorder()
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    context.on("request", lambda req: rec.urls.append(req.url))
    pg = context.new_page()
    pg.on("console", lambda msg: rec.console_errors.append(msg.text) if msg.type == "error"
          else None)
    pg.on("dialog", lambda d: (rec.dialogs.append(d.message), d.dismiss()))
    yield pg, rec
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = request.node.name.replace("/", "_")
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    try:
        pg.screenshot(path=str(ARTIFACTS / f"{name}{'-FAILED' if failed else ''}.png"),
                      full_page=True)
    finally:
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep
