"""Map explorer: building the map HTML for many events, bytes shipped per event, filtering.

Targets (issue 3): the map HTML for 1,000,000 events in at most 1.5 s and at most 12 bytes per
event. Two ways of shipping: a standalone page inlines the arrays as base64 (an exported map);
the app publishes them as one binary file the page fetches (``layers.staticdata``) and sends
only the events group's small script (``ui.mapview.render_group``). The canvas layer (typed
arrays, ``layers.events``) is compared with what folium offers out of the box: one
``folium.GeoJson`` of points and a ``MarkerCluster``, measured in the same run. The baselines
run at 100,000 events (GeoJson) and 10,000 (MarkerCluster builds one Python Marker object per
point and would take minutes at 1M); their per-event figures are given so the ratios compare
like with like. Filtering is compared with memory bandwidth (the columns it has to read) and
with the obvious pandas ``query`` + ``GeoSeries.within``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
from folium.plugins import MarkerCluster
from shapely.geometry import Polygon

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row, best_of, memory_bandwidth_gb_s
from geo.aggregate import aggregate_cells
from geo.filters import Filters, event_mask
from geo.sample.events import generate_events
from layers.events import build_events_layer, pack_events
from layers.map import overlay_parts
from layers.staticdata import publish
from ui.mapview import render_group

AOI = Polygon([(-78, -18), (-62, -19), (-63, -2), (-77, -3)])
FILTERS = Filters(start=datetime(2021, 1, 1, tzinfo=UTC), end=datetime(2023, 1, 1, tzinfo=UTC),
                  event_types=("seizure", "incident"), min_confidence=0.3, aoi=AOI)


def _empty_html() -> str:
    return str(folium.Map(tiles=None, prefer_canvas=True).get_root().render())


def canvas_html(events: gpd.GeoDataFrame) -> str:
    """Map HTML with the events canvas layer (what the explorer ships)."""
    m = folium.Map(tiles=None, prefer_canvas=True)
    build_events_layer(events, name="Events").add_to(m)
    return str(m.get_root().render())


def geojson_html(events: gpd.GeoDataFrame) -> str:
    """Baseline: every event as a GeoJSON feature with its attributes."""
    m = folium.Map(tiles=None, prefer_canvas=True)
    folium.GeoJson(events[["event_type", "geometry"]]).add_to(m)
    return str(m.get_root().render())


def cluster_html(events: gpd.GeoDataFrame) -> str:
    """Baseline: folium's MarkerCluster, one Marker per event."""
    m = folium.Map(tiles=None, max_zoom=18)
    locations = np.column_stack([events.geometry.y, events.geometry.x]).tolist()
    MarkerCluster(locations=locations).add_to(m)  # type: ignore[no-untyped-call]
    return str(m.get_root().render())


def app_events_group(events: gpd.GeoDataFrame, folder: Path) -> tuple[int, int]:
    """Do what the app does for the events on a filter change: pack, publish, render.

    Returns the bytes of the published file and of the group's script.
    """
    meta, blob = pack_events(events)
    url = publish(blob, folder, url_prefix="/app/static/data")
    empty = events.iloc[:0]
    parts = overlay_parts(events=empty, routes=gpd.GeoDataFrame(geometry=[], crs=4326),
                          candidates=gpd.GeoDataFrame(geometry=[], crs=4326), labels={},
                          events_payload={**meta, "url": url})
    events_part = next(p for p in parts if p.key == "events")
    script = render_group(events_part.build(), 3).script
    return len(blob), len(script)


def _timed(fn) -> tuple[float, str]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    html = fn()
    return time.perf_counter() - start, html


