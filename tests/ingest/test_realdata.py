"""The real list of 1,269 unregistered airstrips (NYT / Intercept Brasil) as CSV and GeoJSON."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geo.ingest import commit, find_duplicates, read_existing
from geo.world import read_layer
from tests.conftest import SHARED_DATA, require
from tests.ingest.common import offer

FOLDER = SHARED_DATA / "nyt-amazon-airstrips"
STEM = "Illegal-Airstrips-NYT-Intercept-Public"

pytestmark = pytest.mark.realdata


@pytest.fixture
def airstrips() -> Path:
    require((FOLDER / f"{STEM}.csv").exists(), f"{FOLDER} is absent (see ../shared/data)")
    return FOLDER


def test_csv_and_geojson_give_the_same_1269_airstrips(airstrips: Path, tmp_path: Path) -> None:
    csv = offer(airstrips / f"{STEM}.csv", "aerodromes")
    geojson = offer(airstrips / f"{STEM}.geojson", "aerodromes")
    for report in (csv, geojson):
        assert report.counts == {"rows": 1269, "accepted": 1269, "rejected": 0}
        x0, y0, x1, y1 = report.accepted.total_bounds
        assert -74 < x0 < x1 < -44
        assert -18 < y0 < y1 < 5.5
        assert (report.accepted["country"] == "BR").mean() > 0.99
    a = csv.accepted.set_index("ident").sort_index()
    b = geojson.accepted.set_index("ident").sort_index()
    assert a.index.equals(b.index)
    assert np.allclose(a.geometry.x, b.geometry.x)
    assert np.allclose(a.geometry.y, b.geometry.y)
    point = a.geometry.loc["48"]
    assert (point.x, point.y) == pytest.approx((-63.70780353, 3.11671623))

    data = tmp_path / "data"
    data.mkdir()
    assert commit(csv, data).added == 1269
    assert len(read_layer(data / "aerodromes.geojson", "aerodromes")) == 1269
    dups = find_duplicates(geojson.accepted, read_existing(data, "aerodromes"),
                           layer="aerodromes")
    assert len(dups) == 1269
