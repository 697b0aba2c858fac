"""The sample world: determinism, contracts, corridor realism, sea lanes and scene truth."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
import rasterio.features
import shapely
import shapely.affinity
from hypothesis import example, given, settings
from hypothesis import strategies as st

from geo.aerodromes import LATAM_COUNTRIES, read_registered_aerodromes
from geo.crs import utm_epsg
from geo.runway_geometry import oriented_rectangle
from geo.sample.__main__ import main
from geo.sample.places import ANCHORS, CORRIDORS, PROFILES, ROUTE_SPECS, SOURCES
from geo.sample.scenes import BANDS, SceneSpec
from geo.sample.world import generate_world
from geo.schema import EVENTS, REGION_BOUNDS, ROUTE_MODES, validate_layer

ROOT = Path(__file__).resolve().parents[2]
LAND = ROOT / "node_modules" / "world-atlas" / "land-50m.json"
SMALL = {"n_events": 3000, "n_candidates": 40, "scene_spec": SceneSpec(size_px=600)}
CLI_SMALL = ["--events", "3000", "--candidates", "40", "--scene-size", "600"]
VECTOR_FILES = {"events": "events.parquet", "routes": "routes.geojson",
                "candidates": "candidates.geojson", "aerodromes": "aerodromes.geojson",
                "scenes": "scenes.geojson"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world_a")
    generate_world(out, seed=11, **SMALL)
    return out


@pytest.fixture(scope="module")
def world_again(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world_b")
    assert main(["--seed", "11", "--out", str(out), *CLI_SMALL]) == 0  # through the CLI
    return out


def read_layer(folder: Path, name: str) -> gpd.GeoDataFrame:
    path = folder / VECTOR_FILES[name]
    return gpd.read_parquet(path) if path.suffix == ".parquet" else gpd.read_file(path)


# -- determinism -------------------------------------------------------------------------------

def test_same_seed_gives_same_bytes_in_every_file(world: Path, world_again: Path) -> None:
    files_a = sorted(p.relative_to(world) for p in world.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(world_again) for p in world_again.rglob("*") if p.is_file())
    assert files_a == files_b
    assert len(files_a) == 9
    for rel in files_a:
        assert (world / rel).read_bytes() == (world_again / rel).read_bytes(), rel


def test_other_seed_gives_other_events(tmp_path: Path) -> None:
    from geo.sample.events import generate_events

    a = generate_events(n=500, rng=np.random.default_rng(1))
    b = generate_events(n=500, rng=np.random.default_rng(2))
    assert not a.geometry.x.equals(b.geometry.x)


def test_manifest_counts_and_no_clock(world: Path) -> None:
    manifest = json.loads((world / "world.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 11
    assert manifest["counts"]["events"] == 3000
    assert manifest["counts"]["routes"] == len(ROUTE_SPECS)
    lon0, lat0, lon1, lat1 = manifest["bbox_events"]
    assert REGION_BOUNDS[0] <= lon0 < lon1 <= REGION_BOUNDS[2]
    assert REGION_BOUNDS[1] <= lat0 < lat1 <= REGION_BOUNDS[3]
    assert set(manifest["files"]) >= {*VECTOR_FILES.values(), "scenes/truth.geojson"}


# -- contracts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("layer", list(VECTOR_FILES), ids=list(VECTOR_FILES))
def test_every_layer_meets_its_contract(world: Path, layer: str) -> None:
    gdf = read_layer(world, layer)
    assert gdf.crs.to_epsg() == 4326
    clean = validate_layer(gdf, layer, source=VECTOR_FILES[layer])
    assert len(clean) > 0


def test_events_have_exactly_the_contract_columns(world: Path) -> None:
    events = read_layer(world, "events")
    assert [c for c in events.columns if c != "geometry"] == list(EVENTS.column_names)
    assert isinstance(events["occurred_at"].dtype, pd.DatetimeTZDtype)
    assert str(events["occurred_at"].dt.tz) == "UTC"
    assert events["event_id"].is_unique


# -- events realism ----------------------------------------------------------------------------

def _haversine_km(lon1: np.ndarray, lat1: np.ndarray, lon2: float, lat2: float) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (np.sin((p2 - p1) / 2) ** 2
         + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


def test_events_stay_in_latin_america_and_in_period(world: Path) -> None:
    ev = read_layer(world, "events")
    x0, y0, x1, y1 = REGION_BOUNDS
    assert ev.geometry.x.between(x0, x1).all()
    assert ev.geometry.y.between(y0, y1).all()
    assert ev["occurred_at"].min() >= pd.Timestamp("2019-01-01", tz="UTC")
    assert ev["occurred_at"].max() < pd.Timestamp("2026-01-01", tz="UTC")
    assert ev["occurred_at"].is_monotonic_increasing
    years = ev["occurred_at"].dt.year.value_counts()
    assert set(years.index) == set(range(2019, 2026))


def test_event_country_is_that_of_a_nearby_anchor(world: Path) -> None:
    ev = read_layer(world, "events")
    by_name = {a.name: a for a in ANCHORS}
    assert set(ev["country"].astype(str)) <= {a.country for a in ANCHORS}
    for cc, group in ev.groupby(ev["country"].astype(str)):
        anchors = [a for a in ANCHORS if a.country == cc]
        reach = max(a.spread_km for a in anchors) * 5 + max(
            [0.4 * _haversine_km(np.array([by_name[p].lon]), np.array([by_name[p].lat]),
                                 by_name[q].lon, by_name[q].lat)[0]
             for p, q in CORRIDORS + tuple((q, p) for p, q in CORRIDORS)
             if by_name[p].country == cc] or [0.0])
        nearest = np.min([_haversine_km(group.geometry.x.to_numpy(), group.geometry.y.to_numpy(),
                                        a.lon, a.lat) for a in anchors], axis=0)
        assert nearest.max() < reach, cc


def test_event_attributes_are_consistent(world: Path) -> None:
    ev = read_layer(world, "events")
    flights = ev["event_type"] == "suspicious_flight"
    assert flights.any()
    assert ev.loc[flights, "quantity_kg"].isna().all()
    assert (ev.loc[flights, "commodity"] == "unknown").all()
    coke = ev[(ev["commodity"] == "cocaine") & ev["quantity_kg"].notna()]
    assert coke["quantity_kg"].min() > 0
    assert coke["quantity_kg"].max() > 1000  # ports: tonnes
    assert set(ev["source"]) & {"DEVIDA", "FELCN", "SENAD", "JIATF-South", "open source press"}
    seizures = ev[(ev["event_type"] == "seizure") & ev["quantity_kg"].notna()]
    assert seizures["description"].str.contains(" kg de ").all()
    assert ev.loc[ev["country"] == "BR", "description"].str.contains(
        "Apreensão|Interceptação|Laboratório|Voo|Confronto|Inutilização").all()


def test_tables_are_complete() -> None:
    names = {a.name for a in ANCHORS}
    assert len(names) == len(ANCHORS)
    assert {n for pair in CORRIDORS for n in pair} <= names
    assert {a.profile for a in ANCHORS} <= set(PROFILES)
    assert {a.country for a in ANCHORS} <= set(SOURCES)


# -- routes ------------------------------------------------------------------------------------

def test_routes_cover_every_mode(world: Path) -> None:
    routes = read_layer(world, "routes")
    assert len(routes) >= 25
    assert set(routes["mode"]) == set(ROUTE_MODES)
    air = routes[routes["mode"] == "air"]
    assert (shapely.get_num_coordinates(air.geometry.to_numpy()) > 10).all()  # great circles


def test_maritime_routes_stay_at_sea(world: Path) -> None:
    if not LAND.is_file():
        pytest.skip(f"{LAND} is absent: run `npm ci` to install world-atlas (Natural Earth land)")
    from geo.basemap import read_topojson

    land = shapely.union_all(read_topojson(LAND, "land").geometry.to_numpy())
    routes = read_layer(world, "routes")
    crossings = {}
    for row in routes[routes["mode"] == "maritime"].itertuples():
        coords = shapely.get_coordinates(row.geometry)
        ports = shapely.union(shapely.Point(coords[0]).buffer(0.3),  # ~30 km: ports touch land
                              shapely.Point(coords[-1]).buffer(0.3))
        on_land = row.geometry.difference(ports).intersection(land)
        if not on_land.is_empty:
            crossings[row.route_id] = on_land.bounds
    assert not crossings, f"maritime routes crossing land: {crossings}"


# -- candidates, aerodromes, runway geometry ---------------------------------------------------

def _edges_m(poly: shapely.Polygon, centre: tuple[float, float] | None = None
             ) -> tuple[float, float, float]:
    """(long side m, short side m, bearing of the long side) measured in the UTM zone.

    The zone of ``centre`` (lon, lat) when given, else of the polygon's centroid: a centre
    on a zone boundary (lon -42) may have its centroid a hair inside the next zone, whose
    grid north differs by a tenth of a degree there.
    """
    c = poly.centroid if centre is None else shapely.Point(centre)
    tr = pyproj.Transformer.from_crs(4326, utm_epsg(c.x, c.y), always_xy=True)
    xy = np.column_stack(tr.transform(*shapely.get_coordinates(poly).T))
    d = np.diff(xy[:3], axis=0)
    sides = np.hypot(d[:, 0], d[:, 1])
    k = int(np.argmax(sides))
    bearing = np.degrees(np.arctan2(d[k, 0], d[k, 1])) % 180.0
    return float(sides[k]), float(sides[1 - k]), float(bearing)


def test_candidates_are_rectangles_of_real_size(world: Path) -> None:
    every = read_layer(world, "candidates")
    scenes = set(read_layer(world, "scenes")["scene_id"])
    assert set(every["scene_id"]) <= {"sample", *scenes}
    assert every["reason"].str.contains("km from the nearest registered aerodrome").all()
    cand = every[every["scene_id"] == "sample"]  # drawn; the detected ones are tested below
    assert len(cand) > 30
    assert cand["length_m"].between(500, 1700).all()
    assert cand["width_m"].between(10, 30).all()
    for row in cand.head(10).itertuples():
        long_m, short_m, bearing = _edges_m(row.geometry)
        assert long_m == pytest.approx(row.length_m, abs=0.05)
        assert short_m == pytest.approx(row.width_m, abs=0.05)
        assert min(abs(bearing - row.bearing_deg), 180 - abs(bearing - row.bearing_deg)) < 0.01


@settings(max_examples=40, deadline=None)
@given(lon=st.floats(-110, -35), lat=st.floats(-55, 30), length=st.floats(500, 1700),
       width=st.floats(10, 30), bearing=st.floats(0, 179.99))
@example(lon=-42.0, lat=1.0, length=500.0, width=10.0, bearing=0.0)  # on a zone boundary
@example(lon=-35.0, lat=-55.0, length=1391.0, width=10.0, bearing=40.0)  # far south
def test_oriented_rectangle_round_trips_size_and_bearing(lon: float, lat: float, length: float,
                                                         width: float, bearing: float) -> None:
    poly = oriented_rectangle(lon, lat, length_m=length, width_m=width, bearing_deg=bearing)
    assert poly.is_valid
    assert shapely.get_num_coordinates(poly) == 5
    long_m, short_m, measured = _edges_m(poly, (lon, lat))
    assert long_m == pytest.approx(length, abs=0.01)
    assert short_m == pytest.approx(width, abs=0.01)
    assert min(abs(measured - bearing), 180 - abs(measured - bearing)) < 1e-3
    # the centroid of the corners in degrees is within 0.1 m of the centre, measured in metres
    # (1e-6 degree is 0.11 m of latitude but 0.06 m of longitude at 55 degrees south)
    tr = pyproj.Transformer.from_crs(4326, utm_epsg(lon, lat), always_xy=True)
    (cx, x0), (cy, y0) = tr.transform([poly.centroid.x, lon], [poly.centroid.y, lat])
    assert np.hypot(cx - x0, cy - y0) < 0.1


def test_registered_aerodromes_are_real(world: Path) -> None:
    import airportsdata

    aero = read_layer(world, "aerodromes")
    known = airportsdata.load("ICAO")
    assert set(aero["ident"]) <= set(known)
    assert set(aero["country"]) <= set(LATAM_COUNTRIES)
    lima = aero.set_index("ident").loc["SPJC"]
    assert lima["country"] == "PE"
    assert lima["iata"] == "LIM"
    assert 3000 < lima["runway_length_m"] < 4000
    assert aero["runway_length_m"].notna().mean() > 0.7


def test_aerodrome_country_filter() -> None:
    py = read_registered_aerodromes(countries=("PY",))
    assert len(py) > 10
    assert set(py["country"]) == {"PY"}


# -- scenes ------------------------------------------------------------------------------------

def test_scene_files_are_as_specified(world: Path) -> None:
    catalogue = read_layer(world, "scenes")
    assert len(catalogue) == 2
    for row in catalogue.itertuples():
        with rasterio.open(world / row.path, driver="GTiff") as src:
            assert src.crs.to_epsg() == 32718
            assert row.native_crs == "EPSG:32718"
            assert src.res == (10.0, 10.0)
            assert src.count == 6
            assert src.dtypes[0] == "uint16"
            assert src.nodata == 0
            assert src.block_shapes[0] == (512, 512)
            assert src.compression.name.lower() == "deflate"
            assert src.descriptions == BANDS
            assert row.bands == ",".join(BANDS)
            assert src.tags()["ACQUISITION_DATE"] == row.acquired_at.strftime("%Y-%m-%d")
            assert row.scene_id.endswith(src.tags()["ACQUISITION_DATE"])
            data = src.read()
            assert data.min() > 0  # no accidental nodata
        footprint = shapely.box(*src.bounds)
        assert row.geometry.centroid.distance(shapely.Point(-74.6, -9.4)) < 0.01
        assert footprint.area == pytest.approx(6000.0**2)


def _ndvi(path: Path) -> tuple[np.ndarray, rasterio.Affine, object]:
    with rasterio.open(path, driver="GTiff") as src:
        red, nir = src.read(3).astype("float64"), src.read(4).astype("float64")
        return (nir - red) / (nir + red), src.transform, src.crs


def _mean_in(ndvi: np.ndarray, transform: rasterio.Affine, geom: shapely.Geometry) -> float:
    mask = rasterio.features.geometry_mask([geom], ndvi.shape, transform, invert=True)
    assert mask.sum() >= 20
    return float(ndvi[mask].mean())


def test_runways_are_where_the_truth_says(world: Path) -> None:
    truth = gpd.read_file(world / "scenes" / "truth.geojson")
    catalogue = read_layer(world, "scenes")
    assert set(truth["state"]) == {"active", "new", "overgrown"}
    contrast: dict[tuple[str, str], float] = {}
    for scene in catalogue.itertuples():
        ndvi, transform, crs = _ndvi(world / scene.path)
        forest = np.median(ndvi)
        assert 0.8 <= forest <= 0.88
        for rid, rows in truth.to_crs(crs).groupby("runway_id"):
            rect = rows.geometry.iloc[0]
            inside = _mean_in(ndvi, transform, rect)
            ring = _mean_in(ndvi, transform, rect.buffer(60).difference(rect.buffer(30)))
            contrast[rid, scene.scene_id] = ring - inside
            state = dict(zip(rows["scene_id"], rows["state"], strict=True)).get(scene.scene_id)
            if state in ("active", "new"):
                assert ring - inside > 0.1, (rid, scene.scene_id, inside, ring)
            elif state == "overgrown":
                assert ring - inside > 0.02, (rid, scene.scene_id, inside, ring)
            else:
                assert abs(ring - inside) < 0.03, (rid, scene.scene_id, inside, ring)
    for rid, rows in truth[truth["state"] == "overgrown"].groupby("runway_id"):
        later = rows["scene_id"].iloc[0]
        earlier = next(s for s in catalogue["scene_id"] if s != later)
        assert contrast[rid, later] < contrast[rid, earlier]  # regrowth lowers the contrast


def test_truth_dimensions_match_the_polygons(world: Path) -> None:
    truth = gpd.read_file(world / "scenes" / "truth.geojson")
    assert truth["bearing_deg"].between(0, 180, inclusive="left").all()
    for row in truth.itertuples():
        long_m, short_m, _ = _edges_m(row.geometry)
        assert long_m == pytest.approx(row.length_m, abs=0.05)
        assert short_m == pytest.approx(row.width_m, abs=0.05)


def test_cli_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--events", "-5"])
    assert exc.value.code == 2
    assert "--events must be >= 0" in capsys.readouterr().err


# -- candidates detected in the scenes, and their image chips -----------------------------------

def test_the_scene_area_has_detected_candidates_not_drawn_ones(world: Path) -> None:
    cand = read_layer(world, "candidates")
    catalogue = read_layer(world, "scenes").sort_values("acquired_at")
    truth = gpd.read_file(world / "scenes" / "truth.geojson")
    footprint = shapely.union_all(catalogue.geometry.to_numpy())
    drawn = cand[cand["scene_id"] == "sample"]
    assert not drawn.intersects(footprint).any()
    found = cand[cand["scene_id"].isin(catalogue["scene_id"])]
    assert len(found) >= 2
    when = dict(zip(catalogue["scene_id"], catalogue["acquired_at"], strict=True))
    assert (found["detected_at"] == found["scene_id"].map(when)).all()
    # each strip painted in both scenes is found in both, tracked as one strip, and given
    # the later scene's painted state (one kept as it was, one half green again: overgrown)
    both = truth[truth["runway_id"].map(truth["runway_id"].value_counts()) == 2]
    latest = both.sort_values("scene_id").groupby("runway_id").last()
    assert sorted(latest["state"]) == ["active", "overgrown"]
    for strip, state in zip(latest.geometry, latest["state"], strict=True):
        seen = found[found.intersects(strip)].sort_values("detected_at")
        assert list(seen["scene_id"]) == list(catalogue["scene_id"])
        assert seen["first_seen"].nunique() == 1
        assert seen["state"].iloc[-1] == state


def test_a_detected_candidate_has_chips_at_both_dates(world: Path) -> None:
    from geo.imagechips import cut_chips, scene_refs

    catalogue = read_layer(world, "scenes")
    cand = read_layer(world, "candidates")
    found = cand[cand["scene_id"].isin(catalogue["scene_id"])]
    chips = cut_chips(found.geometry.iloc[0], scene_refs(catalogue, world))
    assert chips.skipped == ()
    dates = sorted(catalogue["acquired_at"])
    assert [c.acquired_at for c in chips.chips] == [d for d in dates for _ in range(2)]
    assert [c.composite for c in chips.chips] == ["true_colour", "false_colour"] * 2
