"""Risk analysis: hexagon grids per cell and month, Getis-Ord Gi*, emerging hot spots, corridors.

Targets (issue 9): hexagon aggregation of 1,000,000 events in <= 1 s, Gi* over 10,000 cells in
<= 2 s. Each is compared, in the same run, with the obvious pure-geopandas way: ``sjoin`` of
the points into the hexagon polygons then ``groupby`` (the polygons are built beforehand and
not timed, which flatters the baseline), and Gi* with a Python loop over cells whose
neighbours come from the GeoDataFrame's spatial index (``sindex.query(..., "intersects")``).
The naive versions run on a part of the input and are scaled linearly (they are at least
linear). The machine limit for the hexagon grid is H3's own indexing, one C call per event
(h3 has no array API), which no grouping can avoid.

The land test keeps of the study area's box the cells on land or within half a cell of it
(``geo.countries.on_land``, at the risk page's first render and at each change of grid); its
baseline is the way it was made until 2026-12-06, the spatial index's own predicates, which
prepare each point and measure every point at sea against every country whose box is near.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row, best_of
from geo.aggregate import cell_polygons
from geo.risk.corridor import within_corridor
from geo.risk.grids import (
    CellGrid,
    aggregate_cells_by_month,
    cell_centres,
    cell_codes,
    located_bounds,
    monthly_cell_matrix,
)
from geo.risk.hotspots import count_hotspot_test
from geo.risk.neighbours import cell_areas_km2, neighbour_matrix, reach_deg, study_cells
from geo.risk.trends import mann_kendall
from geo.sample.events import generate_events

HEX = CellGrid("h3", resolution=4)
GI_GRID = CellGrid("h3", resolution=5)
GI_BOX = (-79.5, -14.5, -63.5, 0.0)  # 10,199 resolution-5 hexagons (Peru, Colombia...)
ROUTE = LineString([(-69.0, 7.0), (-80.0, 12.0), (-90.0, 17.0)])  # Apure to the Petén


def naive_hex_aggregate(events: gpd.GeoDataFrame, hexes: gpd.GeoDataFrame) -> pd.DataFrame:
    """Baseline: sjoin the points into hexagon polygons, then group by cell and month."""
    joined = gpd.sjoin(events[["occurred_at", "quantity_kg", "geometry"]],
                       hexes[["cell", "geometry"]], predicate="within")
    joined["month"] = joined["occurred_at"].dt.tz_localize(None).dt.to_period("M")
    out: pd.DataFrame = joined.groupby(["cell", "month"]).agg(
        count=("cell", "size"), quantity_kg=("quantity_kg", "sum"))
    return out


def naive_gi_star(hexes: gpd.GeoDataFrame, values: np.ndarray) -> np.ndarray:
    """Baseline: Gi* one cell at a time, neighbours from the spatial index."""
    n = len(values)
    mean, std = values.mean(), values.std()
    geoms = hexes.geometry.to_numpy()
    z = np.zeros(n)
    for i in range(n):
        near = hexes.sindex.query(geoms[i], predicate="intersects")  # touching, and itself
        w = len(near)
        num = values[near].sum() - mean * w
        den = std * np.sqrt((n * w - w * w) / (n - 1))
        z[i] = num / den if den > 0 else 0.0
    return z


def _hex_rows(events: gpd.GeoDataFrame, n_naive: int) -> list[Row]:
    big = len(events)
    t_fast = best_of(lambda: aggregate_cells_by_month(events, HEX), repeat=3)
    x, y = events.geometry.x.to_numpy(), events.geometry.y.to_numpy()
    t_index = best_of(lambda: cell_codes(x, y, HEX), repeat=3)
    out = aggregate_cells_by_month(events, HEX)
    hexes = cell_polygons(out.drop_duplicates("cell")[["cell", "lon", "lat"]])
    part = events.iloc[:n_naive]
    start = time.perf_counter()
    naive = naive_hex_aggregate(part, hexes)
    t_naive = (time.perf_counter() - start) * big / n_naive
    t_sq = best_of(lambda: aggregate_cells_by_month(events, CellGrid("square", size_deg=0.25)),
                   repeat=3)
    exact = int(out["count"].sum()) == big
    return [
        Row(f"H3 res {HEX.resolution} x month grid, {big:,} events", t_fast, "s", t_naive,
            f"sjoin into hexagons + groupby, scaled from {n_naive:,}", t_index,
            "H3 indexing alone (1 C call per event)",
            f"<= 1 s; {len(out):,} (cell, month) rows; totals exact: {exact}; "
            f"naive found {int(naive['count'].sum()):,} of {n_naive:,}"),
        Row(f"square 0.25 deg x month grid, {big:,} events", t_sq, "s", t_naive,
            f"sjoin into hexagons + groupby, scaled from {n_naive:,}", None, "", "NumPy only"),
    ]


def _gi_rows(events: gpd.GeoDataFrame, n_naive: int) -> list[Row]:
    codes = study_cells(GI_GRID, bounds=GI_BOX)
    cells = monthly_cell_matrix(events, GI_GRID, codes=codes)
    counts = cells.counts.sum(axis=1).astype("float64")
    areas = cell_areas_km2(cells.codes, GI_GRID)

    def fast() -> np.ndarray:
        w = neighbour_matrix(cells.codes, GI_GRID)
        return count_hotspot_test(counts, w, areas=areas).z

    t_fast = best_of(fast, repeat=3)
    w = neighbour_matrix(cells.codes, GI_GRID)
    t_stat = best_of(lambda: count_hotspot_test(counts, w, areas=areas), repeat=3)
    frame = pd.DataFrame({"cell": cells.names, "lon": cells.lon, "lat": cells.lat})
    hexes = cell_polygons(frame)
    hexes.sindex  # noqa: B018 - build the index outside the timing, as the fast path's codes are
    m = min(n_naive, len(counts))
    start = time.perf_counter()
    z_naive = naive_gi_star(hexes.iloc[:m], counts[:m])
    t_naive = (time.perf_counter() - start) * len(counts) / m
    z_fast = count_hotspot_test(counts[:m], neighbour_matrix(cells.codes[:m], GI_GRID)).z
    agree = float(np.mean(np.abs(z_naive - z_fast) < 1e-6))
    n_months = cells.counts.shape[1]
    t_mk = best_of(lambda: mann_kendall(cells.counts.astype("float64")), repeat=2)
    return [
        Row(f"Gi* over {len(counts):,} H3 cells (weights + exact test)", t_fast, "s", t_naive,
            f"loop over cells + sindex neighbours, scaled from {m:,}", t_stat,
            "the statistics alone (weights built)",
            f"<= 2 s; z equal to the naive loop on {agree:.0%} of cells"),
        Row(f"Mann-Kendall, {len(counts):,} cells x {n_months} months", t_mk, "s", None, "",
            None, "", "vectorised over cells"),
    ]


def _corridor_row(events: gpd.GeoDataFrame, n_naive: int) -> Row:
    geoms = events.geometry.to_numpy()
    t_fast = best_of(lambda: within_corridor(geoms, ROUTE, 50.0), repeat=2)
    part = events.iloc[:n_naive]
    start = time.perf_counter()
    crs = part.estimate_utm_crs()
    buffer = gpd.GeoSeries([ROUTE], crs=4326).to_crs(crs).buffer(50_000).iloc[0]
    naive = part.to_crs(crs).within(buffer)
    t_naive = (time.perf_counter() - start) * len(events) / n_naive
    found = int(within_corridor(geoms[:n_naive], ROUTE, 50.0).sum())
    return Row(f"corridor 50 km around a 2,400 km route, {len(events):,} events", t_fast, "s",
               t_naive, f"to_crs(one UTM zone) + buffer + within, scaled from {n_naive:,}",
               None, "", f"{found:,} vs naive {int(naive.sum()):,} of {n_naive:,} "
               "(one UTM zone is wrong that far out)")


def _land_row(events: gpd.GeoDataFrame, n_naive: int) -> Row:
    """Time the risk study area's land test: H3 res 5 cells over the events' box."""
    from geo.countries import locate_reference, read_country_borders

    grid = CellGrid("h3", resolution=5)
    lon, lat = cell_centres(study_cells(grid, bounds=located_bounds(events)), grid)
    borders, reach = read_country_borders(), reach_deg(grid)
    t_fast = best_of(lambda: borders.covers(lon, lat, within_deg=reach), repeat=2)
    t_inside = best_of(lambda: borders.covers(lon, lat), repeat=2)
    m = min(n_naive, lon.size)
    step = max(lon.size // m, 1)  # a spread-out part: land and sea as in the whole box
    start = time.perf_counter()
    naive = np.array([code is not None for code in locate_reference(
        borders, lon[::step], lat[::step], within_deg=reach)], dtype=bool)
    t_naive = (time.perf_counter() - start) * lon.size / naive.size
    same = bool(np.array_equal(naive, borders.covers(lon[::step], lat[::step],
                                                     within_deg=reach)))
    return Row(f"land test of the study area: {lon.size:,} H3 res 5 cells, within "
               f"{reach:.3f} deg of a country", t_fast, "s", t_naive,
               f"the tree's predicates, query_nearest at sea, scaled from {naive.size:,}",
               t_inside, "point in country alone (no reach)",
               f"the risk page's first render; same cells as the baseline: {same}")


def run(quick: bool = False) -> list[Row]:
    """Measure the grids, Gi*, Mann-Kendall and a corridor query; return the table rows."""
    big = 100_000 if quick else 1_000_000
    events = generate_events(n=big, rng=np.random.default_rng(7))
    n_naive = 20_000 if quick else 100_000
    rows = _hex_rows(events, n_naive)
    rows += _gi_rows(events, 500 if quick else 2_000)
    rows.append(_corridor_row(events, n_naive))
    rows.append(_land_row(events, 2_000 if quick else 10_000))
    return rows


if __name__ == "__main__":
    from bench.common import table

    print(table(run(quick="--quick" in sys.argv)))
