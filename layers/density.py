"""Events as densities: a heat map and a hexagon/grid count layer, both from aggregated cells.

Neither layer ships raw points: the page receives one weighted point per cell (heat map) or one
polygon per non-empty cell (counts), computed on the server by ``geo.aggregate``. A few
thousand cells replace up to millions of events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.plugins import HeatMap

from layers.escape import escape_text
from layers.labels import label
from layers.legend import LegendItem, LegendSection

__all__ = ["RAMP", "build_cells_layer", "build_heat_layer", "cells_legend", "count_breaks"]

#: Sequential colour ramp (ColorBrewer YlOrRd, 6 classes), light = few, dark = many.
RAMP: tuple[str, ...] = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026")


def count_breaks(max_count: int, classes: int = len(RAMP)) -> list[int]:
    """Upper bounds of each colour class, spaced geometrically from 1 to ``max_count``.

    Examples
    --------
    >>> count_breaks(1000)
    [3, 10, 32, 100, 316, 1000]
    >>> count_breaks(3)
    [1, 2, 3]
    """
    if max_count <= classes:
        return list(range(1, max(1, max_count) + 1))
    raw = np.power(float(max_count), np.arange(1, classes + 1) / classes)
    return sorted({round(float(v)) for v in raw} | {max_count})


def _class_of(counts: np.ndarray, breaks: Sequence[int]) -> np.ndarray:
    idx = np.searchsorted(np.asarray(breaks), counts, side="left")
    # Spread fewer classes over the whole ramp so the top class is always the darkest.
    scale = (len(RAMP) - 1) / max(1, len(breaks) - 1)
    return np.asarray(np.round(np.minimum(idx, len(breaks) - 1) * scale), dtype=int)


def build_heat_layer(cells: pd.DataFrame, *, name: str, show: bool = True,
                     radius: int = 18) -> HeatMap:
    """Build a heat map from aggregated cells (``lon``, ``lat``, ``count``), weighted by count.

    Weights are ``sqrt(count / max)`` so a single busy port does not hide everything else.
    """
    if len(cells):
        weight = np.sqrt(cells["count"].to_numpy(dtype=float) / float(cells["count"].max()))
        data = np.column_stack([cells["lat"].round(5), cells["lon"].round(5),
                                np.round(weight, 4)]).tolist()
    else:
        data = []
    return HeatMap(data, name=escape_text(name), show=show, overlay=True, control=True,
                   radius=radius, blur=radius, min_opacity=0.25, max_zoom=12)


def _cell_features(cells: gpd.GeoDataFrame, breaks: Sequence[int],
                   number: Any) -> dict[str, Any]:
    counts = cells["count"].to_numpy(dtype=np.int64)
    classes = _class_of(counts, breaks)
    qty = cells["quantity_kg"].to_numpy(dtype=float)
    geoms = shapely.set_precision(cells.geometry.to_numpy(), 1e-5)
    features = [
        {"type": "Feature", "geometry": shapely.geometry.mapping(g),
         "properties": {"count": escape_text(number(int(c))),
                        "quantity_kg": escape_text(number(round(float(q)))),
                        "_fill": RAMP[k]}}
        for g, c, q, k in zip(geoms, counts, qty, classes, strict=True)
    ]
    return {"type": "FeatureCollection", "features": features}


def build_cells_layer(cells: gpd.GeoDataFrame, *, name: str,
                      labels: Mapping[str, str] | None = None, show: bool = True,
                      number: Any = str) -> folium.GeoJson:
    """Build the count layer: one polygon per non-empty cell, filled by count class.

    Parameters
    ----------
    cells
        ``geo.aggregate.cell_polygons`` output (``count``, ``quantity_kg``, polygons).
    name
        Name shown in the layer control (escaped here).
    labels
        Translated ``count`` and ``quantity_kg`` tooltip headers.
    number
        Formats an int for the tooltip (the UI passes its locale's formatter).
    """
    breaks = count_breaks(int(cells["count"].max()) if len(cells) else 1)
    data = _cell_features(cells, breaks, number)
    layer = folium.GeoJson(
        data, name=escape_text(name), show=show, overlay=True, control=True,
        style_function=lambda f: {"color": "#7f2704", "weight": 0.6, "opacity": 0.6,
                                  "fillColor": f["properties"]["_fill"], "fillOpacity": 0.7},
        highlight_function=lambda _f: {"weight": 2, "fillOpacity": 0.85},
    )
    if data["features"]:
        folium.GeoJsonTooltip(
            fields=["count", "quantity_kg"],
            aliases=[escape_text(label(labels, "count")),
                     escape_text(label(labels, "quantity_kg"))],
        ).add_to(layer)
    return layer


def cells_legend(max_count: int, *, title: str, number: Any = str) -> LegendSection:
    """Legend section of the count layer: one swatch per class with its count range."""
    breaks = count_breaks(max(1, max_count))
    classes = _class_of(np.asarray(breaks), breaks)
    items = []
    low = 1
    for high, k in zip(breaks, classes, strict=True):
        text = number(high) if high == low else f"{number(low)}–{number(high)}"
        items.append(LegendItem(text, RAMP[k], "square"))
        low = high + 1
    return LegendSection(title, tuple(items))
