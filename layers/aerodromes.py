"""Registered aerodromes: small discs sized by runway length on a canvas, popup with their facts.

Thousands of aerodromes as per-feature GeoJSON (one Leaflet circle, tooltip and popup each)
made the explorer's base map script 1.6 MB and cost the browser about 1.5 CPU-s per map load
(5,157 aerodromes, measured 2026-12-03). They travel instead as the compact arrays of the
events layer (:data:`layers.events.POINTS_LAYER_JS`): int32 coordinates, one radius byte,
and one row of already-escaped strings each for the popup; the tooltip (ident and name) is
looked up on hover and the popup on click.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from folium.map import Layer
from folium.template import Template

from geo.aerodromes import SURFACE_NAMES, surface_text
from layers.checks import require_layer
from layers.escape import escape_text
from layers.events import POINTS_LAYER_JS
from layers.labels import label, number_symbols
from layers.popup import escaped_column, field_aliases

__all__ = ["AERODROME_COLOR", "AerodromesLayer", "aerodrome_payload", "build_aerodromes_layer"]

AERODROME_COLOR = "#64748b"
POPUP_FIELDS = ("ident", "name", "country", "runway_length_m", "surface", "kind")
#: Shown on hover, in this order, when present.
TIP_FIELDS = ("ident", "name")
_SCALE = 100_000  # 1e-5 degree, as the events layer


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def aerodrome_payload(aerodromes: gpd.GeoDataFrame, *,
                      labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Pack aerodromes for the canvas points layer.

    Parameters
    ----------
    aerodromes
        Aerodromes layer in EPSG:4326 (``geo.schema.AERODROMES``); rows whose point is
        missing or not finite are skipped.
    labels
        Translated field names; English defaults otherwise.

    Returns
    -------
    dict
        ``n``; ``lat``/``lon`` (base64 little-endian int32, degrees x 1e5); ``type`` (all 0,
        one category); ``radius`` (base64 uint8, tenths of a pixel: 1.2-3 px by runway
        length, 1.2 px when unknown); ``keys`` (the popup's field names), ``fields`` (their
        escaped, translated headers) and ``details`` (one row of escaped strings per
        aerodrome); ``tipFields`` (indexes of ident and name in a row).
    """
    require_layer(aerodromes, layer="aerodromes", columns=("ident", "name"))
    geoms = aerodromes.geometry.to_numpy()
    present = np.where(shapely.is_empty(geoms), None, geoms)
    x, y = shapely.get_x(present), shapely.get_y(present)
    rows = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    kept = aerodromes.iloc[rows]
    fields = [f for f in POPUP_FIELDS if f in kept.columns]
    if "surface" in fields:  # "ASP" as "Paved (ASP)", in the reader's words
        words = {key: label(labels, key) for key in SURFACE_NAMES}
        kept = kept.assign(surface=[surface_text(v, words) for v in kept["surface"]])
    # the kind is a category (OurAirports' "small_airport"...): shown by its name
    columns = [escaped_column(kept[f], digits=0, labels=(labels or {}) if f == "kind" else None,
                              symbols=number_symbols(labels)) for f in fields]
    if "runway_length_m" in kept.columns:
        length = kept["runway_length_m"].to_numpy(dtype="float64", na_value=np.nan)
    else:
        length = np.full(len(kept), np.nan)
    with np.errstate(invalid="ignore"):
        radius = np.where(np.isfinite(length), np.clip(0.8 + length / 1500.0, 1.2, 3.0), 1.2)
    return {
        "n": len(rows),
        "scale": _SCALE,
        "lat": _b64(np.round(y[rows] * _SCALE).astype("<i4")),
        "lon": _b64(np.round(x[rows] * _SCALE).astype("<i4")),
        "type": _b64(np.zeros(len(rows), dtype=np.uint8)),
        "radius": _b64(np.round(radius * 10).astype(np.uint8)),
        "categories": [escape_text(label(labels, "aerodromes"))],
        "colors": [AERODROME_COLOR],
        "categoryRow": False,
        "keys": fields,
        "fields": field_aliases(fields, labels),
        "details": [list(row) for row in zip(*columns, strict=True)] if fields else [],
        "tipFields": [fields.index(f) for f in TIP_FIELDS if f in fields],
    }


class AerodromesLayer(Layer):
    """The aerodromes as a Leaflet canvas layer (``AtalayaPointsLayer``); in the LayerControl.

    Drawn in a pane of its own (z-index 380) below the shared vector canvas (routes,
    candidates) and the events (450). Its canvas carries ``data-atalaya-layer="aerodromes"`` and
    ``data-drawn``; a click opens the popup in the page only (nothing goes back to Python).
    """

    _template = Template(
        "{% macro script(this, kwargs) %}\n" + POINTS_LAYER_JS + """
        var {{ this.get_name() }} = new window.AtalayaPointsLayer(
          {{ this.payload|tojson }},
          {kind: "aerodromes", pane: "atalayaAerodromes", zIndex: 380,
           fillAlpha: 0.4, rim: {{ this.color|tojson }}, rimAlpha: 1, rimWidth: 0.5,
           stampAbove: 1e9, pickTolerance: 3, reportClick: false, tooltip: true});
        {% endmacro %}
        """
    )

    def __init__(self, payload: dict[str, Any], *, name: str, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "AtalayaAerodromes"
        self.payload = payload
        self.color = AERODROME_COLOR


def build_aerodromes_layer(aerodromes: gpd.GeoDataFrame, *, name: str,
                           labels: Mapping[str, str] | None = None,
                           show: bool = True) -> AerodromesLayer:
    """Build the registered aerodromes overlay.

    Parameters
    ----------
    aerodromes
        Aerodromes layer in EPSG:4326 (``geo.schema.AERODROMES``).
    name
        Name shown in the layer control (escaped here).
    labels
        Translated field names; English defaults otherwise.
    show
        Whether the layer is on when the map opens.

    Returns
    -------
    AerodromesLayer
        Discs of radius 1.2-3 px by runway length; tooltip with ident and name; popup with
        ident, name, country, runway length, surface and kind, all escaped.
    """
    return AerodromesLayer(aerodrome_payload(aerodromes, labels=labels),
                           name=escape_text(name), show=show)
