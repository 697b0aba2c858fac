"""English fall-backs for every string the map shows; the UI passes translated ones.

``layers/`` knows no language: builders take a ``labels`` mapping (layer names, field names,
category values) and fall back to the English text here for any key that is absent.
"""

from __future__ import annotations

from collections.abc import Mapping

from geo.aerodromes import SURFACE_NAMES

__all__ = ["DEFAULT_LABELS", "label", "number_labels", "number_symbols"]

DEFAULT_LABELS: Mapping[str, str] = {
    # layers
    "events": "Events",
    "routes": "Trafficking routes",
    "candidates": "Runway candidates",
    "aerodromes": "Registered aerodromes",
    "scenes": "Imagery footprints",
    "acquired_at": "Acquired",
    "sensor": "Sensor",
    "resolution_m": "Resolution (m)",
    "bands": "Bands",
    "cloud_share": "Cloud share",
    "native_crs": "Native CRS",
    "borders": "Land and borders (offline)",
    "online_basemap": "OpenStreetMap (online)",
    "legend": "Legend",
    # fields
    "event_type": "Type",
    "occurred_at": "Date",
    "commodity": "Commodity",
    "quantity_kg": "Quantity (kg)",
    "country": "Country",
    "source": "Source",
    "confidence": "Confidence",
    "description": "Description",
    "mode": "Mode",
    "origin": "Origin",
    "destination": "Destination",
    "first_seen": "First seen",
    "last_seen": "Last seen",
    "volume_kg_year": "Volume (kg/year)",
    "score": "Score",
    "length_m": "Length (m)",
    "width_m": "Width (m)",
    "bearing_deg": "Bearing (°)",
    "state": "State",
    "priority": "Priority",
    "reason": "Reason",
    "candidate_id": "Candidate",
    "detected_at": "Detected",
    "scene_id": "Scene",
    "ident": "Code",
    "name": "Name",
    "runway_length_m": "Runway length (m)",
    "surface": "Surface",
    "kind": "Kind",
    "coordinates": "Coordinates",
    "details_below": "Details below the map",
    "count": "Events",
    "aoi": "Area of interest",
    "event_density": "Event density",
    "event_counts": "Events per cell",
    # category values
    "seizure": "Seizure",
    "interdiction": "Interdiction",
    "incident": "Incident",
    "suspicious_flight": "Suspicious flight",
    "lab_dismantled": "Lab dismantled",
    "air": "Air",
    "maritime": "Maritime",
    "land": "Land",
    "river": "River",
    "intermodal": "Intermodal",
    "new": "New",
    "active": "Active",
    "overgrown": "Overgrown",
    "destroyed": "Destroyed",
    "reopened": "Reopened",
    "high": "High",
    "medium": "Medium",
    "low": "Low",
    # aerodrome kinds (OurAirports' types)
    "small_airport": "Small airport",
    "medium_airport": "Medium airport",
    "large_airport": "Large airport",
    "heliport": "Heliport",
    "seaplane_base": "Seaplane base",
    "balloonport": "Balloon port",
    "closed": "Closed aerodrome",
    **SURFACE_NAMES,  # runway surfaces ("surface_paved": "Paved")
}


def label(labels: Mapping[str, str] | None, key: str) -> str:
    """Return the (unescaped) text for ``key``: the caller's, else English, else the key.

    Examples
    --------
    >>> label({"events": "Eventos"}, "events"), label(None, "routes"), label({}, "odd_value")
    ('Eventos', 'Trafficking routes', 'odd value')
    """
    if labels is not None and key in labels:
        return labels[key]
    return DEFAULT_LABELS.get(key, key.replace("_", " "))


#: Keys of ``labels`` holding the reader's decimal sign and thousands separator.
NUMBER_KEYS = ("number_decimal", "number_group")


def number_labels(symbols: Mapping[str, str]) -> dict[str, str]:
    """Return the labels that carry the reader's number signs (``Translator.number_symbols()``).

    Examples
    --------
    >>> number_labels({"decimal": ",", "group": "."})
    {'number_decimal': ',', 'number_group': '.'}
    """
    return {NUMBER_KEYS[0]: symbols["decimal"], NUMBER_KEYS[1]: symbols["group"]}


def number_symbols(labels: Mapping[str, str] | None) -> tuple[str, str] | None:
    """Return (decimal sign, thousands separator) when ``labels`` carries them, else None.

    Examples
    --------
    >>> number_symbols({"number_decimal": ",", "number_group": "."}), number_symbols({})
    ((',', '.'), None)
    """
    if not labels or any(k not in labels for k in NUMBER_KEYS):
        return None
    return labels[NUMBER_KEYS[0]], labels[NUMBER_KEYS[1]]
