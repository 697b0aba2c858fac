"""Hot spots: Gi* against the textbook formula, a planted cluster, FDR under uniform noise, KDE."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy import stats

from geo.errors import SchemaError
from geo.risk.grids import CellGrid
from geo.risk.hotspots import (
    benjamini_hochberg,
    classify_hotspots,
    compute_hotspots,
    count_hotspot_test,
    getis_ord_gi_star,
    kernel_density,
)

SQUARE = CellGrid("square", size_deg=1.0)
BOX = (0.5, 0.5, 29.5, 29.5)  # centres of a 30 x 30 grid of 1-degree cells


def _points(lon: np.ndarray, lat: np.ndarray) -> gpd.GeoDataFrame:
    when = pd.Series(pd.Timestamp("2024-06-01", tz="UTC"), index=range(len(lon)))
    return gpd.GeoDataFrame({"occurred_at": when, "quantity_kg": np.ones(len(lon))},
                            geometry=gpd.points_from_xy(lon, lat), crs=4326)


def _noise(rng: np.random.Generator, n: int) -> gpd.GeoDataFrame:
    """Uniform on the sphere over 0-30 E, 0-30 N (uniform in sin(latitude), not latitude)."""
    lat = np.degrees(np.arcsin(rng.uniform(0.0, 0.5, n)))
    return _points(rng.uniform(0, 30, n), lat)


def _naive_gi_star(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Ord & Getis (1995) Gi*, one cell at a time, straight from the paper's formula."""
    n = len(x)
    xbar, s = x.mean(), np.sqrt((x**2).mean() - x.mean() ** 2)
    z = np.zeros(n)
    for i in range(n):
        wi = w[i]
        num = (wi * x).sum() - xbar * wi.sum()
        den = s * np.sqrt((n * (wi**2).sum() - wi.sum() ** 2) / (n - 1))
        z[i] = num / den if den > 0 else 0.0
    return z


def test_gi_star_matches_the_formula():
    rng = np.random.default_rng(3)
    n = 60
    dense = (rng.random((n, n)) < 0.1).astype(float)
    dense = np.maximum(dense, dense.T)
    np.fill_diagonal(dense, 1.0)
    x = rng.poisson(4.0, n).astype(float)
    gi = getis_ord_gi_star(x, sp.csr_matrix(dense))
    np.testing.assert_allclose(gi.z, _naive_gi_star(x, dense), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gi.p, 2 * stats.norm.sf(np.abs(gi.z)), rtol=1e-10)
    # Several periods at once give the same as one at a time.
    many = getis_ord_gi_star(np.column_stack([x, x[::-1]]), sp.csr_matrix(dense))
    np.testing.assert_allclose(many.z[:, 0], gi.z)


def test_exact_count_test_agrees_with_the_binomial():
    w = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], dtype=float))
    gi = count_hotspot_test(np.array([8, 1, 0]), w)
    # Cell 0's neighbourhood (2 of 3 cells) holds all 9 events: P(S >= 9) = (2/3)^9.
    assert gi.p[0] == pytest.approx(min(1.0, 2 * (2 / 3) ** 9))
    assert gi.direction.tolist() == [1.0, 0.0, -1.0]  # cell 1 sees everything
    with pytest.raises(SchemaError, match="non-negative integers"):
        count_hotspot_test(np.array([0.5, 1.0, 2.0]), w)
    with pytest.raises(SchemaError, match="binary"):
        count_hotspot_test(np.array([1, 1, 2]), w * 0.5)


def test_gi_star_of_constant_values_is_zero():
    gi = getis_ord_gi_star(np.full(5, 3.0), sp.identity(5, format="csr"))
    assert gi.z.tolist() == [0.0] * 5
    assert gi.p.tolist() == [1.0] * 5


def test_benjamini_hochberg_matches_the_step_up_rule():
    rng = np.random.default_rng(0)
    p = rng.random(200) ** 3
    q = benjamini_hochberg(p)
    for alpha in (0.01, 0.05, 0.2):
        order = np.sort(p)
        passed = np.flatnonzero(order <= alpha * np.arange(1, 201) / 200)
        expected = 0 if len(passed) == 0 else passed[-1] + 1
        assert int((q <= alpha).sum()) == expected
    assert np.isnan(benjamini_hochberg(np.array([np.nan, 0.01]))[0])


