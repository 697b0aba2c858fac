"""Reading a place typed by a person: decimal degrees, degrees-minutes-seconds or an aerodrome code.

:func:`parse_location` accepts what analysts paste from reports and other tools::

    -9.4, -74.6              decimal latitude, longitude (the order maps and GPS units show)
    9.4S 74.6W               decimal with hemisphere letters, in either order
    9°24'S 74°36'W           degrees and minutes
    9 24 0 S 74 36 0 W       degrees, minutes, seconds separated by spaces
    S 9°24'30" W 74°36'10"   hemisphere letters first
    SPJC                     an aerodrome ICAO/ident code (with a code table)

``O`` (oeste) is read as west, as Spanish and Portuguese write it. Every failure raises
:class:`LocationError` saying what was read and how to fix it, e.g. a latitude beyond 90
degrees suggests that longitude and latitude were swapped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from geo.errors import AtalayaError
from geo.i18n import Message, plural

__all__ = ["LocationError", "format_dms", "parse_location"]

MAX_INPUT = 200  # characters; nothing longer is a coordinate pair
_TOKEN = re.compile(r"\s*(?:(?P<num>[+-]?\d+(?:\.\d+)?)|(?P<hemi>[NSEWO])"
                    r"|(?P<mark>°|º|'|′|\"|″|’|”)|(?P<sep>[,;/]))")
_CODE = re.compile(r"^[A-Z0-9-]{3,8}$")
_DECIMAL_COMMA = re.compile(r"(\d),(\d)")


class LocationError(AtalayaError, ValueError):
    """Text that is not a location this module can read; the message says why and the fix."""


@dataclass
class _Part:
    numbers: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)
    hemi: str | None = None

    def value(self, source: str) -> float:
        if not self.numbers:
            raise LocationError(Message("{source}: a hemisphere letter without a number",
                                        source=repr(source)))
        if len(self.numbers) > 3:
            raise LocationError(Message("{source}: {count} numbers in one coordinate; expected "
                                        "degrees, minutes and seconds at most",
                                        source=repr(source), count=len(self.numbers)))
        deg, *rest = self.numbers
        negative = self.texts[0].startswith("-")
        units = (Message("minutes"), Message("seconds"))
        for i, (unit, amount) in enumerate(zip(units, rest, strict=False)):
            if amount >= 60 or self.texts[i + 1].startswith(("-", "+")):
                raise LocationError(Message("{source}: {unit} must be between 0 and 60, got "
                                            "{number}", source=repr(source), unit=unit,
                                            number=self.texts[i + 1]))
            if "." in self.texts[i]:
                raise LocationError(Message("{source}: {number} has decimals but is followed by "
                                            "{unit}; only the last number may have decimals",
                                            source=repr(source), number=self.texts[i],
                                            unit=unit))
        magnitude = float(abs(deg) + sum(v / 60.0 ** (k + 1) for k, v in enumerate(rest)))
        if self.hemi is not None and negative:
            raise LocationError(Message("{source}: both a minus sign and the letter {letter}; "
                                        "use one or the other", source=repr(source),
                                        letter=self.hemi))
        return -magnitude if negative or self.hemi in ("S", "W", "O") else magnitude


def _normalise(text: str) -> str:
    upper = text.strip().upper().replace("''", '"')
    if "." not in upper and re.search(r"[\s;]", upper.strip()):
        upper = _DECIMAL_COMMA.sub(r"\1.\2", upper)  # "9,4 S 74,6 W": decimal commas
    return upper


def _as_typed(text: str, source: str, pos: int) -> str:
    """Return the 12 characters at ``pos`` of the normalised ``text`` as the user typed them.

    :func:`_normalise` upper-cases (and turns ``''`` into ``"``): where the lengths still
    agree, positions do too, and the user reads back their own letters. A longer rest ends
    with "…", so a cut is not read as what was typed.

    Examples
    --------
    >>> _as_typed("HOLA MUNDO", "hola mundo", 0)
    'hola mundo'
    >>> _as_typed("<IMG SRC=X ONERROR=1>", "<img src=x onerror=1>", 0)
    '<img src=x o…'
    """
    chunk = source if len(text) == len(source) else text
    return chunk[pos:pos + 12] + ("…" if len(chunk) > pos + 12 else "")


def _split(text: str, source: str) -> list[_Part]:
    parts: list[_Part] = [_Part()]
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise LocationError(Message("{source}: cannot read {part}; write '-9.4, -74.6', "
                                        "'9°24'S 74°36'W' or an aerodrome code",
                                        source=repr(source), part=repr(_as_typed(
                                            text, source, pos))))
        pos = m.end()
        cur = parts[-1]
        if m.group("num") is not None:
            starts_new = bool(cur.numbers) and (
                m.group("num")[0] in "+-" or (bool(cur.marks) and cur.marks[-1] in "\"″”"))
            if starts_new:
                parts.append(cur := _Part())
            cur.numbers.append(float(m.group("num")))
            cur.texts.append(m.group("num"))
        elif m.group("hemi") is not None:
            if cur.numbers and cur.hemi is not None:
                parts.append(_Part(hemi=m.group("hemi")))  # the next coordinate's prefix
            elif cur.numbers:
                cur.hemi = m.group("hemi")  # a suffix closes the coordinate
                parts.append(_Part())
            elif cur.hemi is not None:
                raise LocationError(Message("{source}: two hemisphere letters in a row",
                                            source=repr(source)))
            else:
                cur.hemi = m.group("hemi")
        elif m.group("mark") is not None:
            cur.marks.append(m.group("mark"))
        elif cur.numbers or cur.hemi:
            parts.append(_Part())
    return [p for p in parts if p.numbers or p.hemi]


def _halve(parts: list[_Part], source: str) -> list[_Part]:
    """'9 24 0 74 36 0' (no letters, no separator): split the numbers in two equal halves."""
    if len(parts) != 1 or len(parts[0].numbers) not in (2, 4, 6):
        return parts
    only = parts[0]
    half = len(only.numbers) // 2
    return [_Part(only.numbers[:half], only.texts[:half]),
            _Part(only.numbers[half:], only.texts[half:])]


def _assign(values: list[tuple[float, str | None]], source: str) -> tuple[float, float]:
    """(lon, lat) from two (value, hemisphere letter) pairs."""
    (a, ha), (b, hb) = values
    axis = {"N": "lat", "S": "lat", "E": "lon", "W": "lon", "O": "lon", None: None}
    xa, xb = axis[ha], axis[hb]
    if xa is not None and xa == xb:
        both = Message("latitudes") if xa == "lat" else Message("longitudes")
        raise LocationError(Message("{source}: both coordinates are {both} ({first} and "
                                    "{second}); give one of N/S and one of E/W",
                                    source=repr(source), both=both, first=str(ha),
                                    second=str(hb)))
    if xa == "lon" or xb == "lat":
        a, b = b, a  # written longitude first
    lat, lon = a, b
    if abs(lat) > 90:
        if abs(lon) <= 90 and xa is None and xb is None:
            raise LocationError(Message("{source}: latitude {latitude} is outside -90..90. Did "
                                        "you write longitude first? Try '{longitude}, "
                                        "{latitude}'.", source=repr(source),
                                        latitude=f"{lat:g}", longitude=f"{lon:g}"))
        raise LocationError(Message("{source}: latitude {latitude} is outside -90..90.",
                                    source=repr(source), latitude=f"{lat:g}"))
    if abs(lon) > 180:
        raise LocationError(Message("{source}: longitude {longitude} is outside -180..180",
                                    source=repr(source), longitude=f"{lon:g}"))
    if xa is None and xb is None and not _in_region(lon, lat) and _in_region(lat, lon):
        # '-74.6, -9.4' is a valid place (the Southern Ocean), but read the other way round
        # it is in the region this app covers: ask, rather than fly to the wrong one.
        raise LocationError(Message("{source}: latitude {latitude}, longitude {longitude} is "
                                    "far from Latin America and the Caribbean. Did you write "
                                    "longitude first? Try '{longitude}, {latitude}', or add "
                                    "hemisphere letters (9.4S 74.6W).", source=repr(source),
                                    latitude=f"{lat:g}", longitude=f"{lon:g}"))
    return lon, lat


def _in_region(lon: float, lat: float) -> bool:
    """Whether ``(lon, lat)`` lies in the region the app covers (``geo.schema.REGION_BOUNDS``)."""
    from geo.schema import REGION_BOUNDS

    x0, y0, x1, y1 = REGION_BOUNDS
    return x0 <= lon <= x1 and y0 <= lat <= y1


def parse_location(text: str, *, codes: Mapping[str, tuple[float, float]] | None = None,
                   ) -> tuple[float, float]:
    """Read a typed location and return it as ``(lon, lat)`` in degrees (EPSG:4326).

    Parameters
    ----------
    text
        Decimal or DMS coordinates, latitude first unless hemisphere letters say otherwise,
        or an aerodrome code.
    codes
        Aerodrome ident (upper case) -> ``(lon, lat)``; codes are tried before coordinates.

    Raises
    ------
    LocationError
        With what was read and the fix (swapped order, minutes >= 60, unknown code ...).

    Examples
    --------
    >>> parse_location("-9.4, -74.6")
    (-74.6, -9.4)
    >>> parse_location("9°24'S 74°36'W")
    (-74.6, -9.4)
    >>> parse_location("9 24 0 S 74 36 0 W")
    (-74.6, -9.4)
    >>> parse_location("spjc", codes={"SPJC": (-77.11, -12.02)})
    (-77.11, -12.02)
    >>> parse_location("-74.6, -9.4")
    Traceback (most recent call last):
    ...
    geo.coords.LocationError: '-74.6, -9.4': latitude -74.6, longitude -9.4 is far from Latin
    America and the Caribbean. Did you write longitude first? Try '-9.4, -74.6', or add
    hemisphere letters (9.4S 74.6W).
    >>> parse_location("-120.5, 5.2")
    Traceback (most recent call last):
    ...
    geo.coords.LocationError: '-120.5, 5.2': latitude -120.5 is outside -90..90. Did you write
    longitude first? Try '5.2, -120.5'.
    """
    source = text.strip()[:MAX_INPUT]
    if not source:
        raise LocationError(Message("nothing to read: write coordinates such as '-9.4, -74.6' "
                                    "or an aerodrome code such as SPJC"))
    if len(text) > MAX_INPUT:
        raise LocationError(Message("{count} characters is too long for a location",
                                    count=len(text)))
    upper = source.upper()
    if codes is not None and upper in codes:
        lon, lat = codes[upper]
        return float(lon), float(lat)
    try:
        parts = _halve(_split(_normalise(source), source), source)
    except LocationError:
        if _CODE.match(upper) and upper[0].isalpha():
            raise LocationError(Message("{source}: no aerodrome has this code; check the "
                                        "spelling or type coordinates",
                                        source=repr(source))) from None
        raise
    if len(parts) != 2:
        raise LocationError(plural("{source}: found {count} coordinate, expected two "
                                   "(latitude and longitude); separate them with a comma or "
                                   "add hemisphere letters (9°24'S 74°36'W)",
                                   "{source}: found {count} coordinates, expected two "
                                   "(latitude and longitude); separate them with a comma or "
                                   "add hemisphere letters (9°24'S 74°36'W)", "count",
                                   source=repr(source), count=len(parts)))
    values = [(p.value(source), p.hemi) for p in parts]
    lon, lat = _assign(values, source)
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise LocationError(Message("{source}: the numbers are not finite",
                                    source=repr(source)))
    return lon, lat


def format_dms(lon: float, lat: float, *, decimals: int = 1) -> str:
    r"""Write ``(lon, lat)`` as degrees, minutes and seconds, latitude first.

    Examples
    --------
    >>> print(format_dms(-74.6, -9.4))
    9°24'00.0"S 74°36'00.0"W
    """
    def one(value: float, pos: str, neg: str) -> str:
        total = round(abs(value) * 3600, decimals)
        deg, rest = divmod(total, 3600)
        minutes, seconds = divmod(rest, 60)
        width = 3 + decimals if decimals else 2
        return (f"{int(deg)}°{int(minutes):02d}'{seconds:0{width}.{decimals}f}\""
                f"{pos if value >= 0 else neg}")

    return f"{one(lat, 'N', 'S')} {one(lon, 'E', 'W')}"
