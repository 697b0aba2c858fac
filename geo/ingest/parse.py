"""Parsers for spreadsheet cells: one coordinate (decimal or DMS), dates (day-first), numbers.

Every parser is total: bad input gives a reason (or :class:`ValueParseError` for the single-value
functions), never another exception, and never hangs (inputs are length-capped and the regular
expressions have no nested repetition).
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
import pandas as pd

from geo.i18n import Message, message_of
from geo.ingest.errors import IngestError

Axis = Literal["lat", "lon"]
MAX_CELL = 100  # characters in a coordinate cell
_NUM = r"(\d+(?:[.,]\d+)?)"
_DMS = re.compile(
    r"^\s*(?P<h1>[NSEWO])?\s*(?P<sign>[+-])?\s*" + _NUM.replace("(", "(?P<d>", 1)
    + r"\s*(?:[°º]|deg|d|:|\s)?\s*"
    + r"(?:" + _NUM.replace("(", "(?P<m>", 1) + r"\s*(?:['′’]|m|:|\s)?\s*"
    + r"(?:" + _NUM.replace("(", "(?P<s>", 1) + r"\s*(?:\"|''|″|”|s)?)?)?"
    + r"\s*(?P<h2>[NSEWO])?\s*$",
    re.IGNORECASE,
)
_HEMI_AXIS = {"N": "lat", "S": "lat", "E": "lon", "W": "lon", "O": "lon"}


class ValueParseError(IngestError):
    """One cell that cannot be read as what its column should hold; the message says why."""


def _num(text: str | None) -> float:
    return float(text.replace(",", ".")) if text else 0.0


def parse_coordinate(text: str, *, axis: Axis) -> float:
    r"""Read one latitude or longitude cell: ``-9.4``, ``-9,4``, ``9°24'30"S``, ``S 9 24 30``.

    Parameters
    ----------
    text
        The cell. Hemisphere letters N/S/E/W (and O for oeste) may lead or follow.
    axis
        ``"lat"`` or ``"lon"``: which one the column holds (checks range and letters).

    Returns
    -------
    float
        Degrees, negative south and west.

    Raises
    ------
    ValueParseError
        Empty, unreadable, minutes/seconds >= 60, letter of the other axis, out of range.

    Examples
    --------
    >>> parse_coordinate("9°24'30\"S", axis="lat")
    -9.408333333333333
    >>> parse_coordinate("-74,6", axis="lon")
    -74.6
    >>> parse_coordinate("74 36 W", axis="lon")
    -74.6
    """
    raw = str(text).strip()
    if not raw:
        raise ValueParseError(Message("empty coordinate"))
    if len(raw) > MAX_CELL:
        raise ValueParseError(Message("{count} characters is too long for a coordinate",
                                      count=len(raw)))
    shown = repr(raw[:30])
    m = _DMS.match(raw)
    if m is None:
        raise ValueParseError(Message("cannot read {value} as a {axis}; write -9.4 or "
                                      "9°24'30\"S", value=shown, axis=_name(axis)))
    h1, h2 = m["h1"], m["h2"]
    if h1 and h2:
        raise ValueParseError(Message("{value} has two hemisphere letters", value=shown))
    hemi = (h1 or h2 or "").upper() or None
    if hemi is not None and _HEMI_AXIS[hemi] != axis:
        raise ValueParseError(Message("{value} is a {other} ({letter}) in the {axis} column: "
                                      "columns swapped?", value=shown,
                                      other=_name(_HEMI_AXIS[hemi]), letter=hemi,
                                      axis=_name(axis)))
    if hemi is not None and m["sign"] == "-":
        raise ValueParseError(Message("{value} has both a minus sign and the letter {letter}",
                                      value=shown, letter=hemi))
    deg, minutes, seconds = _num(m["d"]), _num(m["m"]), _num(m["s"])
    if minutes >= 60 or seconds >= 60:
        raise ValueParseError(Message("{value}: minutes and seconds must be below 60",
                                      value=shown))
    if (m["m"] and re.search(r"[.,]", m["d"])) or (m["s"] and re.search(r"[.,]", m["m"])):
        raise ValueParseError(Message("{value}: only the last number may have decimals",
                                      value=shown))
    value = deg + minutes / 60.0 + seconds / 3600.0
    if m["sign"] == "-" or hemi in ("S", "W", "O"):
        value = -value
    _check_range(value, axis, raw)
    return value


def _name(axis: str) -> Message:
    return Message("latitude") if axis == "lat" else Message("longitude")


def _check_range(value: float, axis: Axis, raw: str) -> None:
    limit = 90.0 if axis == "lat" else 180.0
    if not np.isfinite(value) or abs(value) > limit:
        if axis == "lat" and abs(value) <= 180:
            raise ValueParseError(Message("latitude {value} is outside -90..90 (latitude and "
                                          "longitude columns swapped?)", value=raw[:30]))
        raise ValueParseError(Message("{axis} {value} is outside -{limit}..{limit}",
                                      axis=_name(axis), value=raw[:30], limit=f"{limit:g}"))


def parse_coordinate_columns(lat: pd.Series, lon: pd.Series) -> tuple[np.ndarray, np.ndarray,
                                                                        list[str | None]]:
    """Parse two columns of coordinate cells; return ``(lon, lat, reason per row)``.

    Plain decimal numbers take a vectorised path; only the other cells go through
    :func:`parse_coordinate`. A row whose latitude is beyond 90 degrees but whose longitude
    would fit as a latitude is reported as "latitude/longitude swapped?".
    """
    n = len(lat)
    xs, ys = _fast_numbers(lon), _fast_numbers(lat)
    reasons: list[str | None] = [None] * n
    lat_text = lat.astype("string").fillna("").to_numpy(dtype=object)
    lon_text = lon.astype("string").fillna("").to_numpy(dtype=object)
    for i in np.flatnonzero(np.isnan(xs) | np.isnan(ys)):
        if not str(lat_text[i]).strip() and not str(lon_text[i]).strip():
            reasons[i] = Message("no coordinates")
            continue
        try:
            ys[i] = parse_coordinate(str(lat_text[i]), axis="lat")
            xs[i] = parse_coordinate(str(lon_text[i]), axis="lon")
        except ValueParseError as exc:
            reasons[i] = message_of(exc)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(xs) & np.isfinite(ys)
        swapped = finite & (np.abs(ys) > 90) & (np.abs(ys) <= 180) & (np.abs(xs) <= 90)
        out = finite & ~swapped & ((np.abs(ys) > 90) | (np.abs(xs) > 180))
    for i in np.flatnonzero(swapped):
        reasons[i] = reasons[i] or Message(
            "latitude {latitude} is outside -90..90 but fits as a longitude: latitude and "
            "longitude swapped?", latitude=f"{ys[i]:g}")
    for i in np.flatnonzero(out):
        reasons[i] = reasons[i] or Message(
            "coordinates ({latitude}, {longitude}) are out of range for degrees (metres of a "
            "projected CRS?)", latitude=f"{ys[i]:g}", longitude=f"{xs[i]:g}")
    return xs, ys, reasons


def _fast_numbers(values: pd.Series) -> np.ndarray:
    """Cells that are plain decimal numbers (point or comma) as floats; the rest NaN."""
    text = values.astype("string").str.strip()
    comma = text.str.fullmatch(r"[+-]?\d+,\d+").fillna(False).astype(bool)
    text = text.where(~comma, text.str.replace(",", ".", regex=False))
    plain = text.str.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)").fillna(False).astype(bool)
    nums = pd.to_numeric(text.where(plain), errors="coerce")
    out: np.ndarray = nums.to_numpy(dtype="float64", na_value=np.nan).copy()
    return out


_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})(?:\D|$)")
_ISO = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}")
_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})\s*$", re.IGNORECASE)
_MONTHS = {
    "ene": "jan", "enero": "jan", "janeiro": "jan", "febrero": "feb", "fevereiro": "feb",
    "fev": "feb", "marzo": "mar", "março": "mar", "marco": "mar", "abr": "apr", "abril": "apr",
    "mayo": "may", "maio": "may", "mai": "may", "junio": "jun", "junho": "jun", "julio": "jul",
    "julho": "jul", "ago": "aug", "agosto": "aug", "set": "sep", "septiembre": "sep",
    "setiembre": "sep", "setembro": "sep", "octubre": "oct", "outubro": "oct", "out": "oct",
    "noviembre": "nov", "novembro": "nov", "dic": "dec", "diciembre": "dec", "dez": "dec",
    "dezembro": "dec",
}
_MONTH_WORD = re.compile(r"[a-zç]+", re.IGNORECASE)
MAX_DATE = 64  # characters in a date cell


def detect_dayfirst(values: pd.Series) -> bool | None:
    """Return True (day first), False (month first) or None (ambiguous) for ``12/05/2024`` cells.

    Examples
    --------
    >>> detect_dayfirst(pd.Series(["05/03/2024", "25/03/2024"]))
    True
    >>> detect_dayfirst(pd.Series(["03/25/2024"]))
    False
    >>> detect_dayfirst(pd.Series(["05/03/2024"])) is None
    True
    """
    first = second = False
    for cell in values.dropna().astype(str).head(5000):
        m = _NUMERIC_DATE.match(cell)
        if m:
            first |= int(m[1]) > 12
            second |= int(m[2]) > 12
    if first and not second:
        return True
    if second and not first:
        return False
    return None


def _translate_months(text: str) -> str:
    return _MONTH_WORD.sub(lambda m: _MONTHS.get(m[0].lower(), m[0]), text)


def parse_dates(values: pd.Series, *, dayfirst: bool = True,
                timezone: str = "UTC") -> tuple[pd.Series, np.ndarray]:
    """Parse date/time cells into UTC; return ``(times, unreadable mask)``.

    ISO 8601 is read as such; ``dd/mm/yyyy`` (or ``mm/dd/yyyy`` with ``dayfirst=False``) and
    Spanish or Portuguese month names are understood. Times without an offset are taken in
    ``timezone`` (an IANA name such as ``America/Lima``). Empty cells are missing (NaT), not
    unreadable.

    Examples
    --------
    >>> t, bad = parse_dates(pd.Series(["2024-03-05", "05/03/2024 14:00", "5 marzo 2024", "x"]))
    >>> [str(v) for v in t]
    ['2024-03-05 00:00:00+00:00', '2024-03-05 14:00:00+00:00', '2024-03-05 00:00:00+00:00', 'NaT']
    >>> bad.tolist()
    [False, False, False, True]
    """
    text = values.astype("string").fillna("").str.strip().reset_index(drop=True)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    empty = (text == "").to_numpy(dtype=bool)
    todo = ~empty & (text.str.len() <= MAX_DATE).to_numpy(dtype=bool)
    done = _fast_dates(text, todo, out, dayfirst=dayfirst, timezone=timezone)
    rest = todo & ~done
    if rest.any():  # cell by cell, once per distinct text
        cells = text[rest]
        seen = {c: _parse_one(str(c), dayfirst=dayfirst, timezone=timezone)
                for c in cells.unique()}
        out[rest] = pd.Series([seen[c] for c in cells], index=cells.index,
                              dtype="datetime64[ns, UTC]")
    years = out.dt.year.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        out[(years < 1000) | (years > 2200)] = pd.NaT
    out.index = values.index
    bad = out.isna().to_numpy(dtype=bool) & ~empty
    return out, bad


_ISO_FULL = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?"
                       r"(Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)
_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})( \d{1,2}:\d{2}(:\d{2})?)?$")


def _fast_dates(text: pd.Series, todo: np.ndarray, out: pd.Series, *, dayfirst: bool,
                timezone: str) -> np.ndarray:
    """Parse the common shapes (ISO 8601, dd/mm/yyyy [hh:mm[:ss]]) column-wise, in place.

    Returns the cells handled here (parsed, or unreadable in a known shape); the others go
    through the slower cell-by-cell parser.
    """
    done = np.zeros(len(text), dtype=bool)
    iso = todo & text.str.match(_ISO_FULL).to_numpy(dtype=bool, na_value=False)
    offset = text.str.contains(_OFFSET).to_numpy(dtype=bool, na_value=False)
    dmy = todo & ~iso & text.str.match(_DMY).to_numpy(dtype=bool, na_value=False)
    try:
        for mask, utc in ((iso & offset, True), (iso & ~offset, False)):
            if mask.any():
                parsed = pd.to_datetime(text[mask], format="ISO8601", errors="coerce", utc=utc)
                out[mask] = _localise(parsed, utc=utc, timezone=timezone)
                done |= mask
        if dmy.any():
            parts = text[dmy].str.extract(_DMY)
            day, month = (parts[0], parts[1]) if dayfirst else (parts[1], parts[0])
            iso_text = (parts[2] + "-" + month.str.zfill(2) + "-" + day.str.zfill(2)
                        + parts[3].fillna("").str.replace(r"^ (\d):", r" 0\1:", regex=True))
            parsed = pd.to_datetime(iso_text, format="ISO8601", errors="coerce")
            out[dmy] = _localise(parsed, utc=False, timezone=timezone)
            done |= dmy
    except (ValueError, TypeError, OverflowError):
        return np.zeros(len(text), dtype=bool)  # let the cell-by-cell parser decide
    return done


def _localise(parsed: pd.Series, *, utc: bool, timezone: str) -> pd.Series:
    if utc:
        aware: pd.Series = parsed.dt.as_unit("ns")
        return aware
    local = parsed.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
    converted: pd.Series = local.dt.tz_convert("UTC").dt.as_unit("ns")
    return converted


def _parse_one(cell: str, *, dayfirst: bool, timezone: str) -> pd.Timestamp | None:
    try:
        if _ISO.match(cell):
            ts = pd.Timestamp(cell)
        else:
            ts = pd.to_datetime(_translate_months(cell), dayfirst=dayfirst, format="mixed")
        if not isinstance(ts, pd.Timestamp) or pd.isna(ts):
            return None
        if ts.tzinfo is None:
            ts = ts.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
        if pd.isna(ts) or not 1000 <= ts.year <= 2200:
            return None
        return ts.tz_convert("UTC").as_unit("ns")
    except (ValueError, TypeError, OverflowError, OSError, KeyError, IndexError):
        return None


def parse_numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse numeric cells (``1234.5``, ``1.234,5``, ``1,234.5``, ``80%``); ``(values, bad)``.

    Examples
    --------
    >>> v, bad = parse_numbers(pd.Series(["1.234,5", "1,234.5", "80%", "x", ""]))
    >>> v.round(3).tolist()[:3], bad.tolist()
    ([1234.5, 1234.5, 0.8], [False, False, False, True, False])
    """
    text = values.astype("string").fillna("").str.strip().str.replace(" ", "", regex=False)
    empty = (text == "").to_numpy(dtype=bool)
    percent = text.str.endswith("%").to_numpy(dtype=bool)
    text = text.str.rstrip("%")
    eu = text.str.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?|[+-]?\d+,\d+").fillna(False)
    text = text.where(~eu.astype(bool),
                      text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    us = text.str.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?").fillna(False)
    text = text.where(~us.astype(bool), text.str.replace(",", "", regex=False))
    plain = text.str.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?").fillna(False)
    nums = pd.to_numeric(text.where(plain.astype(bool)), errors="coerce")
    arr: np.ndarray = nums.to_numpy(dtype="float64", na_value=np.nan).copy()
    arr[percent] /= 100.0
    bad: np.ndarray = np.isnan(arr) & ~empty
    return arr, bad