def test_planted_cluster_is_a_significant_hot_spot():
    rng = np.random.default_rng(11)
    noise = _noise(rng, 4500)  # about 5 events per cell
    cluster = _points(rng.normal(15.5, 0.25, 120), rng.normal(15.5, 0.25, 120))
    out = compute_hotspots(pd.concat([noise, cluster], ignore_index=True), SQUARE, bounds=BOX)
    assert len(out) == 900
    centre = out.loc[out["value"].idxmax()]
    assert centre["hotspot"] == "hot"
    assert centre["q"] < 1e-6
    hot = out[out["hotspot"] == "hot"]
    # Every hot cell is the cluster's cell or touches it; nothing hot elsewhere.
    assert (hot["lon"].sub(15.5).abs() <= 1.01).all()
    assert (hot["lat"].sub(15.5).abs() <= 1.01).all()


def test_planted_cluster_is_found_on_hexagons():
    rng = np.random.default_rng(5)
    noise = _points(rng.uniform(-75, -65, 6000), rng.uniform(-15, -5, 6000))
    cluster = _points(rng.normal(-70.0, 0.08, 150), rng.normal(-10.0, 0.08, 150))
    events = pd.concat([noise, cluster], ignore_index=True)
    out = compute_hotspots(events, CellGrid("h3", resolution=4), bounds=(-74, -14, -66, -6))
    import h3
    target = h3.latlng_to_cell(-10.0, -70.0, 4)
    assert out.set_index("cell").loc[target, "hotspot"] == "hot"


@pytest.mark.parametrize("n", [450, 4500], ids=["sparse", "dense"])
def test_uniform_noise_stays_within_the_false_discovery_rate(n):
    """Under a global null, BH's FDR equals the chance of *any* discovery, so it is <= alpha.

    Over ``runs`` independent noise maps the number with at least one significant cell is
    Binomial(runs, <= alpha); the test fails only when it exceeds the 99.9 % quantile of that
    bound, i.e. once in a thousand correct implementations, and the share of significant
    cells over all maps must also stay below alpha. Sparse (0.5 per cell) is where Gi*'s
    normal p-values fail (a hot spot in about a quarter of the maps).
    """
    alpha, runs = 0.05, 40
    flagged, significant, tested = 0, 0, 0
    for seed in range(runs):
        out = compute_hotspots(_noise(np.random.default_rng(1000 + seed), n), SQUARE,
                               bounds=BOX, alpha=alpha)
        n_sig = int((out["hotspot"] != "not significant").sum())
        flagged += n_sig > 0
        significant += n_sig
        tested += len(out)
    assert flagged <= stats.binom.ppf(0.999, runs, alpha)
    assert significant / tested < alpha


def test_classes_need_a_valid_alpha():
    gi = getis_ord_gi_star(np.array([1.0, 2.0]), sp.identity(2, format="csr"))
    with pytest.raises(SchemaError, match="significance level"):
        classify_hotspots(gi, alpha=1.5)


@pytest.mark.parametrize("lat", [0.0, 45.0, -60.0], ids=["equator", "45N", "60S"])
def test_kernel_density_is_metric_and_keeps_mass(lat):
    ev = _points(np.array([-70.0, -70.0]), np.array([lat, lat]))
    d = kernel_density(ev, bandwidth_km=10.0, cell_km=1.0)
    assert d.density.sum() * d.cell_km**2 == pytest.approx(2.0, rel=1e-9)
    # The kernel is 10 km wide in x and in y whatever the latitude (not 10 km x cos(lat)).
    mass = d.density / d.density.sum()
    x_mean = (mass.sum(axis=0) * d.x_m).sum()
    y_mean = (mass.sum(axis=1) * d.y_m).sum()
    sx = np.sqrt((mass.sum(axis=0) * (d.x_m - x_mean) ** 2).sum()) / 1000
    sy = np.sqrt((mass.sum(axis=1) * (d.y_m - y_mean) ** 2).sum()) / 1000
    assert sx == pytest.approx(10.0, rel=0.02)
    assert sy == pytest.approx(10.0, rel=0.02)
    peak = np.unravel_index(np.argmax(d.density), d.density.shape)
    assert d.lon[peak] == pytest.approx(-70.0, abs=0.02)
    assert d.lat[peak] == pytest.approx(lat, abs=0.02)


