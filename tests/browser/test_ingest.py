"""Importing the real airstrip list through the app's upload widget in headless Chromium.

The 1,269 unregistered airstrips of the Amazon (NYT / Intercept Brasil), first as CSV: all are
stored in the aerodromes layer at the file's coordinates; then the same list as GeoJSON: all
1,269 are recognised as already stored and nothing is added.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.world import read_layer
from tests.browser.conftest import ARTIFACTS, App, start_app, stop_app, wait_idle
from tests.conftest import SHARED_DATA, require
from tests.ingest.hostile import kml_billion_laughs
from tools.serve import open_signed_in

pytestmark = pytest.mark.browser

FOLDER = SHARED_DATA / "nyt-amazon-airstrips"
STEM = "Illegal-Airstrips-NYT-Intercept-Public"
WAIT_MS = 120_000


@pytest.fixture(scope="module")
def airstrips() -> Path:
    require((FOLDER / f"{STEM}.csv").exists() and (FOLDER / f"{STEM}.geojson").exists(),
            f"{FOLDER} is absent (see ../shared/data)")
    return FOLDER


@pytest.fixture(scope="module")
def ingest_app(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """Run the app on a copy of the sample world whose aerodromes layer is still empty.

    Some of the 1,269 strips lie within 500 m of registered aerodromes; without them in the
    folder, every strip of the file is new.
    """
    world = tmp_path_factory.mktemp("ingest")
    for item in small_world.iterdir():
        if item.is_file() and not item.name.startswith("atalaya.sqlite3") \
                and item.name != "aerodromes.geojson":
            shutil.copy(item, world / item.name)
    running = start_app(world, world / "streamlit.log", {"ATALAYA_DATABASE_URL": ""})
    yield running
    stop_app(running)


def _metric(pg, label: str) -> str:
    box = pg.locator('[data-testid="stMetric"]').filter(has_text=label).first
    box.wait_for(timeout=WAIT_MS)
    return str(box.locator('[data-testid="stMetricValue"]').inner_text()).strip()


def _open(pg, app: App) -> None:
    open_signed_in(pg, f"{app.url}/ingest")
    pg.get_by_role("heading", name="Import data").wait_for(timeout=WAIT_MS)
    pg.locator('[data-testid="stSelectbox"]').filter(has_text="Layer").click()
    pg.get_by_role("option", name="Aerodromes and airstrips", exact=True).click()
    wait_idle(pg, WAIT_MS)


def _upload(pg, path: Path) -> None:
    wait_idle(pg, WAIT_MS)
    pg.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(path))
    pg.get_by_role("heading", name="First rows").wait_for(timeout=WAIT_MS)
    wait_idle(pg, WAIT_MS)
    pg.get_by_role("button", name="Validate").click()
    pg.get_by_role("heading", name="Validation report").wait_for(timeout=WAIT_MS)


def _lasting_files(folder: Path) -> list[str]:
    """Names in ``folder``, without SQLite's journals (they come and go with connections)."""
    return sorted(p.name for p in folder.iterdir()
                  if not p.name.endswith(("-wal", "-shm", "-journal")))


def _screenshots(pg, name: str) -> None:
    """Save the validation report at desktop and phone sizes (Streamlit scrolls inside)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    report = pg.get_by_role("heading", name="Validation report")
    for width, height in ((1280, 800), (390, 844)):
        pg.set_viewport_size({"width": width, "height": height})
        pg.wait_for_timeout(1000)  # let the columns stack
        report.evaluate("e => e.scrollIntoView({block: 'start'})")
        pg.wait_for_timeout(300)
        pg.screenshot(path=str(ARTIFACTS / f"{name}-{width}x{height}.png"))
    pg.set_viewport_size({"width": 1280, "height": 800})


@pytest.mark.realdata
def test_the_airstrip_list_is_imported_once_from_csv_then_found_again_in_geojson(
        ingest_app: App, airstrips: Path, page) -> None:
    pg, rec = page
    stored_path = Path(ingest_app.log).parent / "aerodromes.geojson"
    _open(pg, ingest_app)

    # CSV: every strip accepted and stored.
    _upload(pg, airstrips / f"{STEM}.csv")
    assert (_metric(pg, "Rows"), _metric(pg, "Rows accepted"), _metric(pg, "Rows rejected"),
            _metric(pg, "Already stored")) == ("1,269", "1,269", "0", "0")
    pg.get_by_text("Import will store 1,269 rows in aerodromes.geojson. 0 duplicates "
                   "skipped.").wait_for(timeout=WAIT_MS)
    _screenshots(pg, "test_ingest-csv-report")
    assert not stored_path.exists()  # nothing before Import
    pg.get_by_role("button", name="Import", exact=True).click()
    done = pg.get_by_text(re.compile(r"Rows stored from .*\.csv in aerodromes\.geojson: 1,269"))
    done.wait_for(timeout=WAIT_MS)
    done.evaluate("e => e.scrollIntoView({block: 'center'})")
    pg.screenshot(path=str(ARTIFACTS / "test_ingest-csv-stored-1280x800.png"))

    stored = read_layer(stored_path, "aerodromes")
    assert len(stored) == 1269
    assert set(stored["imported_by"]) == {"analyst"}
    source = pd.read_csv(airstrips / f"{STEM}.csv", dtype={"Airstrip ID": str})
    merged = source.merge(pd.DataFrame({"ident": stored["ident"], "lon": stored.geometry.x,
                                        "lat": stored.geometry.y}),
                          left_on="Airstrip ID", right_on="ident", validate="one_to_one")
    assert len(merged) == 1269
    assert np.allclose(merged["lon"], merged["x"])
    assert np.allclose(merged["lat"], merged["y"])

    # GeoJSON of the same list: all 1,269 already stored, nothing to add.
    stamp = stored_path.stat().st_mtime_ns
    _upload(pg, airstrips / f"{STEM}.geojson")
    assert (_metric(pg, "Rows accepted"), _metric(pg, "Already stored")) == ("1,269", "1,269")
    pg.get_by_text("Nothing new to store: every accepted row is already stored.") \
        .wait_for(timeout=WAIT_MS)
    assert pg.get_by_role("button", name="Import", exact=True).is_disabled()
    _screenshots(pg, "test_ingest-geojson-duplicates")
    assert stored_path.stat().st_mtime_ns == stamp
    assert len(read_layer(stored_path, "aerodromes")) == 1269
    assert rec.foreign() == []
    assert not rec.dialogs


def test_a_hostile_file_is_refused_with_a_message_and_the_app_keeps_running(
        ingest_app: App, page, tmp_path: Path) -> None:
    pg, rec = page
    _open(pg, ingest_app)  # signing in may create the store: listed after it
    before = _lasting_files(Path(ingest_app.log).parent)
    pg.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        str(kml_billion_laughs(tmp_path)))
    alert = pg.locator('[data-testid="stAlert"]').filter(has_text="The file was refused")
    alert.wait_for(timeout=WAIT_MS)
    assert "entities" in alert.inner_text()
    assert pg.get_by_role("heading", name="First rows").count() == 0
    assert not pg.locator('[data-testid="stException"]').count()  # no traceback
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "test_ingest-hostile-refused-1280x800.png"))
    # The app still answers: another page opens.
    pg.get_by_role("link", name="Overview map").click()
    pg.get_by_role("heading", name="Overview map").wait_for(timeout=WAIT_MS)
    assert _lasting_files(Path(ingest_app.log).parent) == before
    assert rec.foreign() == []
