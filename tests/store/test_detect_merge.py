"""End to end: real detector output of two dates merged into the store on both backends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from geo.detect.scene import detect_scene
from geo.sample.landscape import box_coverage
from geo.store import AlertChange, list_alerts, merge_candidates, read_detections, update_alert

FOREST = np.array([0.020, 0.045, 0.025, 0.300, 0.140, 0.060], dtype=np.float32)
BARE = np.array([0.034, 0.056, 0.045, 0.140, 0.190, 0.090], dtype=np.float32)
BANDS = ("blue", "green", "red", "nir", "swir1", "swir2")
SIZE = 200  # pixels of 10 m, in EPSG:32718 (Ucayali, Peru)


def write_scene(path: Path, date: str, strips: list[tuple[float, float, float, float, float]],
                seed: int) -> str:
    """Forest with bare strips (centre x, y in metres from the top-left, length, width, bearing)."""
    rng = np.random.default_rng(seed)
    img = FOREST[:, None, None] * (1 + 0.05 * rng.standard_normal((6, SIZE, SIZE)))
    for cx, cy, length, width, bearing in strips:
        cov = box_coverage((SIZE, SIZE), 10.0, cx=cx, cy=cy, length=length, width=width,
                           bearing_deg=bearing)
        img += (BARE[:, None, None] - img) * cov[None]
    profile = {"driver": "GTiff", "dtype": "uint16", "count": 6, "height": SIZE, "width": SIZE,
               "transform": Affine(10.0, 0.0, 600000.0, 0.0, -10.0, 8960000.0), "nodata": 0,
               "crs": "EPSG:32718"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.clip(np.rint(img * 1e4), 1, 10000).astype(np.uint16))
        dst.descriptions = BANDS
        dst.update_tags(ACQUISITION_DATE=date)
    return str(path)


OLD = (500.0, 500.0, 700.0, 20.0, 60.0)
SECOND = (1400.0, 1500.0, 600.0, 20.0, 150.0)
NEW = (1500.0, 600.0, 600.0, 20.0, 10.0)


def test_two_dates_of_detection_become_one_alert_per_strip(store, tmp_path):
    first = detect_scene(write_scene(tmp_path / "a.tif", "2023-07-15", [OLD, SECOND], seed=1))
    later = detect_scene(write_scene(tmp_path / "b.tif", "2024-08-02",
                                     [(505.0, 495.0, 720.0, 22.0, 60.5), NEW], seed=2))
    assert (len(first), len(later)) == (2, 2)
    assert len(merge_candidates(store, first).created) == 2
    old = min(list_alerts(store), key=lambda a: a.centroid_lon)  # OLD is the westmost
    old = update_alert(store, AlertChange(old.id, old.version, state="under_review"),
                       actor="ana")
    report = merge_candidates(store, later)
    assert len(report.created) == 1  # the new strip
    assert report.updated == [old.id]  # the old strip, seen again
    alerts = {a.id: a for a in list_alerts(store)}
    assert len(alerts) == 3
    assert alerts[old.id].state == "under_review"
    assert [d["scene_id"] for d in read_detections(store, old.id)] == ["a", "b"]
    assert alerts[old.id].last_seen.year == 2024