def test_kernel_density_of_nothing_is_zero():
    d = kernel_density(_points(np.array([]), np.array([])), bandwidth_km=5.0)
    assert d.density.sum() == 0.0


def test_kernel_density_refuses_huge_grids():
    ev = _points(np.array([-110.0, -35.0]), np.array([-50.0, 30.0]))
    with pytest.raises(SchemaError, match="more than"):
        kernel_density(ev, bandwidth_km=1.0, cell_km=0.25)


def _west_is_land(lon: np.ndarray, lat: np.ndarray, within_deg: float) -> np.ndarray:
    """Say which points are on land: west of a coast at 15 E (within ``within_deg``)."""
    return np.asarray(lon, dtype="float64") < 15.0 + within_deg


def test_with_a_land_test_the_open_sea_is_no_background():
    """Events spread evenly over land only: hot spots would only say "on land".

    Without the land test the sea half of the box was background with no events, so the
    coast's land cells came out hot and the sea cold; with it, uniform events on land give
    (almost) nothing significant, and a seizure at sea keeps its cell.
    """
    rng = np.random.default_rng(3)
    n = 6000
    lat = np.degrees(np.arcsin(rng.uniform(0.0, 0.5, n)))
    events = _points(rng.uniform(0, 15, n), lat)
    sea_seizure = _points(np.array([25.5]), np.array([10.5]))
    both = gpd.GeoDataFrame(pd.concat([events, sea_seizure], ignore_index=True), crs=4326)
    everywhere = compute_hotspots(both, SQUARE, bounds=BOX)
    on_land = compute_hotspots(both, SQUARE, bounds=BOX, land=_west_is_land)
    assert (everywhere["hotspot"] != "not significant").sum() > 200  # "hot" = "on land"
    assert (on_land["hotspot"] != "not significant").mean() < 0.05  # noise, at FDR 5 %
    sea = on_land["lon"] >= 15.5
    assert on_land.loc[sea, "value"].tolist() == [1.0]  # only the cell of the seizure
    assert len(on_land) == 15 * 30 + 1


@pytest.mark.parametrize("grid", [CellGrid("h3", resolution=3), CellGrid("square", size_deg=1.0)],
                         ids=["h3", "square"])
def test_uniform_events_make_no_edge_cold_spots_and_z_ignores_cell_size(grid):
    """Found by a review: cells cut by the study box were cold spots, and z grew with area.

    Uniform events over a box whose edges cut cells: before, every significant cell was a
    cold spot on the edge (their full area expected events from outside the box) and the
    correlation of cell area with z was +0.6-0.7 (Gi* of counts, not densities).
    """
    from geo.risk.neighbours import cell_areas_km2

    rng = np.random.default_rng(17)
    n = 15_000
    lat = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(-30.3)), np.sin(np.radians(5.6)),
                                           n)))
    events = _points(rng.uniform(-79.7, -50.2, n), lat)
    out = compute_hotspots(events, grid)
    significant = out[out["hotspot"] != "not significant"]
    assert len(significant) <= 0.01 * len(out)
    area = cell_areas_km2(out["code"].to_numpy(), grid)
    assert abs(np.corrcoef(area, out["z"])[0, 1]) < 0.15


def test_clipping_only_where_the_box_holds_the_events():
    from geo.risk.neighbours import clipping_box

    events = _points(np.array([1.0, 3.0]), np.array([1.0, 2.0]))
    assert clipping_box(events, None) == (1.0, 1.0, 3.0, 2.0)
    assert clipping_box(events, (0.0, 0.0, 5.0, 5.0)) == (0.0, 0.0, 5.0, 5.0)
    assert clipping_box(events, (2.0, 0.0, 5.0, 5.0)) is None  # an event lies beyond it
