"""A tiny data folder built in code, with the text a snapshot must carry through every format.

Events in five countries (two of them carrying ``São Paulo`` and ``Petén``), one description
that is a spreadsheet formula, one with a ``</script>``; two routes (one named ``Petén``), one
runway candidate, three aerodromes (one ``São Paulo/Congonhas``). Every value is known, so the
tests compare what GDAL reads back with exact values.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, Point, Polygon

FORMULA = "=cmd|' /C calc'!A0"
SAO_PAULO = "São Paulo"
PETEN = "Petén"


def tiny_events() -> gpd.GeoDataFrame:
    """Eight events, 2023-2024; e7 and e8 lie outside the South America box used in tests."""
    return gpd.GeoDataFrame(
        {
            "event_id": [f"e{i}" for i in range(1, 9)],
            "occurred_at": pd.to_datetime(
                ["2023-01-05T10:00Z", "2023-02-11T00:00Z", "2023-03-01T23:30Z",
                 "2024-07-19T12:00Z", "2024-12-31T08:15Z", "2023-06-01T00:00Z",
                 "2024-03-03T03:03Z", "2022-05-05T05:05Z"], utc=True),
            "event_type": ["seizure", "interdiction", "suspicious_flight", "seizure",
                           "incident", "seizure", "lab_dismantled", "seizure"],
            "commodity": ["cocaine", "cocaine_base", "unknown", "cannabis", "cash", "cocaine",
                          "precursors", "cocaine"],
            "quantity_kg": [312.0, 45.5, None, 1200.0, 0.0, 80.25, 3.0, 10.0],
            "country": ["PE", "CO", "BO", "BR", "GT", "BR", "MX", "PY"],
            "source": ["DEVIDA", "Policía Nacional de Colombia", "FELCN", "Polícia Federal",
                       "press", "Receita Federal", "SEDENA", "SENAD"],
            "confidence": [0.9, 0.8, 0.5, 0.7, 0.6, 0.95, 0.4, 0.3],
            "description": ["Incautación en el VRAEM", None, FORMULA, f"Carga en {SAO_PAULO}",
                            PETEN, "+55 11 contact </script><b>x</b>", "-", "@SUM(A1)"],
        },
        geometry=[Point(-74.2, -12.4), Point(-78.8, 1.8), Point(-65.1, -16.9),
                  Point(-46.633308, -23.55052), Point(-90.1, 16.9), Point(-47.1, -22.9),
                  Point(-99.1, 19.4), Point(-55.7, -22.5)],
        crs=4326,
    )


def tiny_routes() -> gpd.GeoDataFrame:
    """Two routes: a flight to Petén and a sea lane."""
    return gpd.GeoDataFrame(
        {
            "route_id": ["r1", "r2"], "mode": ["air", "maritime"],
            "origin": ["Apure", "Tumaco"], "destination": [PETEN, "Guatemala Pacific"],
            "first_seen": pd.to_datetime(["2020-01-01", "2021-06-01"], utc=True),
            "last_seen": pd.to_datetime(["2024-01-01", "2024-06-01"], utc=True),
            "confidence": [0.7, 0.6], "source": ["JIATF-South", "Armada de Colombia"],
            "volume_kg_year": [5000.0, None],
        },
        geometry=[LineString([(-69.0, 7.0), (-80.0, 12.0), (-90.0, 17.0)]),
                  LineString([(-79.0, 1.9), (-84.0, 5.0), (-91.5, 13.5)])],
        crs=4326,
    )


def tiny_candidates() -> gpd.GeoDataFrame:
    """One runway candidate in Beni, Bolivia."""
    rect = Polygon([(-65.0, -14.0), (-64.99, -14.0), (-64.99, -13.9998), (-65.0, -13.9998)])
    return gpd.GeoDataFrame(
        {"candidate_id": ["c1"], "scene_id": ["s1"],
         "detected_at": pd.to_datetime(["2024-05-01"], utc=True), "score": [0.82],
         "length_m": [1080.0], "width_m": [22.0], "bearing_deg": [90.0], "state": ["new"],
         "reason": ["1.1 km long, 22 m wide"]},
        geometry=[rect], crs=4326)


def tiny_aerodromes() -> gpd.GeoDataFrame:
    """Three aerodromes, one of them São Paulo/Congonhas."""
    return gpd.GeoDataFrame(
        {"ident": ["SBSP", "MGTK", "SPJC"],
         "name": [f"{SAO_PAULO}/Congonhas", f"Mundo Maya ({PETEN})", "Jorge Chávez"],
         "country": ["BR", "GT", "PE"], "runway_length_m": [1940.0, 3000.0, 3507.0],
         "surface": ["asphalt", None, "asphalt"]},
        geometry=[Point(-46.6564, -23.6261), Point(-89.8664, 16.9138),
                  Point(-77.1143, -12.0219)], crs=4326)


def write_tiny_world(folder: Path) -> Path:
    """Write the four layers into ``folder`` (the layout ``geo.world.read_world`` reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    tiny_events().to_parquet(folder / "events.parquet", index=False)
    tiny_routes().to_file(folder / "routes.geojson", driver="GeoJSON", engine="pyogrio")
    tiny_candidates().to_file(folder / "candidates.geojson", driver="GeoJSON",
                              engine="pyogrio")
    tiny_aerodromes().to_file(folder / "aerodromes.geojson", driver="GeoJSON",
                              engine="pyogrio")
    return folder
