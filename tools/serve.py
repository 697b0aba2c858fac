"""Start the app with ``streamlit run`` on a free local port, and find Debian's Chromium.

Shared by the browser tests (``tests/browser/conftest.py``) and the browser benchmarks
(``bench/bench_explorer_browser.py``), so neither imports the other.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CHROMIUM_FLAGS", "ROOT", "TEST_PASSWORD", "TEST_USERS", "App", "chromium_path",
           "ensure_accounts", "open_signed_in", "sign_in", "start_app", "stop_app"]

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
]


def chromium_path() -> str | None:
    """Return the Chromium to drive (``ATALAYA_CHROMIUM``, Debian's, or one on PATH)."""
    for candidate in (os.environ.get("ATALAYA_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class App:
    """A running ``streamlit run app.py``: its URL, process, log file and environment."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    environ: dict[str, str] = field(default_factory=dict)


#: Accounts the tests and benchmarks sign in with (user name = role), all with one password.
#: Made in the store of the app under test only (never by ``make run``).
TEST_USERS = ("analyst", "planner", "field", "admin")
TEST_PASSWORD = "test-only password 42"


def ensure_accounts(environ: dict[str, str]) -> None:
    """Create the :data:`TEST_USERS` accounts in the store ``environ`` points at, if missing.

    Each is left with no language of its own, so it signs in to the deployment's: a test that
    switched an account to Spanish (saved on the account) does not carry it into the next.
    """
    from geo.errors import AccountNotFoundError
    from geo.store import default_url, open_store
    from geo.store.users import create_user, get_user, set_language

    store = open_store(default_url(environ))
    try:
        for name in TEST_USERS:
            try:
                if get_user(store, name).language is not None:
                    set_language(store, name, None)
            except AccountNotFoundError:
                create_user(store, name, TEST_PASSWORD, role=name, actor="test setup")
    finally:
        store.engine.dispose()


def sign_in(pg: object, user: str = "analyst", password: str = TEST_PASSWORD) -> None:
    """Fill the app's sign-in form in the Playwright page ``pg`` and wait for the app."""
    name = pg.get_by_label("User name")  # type: ignore[attr-defined]
    name.wait_for(timeout=60_000)
    name.fill(user)
    pg.get_by_label("Password", exact=True).fill(password)  # type: ignore[attr-defined]
    pg.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]
    pg.get_by_role("button", name="Sign out").wait_for(timeout=60_000)  # type: ignore[attr-defined]


def open_signed_in(pg: object, url: str, user: str = "analyst", **goto: object) -> None:
    """Open ``url`` in ``pg`` (a new browser session) and sign in as ``user``."""
    goto.setdefault("wait_until", "domcontentloaded")
    pg.goto(url, **goto)  # type: ignore[attr-defined]
    sign_in(pg, user)


def start_app(data_dir: Path, log: Path, extra_env: dict[str, str] | None = None,
              *, timeout: float = 90, accounts: bool = True, script: str = "app.py") -> App:
    """Run the app on ``data_dir`` and return once ``/_stcore/health`` answers.

    With ``accounts``, the :data:`TEST_USERS` exist in its store (see :func:`sign_in`).
    ``script``: the Streamlit script run from the project's folder (a test's own page).
    """
    port = free_port()
    env = {**os.environ, "ATALAYA_DATA_DIR": str(data_dir), "ATALAYA_LANGUAGE": "en",
           **(extra_env or {})}
    if accounts:
        ensure_accounts(env)
    cmd = [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true",
           "--browser.gatherUsageStats", "false"]
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return App(url, proc, log, env)
        except OSError:
            time.sleep(0.5)
    stop_app(App(url, proc, log, env))
    raise RuntimeError(f"streamlit did not become healthy in {timeout:.0f} s")


def stop_app(app: App) -> None:
    """Stop the app's process (terminate, then kill after 15 s)."""
    app.process.terminate()
    try:
        app.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        app.process.kill()
        app.process.wait(timeout=15)
