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
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CHROMIUM_FLAGS", "ROOT", "App", "chromium_path", "start_app", "stop_app"]

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
    """A running ``streamlit run app.py``: its URL, process and log file."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path


def start_app(data_dir: Path, log: Path, extra_env: dict[str, str] | None = None,
              *, timeout: float = 90) -> App:
    """Run the app on ``data_dir`` and return once ``/_stcore/health`` answers."""
    port = free_port()
    env = {**os.environ, "ATALAYA_DATA_DIR": str(data_dir), "ATALAYA_LANGUAGE": "en",
           **(extra_env or {})}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
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
                    return App(url, proc, log)
        except OSError:
            time.sleep(0.5)
    stop_app(App(url, proc, log))
    raise RuntimeError(f"streamlit did not become healthy in {timeout:.0f} s")


def stop_app(app: App) -> None:
    """Stop the app's process (terminate, then kill after 15 s)."""
    app.process.terminate()
    try:
        app.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        app.process.kill()
        app.process.wait(timeout=15)