def run(quick: bool = False) -> list[Row]:
    """Measure map building, bytes per event and filtering; return the table rows."""
    big = 100_000 if quick else 1_000_000
    events = generate_events(n=big, rng=np.random.default_rng(7))
    small = events.iloc[:100_000]
    tiny = events.iloc[:10_000] if not quick else events.iloc[:2_000]
    base = len(_empty_html())
    rows: list[Row] = []
    t_geo, geo_html = _timed(lambda: geojson_html(small))
    t_cluster, cluster = _timed(lambda: cluster_html(tiny))
    geo_bpe = (len(geo_html) - base) / len(small)
    cluster_bpe = (len(cluster) - base) / len(tiny)
    for n, frame in ((len(small), small), (big, events)):
        t_canvas = best_of(partial(canvas_html, frame), repeat=2)
        size = len(canvas_html(frame)) - base
        rows.append(Row(f"map HTML, {n:,} events (canvas layer)", t_canvas, "s",
                        t_geo * n / len(small), "folium.GeoJson, scaled from 100k",
                        target="1M in <= 1.5 s" if n == big else ""))
        rows.append(Row(f"bytes per event, {n:,} events (canvas layer)", size / n, "B",
                        geo_bpe, "folium.GeoJson (type attribute only)",
                        target="<= 12 B/event"))
    with tempfile.TemporaryDirectory(prefix="atalaya-bench-static-") as folder:
        for n, frame in ((len(small), small), (big, events)):
            t_app = best_of(partial(app_events_group, frame, Path(folder)), repeat=2)
            blob, script = app_events_group(frame, Path(folder))
            rows.append(Row(f"app events layer, {n:,} events (pack, publish, render group)",
                            t_app, "s", t_geo * n / len(small),
                            "folium.GeoJson, scaled from 100k",
                            target="1M in <= 1.5 s" if n == big else ""))
            rows.append(Row(f"bytes per event shipped by the app, {n:,} events",
                            (blob + script) / n, "B", geo_bpe,
                            "folium.GeoJson (type attribute only)",
                            target=f"<= 12 B/event; script {script:,} B"))
    rows.append(Row(f"MarkerCluster map HTML, per event ({len(tiny):,} events)",
                    t_cluster / len(tiny) * 1e6, "µs/event", None, "", None, "",
                    f"{cluster_bpe:.0f} B/event; 1M would take "
                    f"~{t_cluster / len(tiny) * 1e6:.0f} s"))
    rows.append(Row(f"GeoJson map HTML, per event ({len(small):,} events)",
                    t_geo / len(small) * 1e6, "µs/event", None, "", None, "",
                    f"{geo_bpe:.0f} B/event"))
    t_filter = best_of(lambda: event_mask(events, FILTERS), repeat=3)
    scanned = sum(events[c].memory_usage(deep=False) for c in
                  ("occurred_at", "event_type", "confidence")) + 16 * big
    naive_n = min(big, 100_000)
    part = events.iloc[:naive_n]
    t_naive = best_of(lambda: part[(part["occurred_at"] >= FILTERS.start)
                                   & (part["occurred_at"] < FILTERS.end)
                                   & part["event_type"].isin(FILTERS.event_types or ())
                                   & (part["confidence"] >= 0.3)
                                   & part.geometry.within(AOI)], repeat=1)
    bandwidth = memory_bandwidth_gb_s() * 1e9
    rows.append(Row(f"filter {big:,} events (time, types, confidence, polygon)", t_filter, "s",
                    t_naive * big / naive_n, "pandas masks + GeoSeries.within, scaled",
                    scanned / bandwidth, "reading the columns once at memory bandwidth",
                    "fast enough to run on every widget change"))
    t_h3 = best_of(lambda: aggregate_cells(events, kind="h3", resolution=4), repeat=1)
    t_sq = best_of(lambda: aggregate_cells(events, kind="square", size_deg=0.5), repeat=2)
    rows.append(Row(f"aggregate {big:,} events into H3 cells (res 4)", t_h3, "s", t_sq,
                    "square cells in NumPy", target="cached per filters"))
    return rows


if __name__ == "__main__":
    from bench.common import table

    print(table(run(quick="--quick" in sys.argv)))
