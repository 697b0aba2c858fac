"""Write the whole sample world into a data folder, deterministically from one seed."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.aerodromes import read_registered_aerodromes
from geo.sample.candidates import generate_candidates
from geo.sample.detected import detect_sample_candidates
from geo.sample.events import generate_events
from geo.sample.geojson import write_geojson
from geo.sample.routes import generate_routes
from geo.sample.scenes import SceneSpec, generate_scenes

GENERATOR_VERSION = "atalaya-sample/2"  # 2: the scene area's candidates are detected
#: One independent random stream per layer, so that changing the number of events does not
#: change the routes, candidates or scenes of the same seed.
_STREAMS = {"events": 1, "routes": 2, "candidates": 3, "scenes": 4}


def _rng(seed: int, layer: str) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAMS[layer]])


def _file_entry(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _bbox(layers: list[gpd.GeoDataFrame]) -> list[float]:
    b = np.array([g.total_bounds for g in layers if len(g)])
    return [round(float(v), 5) for v in (*b[:, :2].min(axis=0), *b[:, 2:].max(axis=0))]


def generate_world(out_dir: str | Path, *, seed: int = 7, n_events: int = 20_000,
                   n_candidates: int = 300, scene_spec: SceneSpec | None = None,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Generate every sample layer into ``out_dir`` and return the manifest (also world.json).

    Parameters
    ----------
    out_dir
        Folder to write; created if needed. Existing files of the same names are replaced.
    seed
        Random seed; the same seed gives the same bytes in every file.
    n_events, n_candidates
        Sizes of the events and runway-candidate layers.
    scene_spec
        Area, size and dates of the scenes (default 2000 x 2000 px around (-74.6, -9.4)).
    progress
        Called with one line of text per step (the CLI prints it to stderr).

    Returns
    -------
    dict
        The manifest: seed, generator version, counts per layer, bounding box (lon/lat
        degrees, EPSG:4326) and size and SHA-256 of each file. Nothing depends on the clock.
    """
    say = progress or (lambda _msg: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    layers, aerodromes = _write_vectors(out, seed=seed, n_events=n_events, counts=counts,
                                        say=say)
    t0 = time.perf_counter()
    catalogue, truth = generate_scenes(out, rng=_rng(seed, "scenes"), spec=scene_spec)
    write_geojson(catalogue, out / "scenes.geojson")
    write_geojson(truth, out / "scenes" / "truth.geojson")
    counts.update(scenes=len(catalogue), truth=len(truth))
    say(f"scenes: {len(catalogue)} GeoTIFFs and {len(truth)} truth rows "
        f"in {time.perf_counter() - t0:.1f} s")
    candidates = _write_candidates(out, seed=seed, n=n_candidates, aerodromes=aerodromes,
                                   catalogue=catalogue, truth=truth, counts=counts, say=say)
    layers.insert(2, candidates)
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "world.json")
    manifest = {
        "generator": GENERATOR_VERSION, "seed": seed, "counts": counts,
        "bbox": _bbox(layers), "bbox_events": _bbox(layers[:1]),
        "files": {p.relative_to(out).as_posix(): _file_entry(p) for p in files},
    }
    (out / "world.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    return manifest


def _write_vectors(out: Path, *, seed: int, n_events: int, counts: dict[str, int],
                   say: Callable[[str], None]
                   ) -> tuple[list[gpd.GeoDataFrame], gpd.GeoDataFrame]:
    """Events (GeoParquet), routes and aerodromes (GeoJSON); the layers, and open aerodromes."""
    t0 = time.perf_counter()
    events = generate_events(n=n_events, rng=_rng(seed, "events"))
    events.to_parquet(out / "events.parquet", index=False, compression="zstd")
    say(f"events: {len(events):,} in {time.perf_counter() - t0:.1f} s")
    routes = generate_routes(rng=_rng(seed, "routes"))
    write_geojson(routes, out / "routes.geojson")
    t0 = time.perf_counter()
    aerodromes = read_registered_aerodromes()
    write_geojson(aerodromes, out / "aerodromes.geojson")
    say(f"aerodromes: {len(aerodromes):,} registered in {time.perf_counter() - t0:.1f} s")
    counts.update(events=len(events), routes=len(routes), aerodromes=len(aerodromes))
    open_fields = aerodromes[~aerodromes["kind"].isin(["closed", "heliport"])]
    return [events, routes, aerodromes], open_fields


def _write_candidates(out: Path, *, seed: int, n: int, aerodromes: gpd.GeoDataFrame,
                      catalogue: gpd.GeoDataFrame, truth: gpd.GeoDataFrame,
                      counts: dict[str, int], say: Callable[[str], None]) -> gpd.GeoDataFrame:
    """Synthetic candidates outside the scenes, and those the detector finds in them."""
    drawn = generate_candidates(n=n, rng=_rng(seed, "candidates"), aerodromes=aerodromes)
    # Inside the scenes the imagery says what is there: drawn strips would have no pixels.
    covered = shapely.union_all(catalogue.geometry.to_numpy())
    drawn = drawn[~drawn.intersects(covered)]
    t0 = time.perf_counter()
    detected = detect_sample_candidates(out, catalogue, truth, aerodromes=aerodromes)
    say(f"candidates: {len(drawn)} drawn, {len(detected)} detected in the scenes in "
        f"{time.perf_counter() - t0:.1f} s")
    candidates = gpd.GeoDataFrame(pd.concat([drawn, detected], ignore_index=True), crs=4326)
    write_geojson(candidates, out / "candidates.geojson")
    counts.update(candidates=len(candidates), candidates_detected=len(detected))
    return candidates
