"""Snapshots: every export format for 100,000 events (1,000,000 in the full run), timed.

Each format is made end to end by ``geo.export.make_snapshot`` (reading and validating the
data folder, filtering, writing, hashing, the manifest) on a data folder holding the sample
world's events, routes and aerodromes. Baseline: geopandas ``to_file`` of the same events as
one GeoJSON (the obvious one-liner an analyst would write). Reading the folder is timed on its
own, since every format pays it. PNG and PDF (headless Chromium) are skipped, with a row
saying so, when Chromium is not installed.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row
from geo.export import FORMATS, SnapshotSpec, make_snapshot
from geo.export.render import browser_available
from geo.sample.events import generate_events
from geo.world import read_world


def _data_folder(root: Path, n: int) -> Path:
    """Write ``n`` sample events (and the repository's sample routes/aerodromes if present)."""
    data = root / "data"
    data.mkdir()
    generate_events(n=n, rng=np.random.default_rng(7)).to_parquet(data / "events.parquet",
                                                                  index=False)
    sample = Path(__file__).resolve().parent.parent / "data"
    for name in ("routes.geojson", "aerodromes.geojson"):
        if (sample / name).exists():
            (data / name).write_bytes((sample / name).read_bytes())
    return data


def run(quick: bool = False) -> list[Row]:
    """Time each format; return the table rows."""
    n = 100_000 if quick else 1_000_000
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = _data_folder(root, n)
        start = time.perf_counter()
        world = read_world(data)
        read = time.perf_counter() - start
        start = time.perf_counter()
        world["events"].to_file(root / "baseline.geojson", driver="GeoJSON", engine="pyogrio")
        baseline = time.perf_counter() - start
        rows.append(Row(f"read and validate the data folder ({n:,} events)", read, "s"))
        chromium = browser_available() is not None
        for fmt in FORMATS:
            if fmt in ("png", "pdf") and not chromium:
                rows.append(Row(f"{fmt}: skipped, Chromium is not installed", 0.0, "s"))
                continue
            out = root / f"out-{fmt}"
            start = time.perf_counter()
            manifest = make_snapshot(data, SnapshotSpec(formats=(fmt,)), out)
            took = time.perf_counter() - start
            size = sum(f.bytes for f in manifest.files) / 1e6
            status = f"failed: {manifest.failed[fmt][:60]}" if fmt in manifest.failed else \
                f"{size:,.1f} MB"
            rows.append(Row(f"snapshot {fmt} of {n:,} events ({status})", took, "s",
                            baseline, "geopandas to_file GeoJSON, events only",
                            target="finishes"))
    return rows
