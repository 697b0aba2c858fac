"""Sample world: generating events (target: 1,000,000 in under 30 s) and writing them.

Baseline: the obvious per-row Python generator (one dict and one Point per event, the way a
first script would do it), measured on a subset and reported per event. Machine limit: drawing
the same amount of random numbers with NumPy alone (12 draws per event), which no generator that
draws its values can beat. Writing is compared with pandas' CSV writer and with memory bandwidth.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
from shapely.geometry import Point

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row, best_of, memory_bandwidth_gb_s
from geo.sample.events import generate_events
from geo.sample.places import ANCHORS
from geo.schema import COMMODITIES, EVENT_TYPES

DRAWS_PER_EVENT = 12


def naive_events(n: int, seed: int = 7) -> gpd.GeoDataFrame:
    """Generate events one row at a time in plain Python: the baseline."""
    rnd = random.Random(seed)
    weights = [a.weight for a in ANCHORS]
    start = datetime(2019, 1, 1, tzinfo=UTC)
    rows, points = [], []
    for i in range(n):
        a = rnd.choices(ANCHORS, weights=weights)[0]
        kind = rnd.choice(EVENT_TYPES)
        commodity = rnd.choice(COMMODITIES)
        qty = round(rnd.lognormvariate(4.0, 1.5), 1)
        rows.append({
            "event_id": f"EV{i:07d}",
            "occurred_at": start + timedelta(days=rnd.uniform(0, 2555)),
            "event_type": kind, "commodity": commodity, "quantity_kg": qty,
            "country": a.country, "source": "press", "confidence": rnd.random(),
            "description": f"{kind} de {qty} kg de {commodity} cerca de {a.near}",
        })
        points.append(Point(a.lon + rnd.gauss(0, 0.3), a.lat + rnd.gauss(0, 0.3)))
    return gpd.GeoDataFrame(rows, geometry=points, crs=4326)


def run(quick: bool = False) -> list[Row]:
    """Measure generation and writing; return the table rows."""
    n = 100_000 if quick else 1_000_000
    n_naive = 20_000 if quick else 100_000
    rng = np.random.default_rng(0)
    gen = best_of(lambda: generate_events(n=n, rng=np.random.default_rng(7)), repeat=1 if not
                  quick else 2)
    naive = best_of(lambda: naive_events(n_naive), repeat=1)
    draws = best_of(lambda: rng.random(n * DRAWS_PER_EVENT), repeat=3)
    events = generate_events(n=n, rng=np.random.default_rng(7))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        start = time.perf_counter()
        events.to_parquet(out / "e.parquet", index=False, compression="zstd")
        parquet = time.perf_counter() - start
        size = (out / "e.parquet").stat().st_size
        csv = best_of(lambda: events.to_wkt().to_csv(out / "e.csv", index=False), repeat=1)
    bandwidth = memory_bandwidth_gb_s() * 1e9
    return [
        Row(f"generate {n:,} events", n / gen, "events/s", n_naive / naive,
            "per-row Python loop", n / draws, f"NumPy RNG alone, {DRAWS_PER_EVENT} draws/event",
            f"1M in < 30 s: {gen * 1_000_000 / n:.1f} s"),
        Row(f"write {n:,} events (GeoParquet, zstd)", n / parquet, "events/s", n / csv,
            "pandas CSV with WKT", bandwidth / max(size / n, 1), "memory bandwidth / bytes per "
            f"event ({size / n:.0f} B)", ""),
    ]


if __name__ == "__main__":
    from bench.common import table

    print(table(run(quick="--quick" in sys.argv)))
