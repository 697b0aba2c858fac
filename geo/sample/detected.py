"""Runway candidates the detector finds in the sample world's own scenes.

The synthetic candidates of :mod:`geo.sample.candidates` are drawn, not seen: there is no
imagery behind them. The candidates of the scene area are instead found by our detector
(:mod:`geo.detect`, the committed scorer at its operating point) in the two dated scenes, so
their ``scene_id`` is a catalogue scene, ``detected_at`` its acquisition time, and the alert
page can show image chips of them at both dates.

To keep ``python -m geo.sample`` fast, the detector surveys a box around each painted strip
(the strip plus :data:`SURVEY_MARGIN_M` on every side) rather than the whole scene: about 1 s
for the default scenes instead of 30 s. Everything it finds in those boxes is kept, false
alarms included, as a real run would. Each date's candidates get the lifecycle state (and the
priority that follows from it) the tracker (:func:`geo.detect.track.track_candidates`) gives
them with the dates seen so far.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from rasterio.windows import Window

from geo.detect.params import DetectionParams
from geo.detect.scene import WindowKey, assemble_scene
from geo.detect.scorer import DEFAULT_MODEL, read_scorer
from geo.detect.track import track_candidates
from geo.detect.window import detect_window
from geo.imagery import SceneInfo, read_scene_info, read_window

SURVEY_MARGIN_M = 1000.0  # around each painted strip; the detector's context is 310 m


def survey_windows(info: SceneInfo, strips: gpd.GeoDataFrame, *,
                   margin_m: float = SURVEY_MARGIN_M) -> list[WindowKey]:
    """Pixel windows (col, row, width, height) of the boxes around ``strips`` in the scene.

    ``strips`` are Polygons in EPSG:4326; each box is the strip's bounding box in the scene's
    CRS plus ``margin_m`` metres, clipped to the raster. Boxes outside the raster are dropped.
    """
    to_scene = pyproj.Transformer.from_crs(4326, info.crs_wkt, always_xy=True)
    inverse = ~info.transform
    keys: list[WindowKey] = []
    for geom in strips.geometry:
        x0, y0, x1, y1 = shapely.transform(geom, to_scene.transform, interleaved=False).bounds
        cols, rows = zip(*(inverse @ (x, y) for x, y in ((x0 - margin_m, y0 - margin_m),
                                                         (x1 + margin_m, y1 + margin_m))),
                         strict=True)
        c0, c1 = max(0, int(min(cols))), min(info.width, int(np.ceil(max(cols))))
        r0, r1 = max(0, int(min(rows))), min(info.height, int(np.ceil(max(rows))))
        if c1 - c0 > 0 and r1 - r0 > 0 and (c0, r0, c1 - c0, r1 - r0) not in keys:
            keys.append((c0, r0, c1 - c0, r1 - r0))
    return keys


def detect_in_scene(path: Path, strips: gpd.GeoDataFrame, *, acquired_at: pd.Timestamp,
                    aerodromes: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Candidates of one scene in the survey boxes around ``strips`` (CANDIDATES, EPSG:4326).

    Same generator, scorer, operating point, de-duplication and context as
    :func:`geo.detect.scene.detect_scene`; ``detected_at`` is ``acquired_at`` (UTC).
    """
    params = DetectionParams()
    gen = params.permissive()
    info = read_scene_info(path)
    raw = [c for key in survey_windows(info, strips)
           for c in detect_window(read_window(info, Window(*key)), params=gen)]
    found = assemble_scene(info, raw, scorer=read_scorer(DEFAULT_MODEL), min_score=None,
                           aerodromes=aerodromes, params=params)
    return found.assign(detected_at=acquired_at)


def _states_as_seen(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Each row's lifecycle state, first and last seen, tracked over the dates up to its own.

    Its priority and reason too: the tracker lowers an overgrown or destroyed strip's.
    """
    out = frame.assign(first_seen=frame["detected_at"], last_seen=frame["detected_at"])
    for when in sorted(frame["detected_at"].unique()):
        tracked = track_candidates(frame[frame["detected_at"] <= when])
        latest = tracked[tracked["last_seen"] == when]
        by_shape = {g.wkb: row for g, row in zip(latest.geometry, latest.itertuples(),
                                                 strict=True)}
        for pos in np.flatnonzero((frame["detected_at"] == when).to_numpy()):
            row = by_shape.get(frame.geometry.iloc[pos].wkb)
            if row is not None:
                for name in ("state", "first_seen", "priority", "reason"):
                    out.iloc[pos, out.columns.get_loc(name)] = getattr(row, name)
    return out


def detect_sample_candidates(out_dir: Path, catalogue: gpd.GeoDataFrame,
                             truth: gpd.GeoDataFrame, *,
                             aerodromes: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Candidates the detector finds in every catalogue scene, with tracked states.

    Parameters
    ----------
    out_dir
        The data folder (catalogue paths are relative to it).
    catalogue
        SCENES layer (EPSG:4326) of the generated scenes.
    truth
        Painted strips (EPSG:4326); every strip of any date is surveyed in every scene, so a
        strip cut later is looked for (and not found) in the earlier scene too.
    aerodromes
        Registered aerodromes for the distance in ``reason`` and the priority.

    Returns
    -------
    geopandas.GeoDataFrame
        CANDIDATES rows (plus ``scene``, ``evidence``, ``aerodrome_km``,
        ``nearest_aerodrome``), one per scene and strip found, oldest scene first.
    """
    strips = truth.drop_duplicates("runway_id") if "runway_id" in truth else truth
    frames = [detect_in_scene(out_dir / str(row.path), strips,
                              acquired_at=pd.Timestamp(row.acquired_at).tz_convert("UTC"),
                              aerodromes=aerodromes)
              for row in catalogue.sort_values(["acquired_at", "scene_id"]).itertuples()]
    full = [f for f in frames if len(f)]
    if not full:
        return frames[0] if frames else gpd.GeoDataFrame(geometry=[], crs=4326)
    found = gpd.GeoDataFrame(pd.concat(full, ignore_index=True), crs=4326)
    return _states_as_seen(found)
