"""The layers of a snapshot: the world narrowed by the spec, ready for writers.

Every writer gets the same frames, so every format holds the same rows and values: filtered
with the explorer's own ``filter_*`` functions, index reset, categorical and string columns as
plain Python text, times timezone-aware UTC, geometry in EPSG:4326.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from geo.errors import CRSError
from geo.export.spec import SnapshotSpec
from geo.filters import LAYER_FILTERS
from geo.world import World, read_world

__all__ = ["FILTERS", "prepare_frame", "read_snapshot_layers", "snapshot_layers"]

#: The explorer's filter of each layer (one table: ``geo.filters.LAYER_FILTERS``).
FILTERS = LAYER_FILTERS


def prepare_frame(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return a copy fit for every writer: plain text columns, UTC times, EPSG:4326, 0..n-1.

    Raises
    ------
    CRSError
        When the layer is not in EPSG:4326 (never reprojected silently).
    """
    if gdf.crs is None or gdf.crs.to_epsg() != 4326:
        raise CRSError(f"a snapshot layer must be in EPSG:4326, got {gdf.crs}")
    out = gdf.reset_index(drop=True).copy()
    for name in out.columns:
        if name == out.geometry.name:
            continue
        col = out[name]
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            out[name] = col.dt.tz_convert("UTC")
        elif isinstance(col.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(col):
            out[name] = pd.Series([None if pd.isna(v) else str(v) for v in col],
                                  index=out.index, dtype=object)
    return out


def snapshot_layers(world: World, spec: SnapshotSpec) -> dict[str, gpd.GeoDataFrame]:
    """Return each chosen layer of ``world`` narrowed by the spec's filters and extent.

    Events are coarsened to the spec's ``location_cell_deg`` cells when it has one, *before*
    the filters: the area of interest and the extent then test the cell centres the
    snapshot holds, never the recorded points (a small extent around a cell would otherwise
    tell which events lie inside it, and halving it would find each one).
    """
    filters = spec.effective_filters
    layers = {name: world[name] for name in spec.layers}
    if spec.location_cell_deg is not None and "events" in layers:
        from geo.auth.precision import coarsen_points

        layers["events"] = coarsen_points(layers["events"], cell_deg=spec.location_cell_deg).frame
    out = {name: FILTERS[name](frame, filters) for name, frame in layers.items()}
    return {name: prepare_frame(frame) for name, frame in out.items()}


def read_snapshot_layers(data_dir: Path, spec: SnapshotSpec) -> dict[str, gpd.GeoDataFrame]:
    """Read the data folder (validated) and return :func:`snapshot_layers`."""
    return snapshot_layers(read_world(data_dir), spec)
