"""Fixtures for map layer tests: aerodromes, hostile text and HTML helpers."""

from __future__ import annotations

import re

import geopandas as gpd
import pytest
from shapely.geometry import Point

from layers.escape import escape_text

#: Text that runs code if any layer forgets to escape (see GUIDE.md section 7).
HOSTILE = (
    "<img src=x onerror=alert(1)>",
    "${alert(1)}",
    "</script><script>alert(1)</script>",
    "C:\\xdrive",
)
HOSTILE_TEXT = " ".join(HOSTILE)
URL = re.compile(r"https?://[^\s\"'<>)\\]+")


def appears_escaped(html: str, raw: str) -> bool:
    r"""``raw`` is in the page only in its escaped form (Jinja's tojson turns & into \u0026)."""
    safe = escape_text(raw)
    return safe in html or safe.replace("&", "\\u0026") in html


def external_urls(html: str) -> list[str]:
    return URL.findall(html)


@pytest.fixture
def aerodromes() -> gpd.GeoDataFrame:
    """Three registered aerodromes, one without runway data."""
    return gpd.GeoDataFrame(
        {
            "ident": ["SKBO", "SPJC", "MGGT"],
            "name": ["El Dorado", "Jorge Chávez", "La Aurora"],
            "country": ["CO", "PE", "GT"],
            "runway_length_m": [3800.0, 3507.0, None],
            "surface": ["ASP", "ASP", None],
        },
        geometry=[Point(-74.14, 4.70), Point(-77.11, -12.02), Point(-90.53, 14.58)],
        crs=4326,
    )


def poison(gdf: gpd.GeoDataFrame, columns: tuple[str, ...]) -> gpd.GeoDataFrame:
    """Copy of ``gdf`` with hostile text in every given text column."""
    out = gdf.copy()
    for col in columns:
        out[col] = HOSTILE_TEXT
    return out
