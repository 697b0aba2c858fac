"""Data contracts: every layer's columns, dtypes, allowed values, geometry types and CRS.

Each layer is defined once here as a :class:`LayerSchema`. :func:`check_layer` compares a
GeoDataFrame with it and collects **every** problem into a :class:`ValidationReport` (severity,
check, message, suggestion, offending rows); :func:`validate_layer` returns the cleaned frame or
raises one :class:`~geo.errors.SchemaError` that lists them all. The ``validate_<layer>``
functions are thin wrappers for each layer.

Notes
-----
Storage CRS is EPSG:4326 (longitude, latitude in degrees). A missing or different CRS is an
error, never a guess. Times are timezone-aware UTC; naive times are taken as UTC with a warning.
Units live in column names (``_m``, ``_kg``, ``_deg``). Row numbers in messages are 1-based
positions in the input, as a spreadsheet user counts them below the header.

Every problem's text is a :class:`~geo.message.Message` (the English it always was), and so are
:meth:`ValidationReport.format` and the :class:`~geo.errors.SchemaError` of
:func:`validate_layer`: the interface writes them in the reader's language. Check names
(``range``, ``geometry-type`` ...), column and layer names and the values quoted from the data
stay as written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from babel import Locale

from geo.errors import SchemaError
from geo.message import Message, join_messages, plural

Kind = Literal["text", "category", "float", "int", "datetime"]
Severity = Literal["error", "warning"]

#: ISO 3166-1 alpha-2 country codes (from Babel's CLDR territory list, so no extra package).
ISO_COUNTRIES: frozenset[str] = frozenset(
    code for code in map(str, Locale("en").territories)
    if len(code) == 2 and code.isalpha() and code not in {"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"}
)

#: Rough envelope of Latin America and the Caribbean plus the sea lanes out of it
#: (lon_min, lat_min, lon_max, lat_max), used only to *suspect* swapped coordinates.
REGION_BOUNDS = (-120.0, -60.0, -30.0, 35.0)

EVENT_TYPES = ("seizure", "interdiction", "incident", "suspicious_flight", "lab_dismantled")
COMMODITIES = (
    "cocaine", "cocaine_base", "cannabis", "heroin", "methamphetamine", "fentanyl",
    "precursors", "cash", "weapons", "gold", "fuel", "unknown",
)
ROUTE_MODES = ("air", "maritime", "land", "river", "intermodal")
CANDIDATE_STATES = ("new", "active", "overgrown", "destroyed", "reopened")
PRIORITIES = ("high", "medium", "low")

MAX_TEXT = 4000  # characters; a longer description is almost surely a broken import
ROW_EXAMPLES = 5  # offending rows quoted per problem
#: The words for each kind of column, as a missing column's fix names them ("add it (float)").
KIND_WORDS: dict[Kind, Message] = {
    "text": Message("text"), "category": Message("category"), "float": Message("float"),
    "int": Message("int"), "datetime": Message("datetime"),
}
_SEVERITY_WORDS: dict[Severity, Message] = {"error": Message("ERROR"),
                                            "warning": Message("WARNING")}


@dataclass(frozen=True)
class Column:
    """One attribute column of a layer contract.

    ``required`` columns must be present; optional ones are checked only when present.
    ``low``/``high`` bound numeric values (inclusive unless ``high_open``). ``doc`` is a
    :class:`~geo.message.Message`: a missing column's fix quotes it.
    """

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None
    high_open: bool = False
    unique: bool = False
    doc: str = ""


@dataclass(frozen=True)
class LayerSchema:
    """The contract of one layer: columns, geometry types and vertex budget."""

    name: str
    columns: tuple[Column, ...]
    geometry_types: tuple[str, ...]
    max_vertices: int = 100_000
    doc: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        """Names of all columns, in contract order."""
        return tuple(c.name for c in self.columns)


@dataclass(frozen=True)
class Problem:
    """One finding of a validation: what, where, and how to fix it.

    ``message`` and ``suggestion`` are :class:`~geo.message.Message` when the validator wrote
    them; ``check`` is a code (``range``, ``geometry-type`` ...) kept as written.
    """

    severity: Severity
    check: str
    message: str
    suggestion: str = ""
    column: str | None = None
    rows: tuple[int, ...] = ()  # 1-based positions, at most ROW_EXAMPLES of them
    count: int = 0  # how many rows are affected in total (0: the whole layer)

    def text(self) -> Message:
        """Return the problem as one line (``ERROR range: [confidence] ... (row 3). Fix: ...``).

        Row numbers are written as digits, without grouping, as they always were.
        """
        parts: list[str] = [_SEVERITY_WORDS[self.severity], " ", self.check, ": "]
        if self.column:
            parts.append(f"[{self.column}] ")
        parts.append(self.message)
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows)
            if self.count > len(self.rows):
                rows = Message("(rows {rows} (+{more} more))", rows=shown,
                               more=str(self.count - len(self.rows)))
            elif self.count > 1:
                rows = Message("(rows {rows})", rows=shown)
            else:
                rows = Message("(row {rows})", rows=shown)
            parts += [" ", rows]
        parts.append(".")
        if self.suggestion:
            parts += [" ", Message("Fix: {fix}", fix=self.suggestion)]
        return join_messages("", parts)

    def __str__(self) -> str:
        return self.text()


@dataclass
class ValidationReport:
    """Every problem found in one layer from one source."""

    layer: str
    source: str
    n_rows: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """Problems that make the data unusable."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Problems that were repaired or assumed; the data is usable."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def add(self, severity: Severity, check: str, message: str, suggestion: str = "", *,
            column: str | None = None, mask: np.ndarray | None = None) -> None:
        """Record a problem; ``mask`` marks the offending rows (boolean, input order)."""
        rows: tuple[int, ...] = ()
        count = 0
        if mask is not None:
            idx = np.flatnonzero(mask)
            if idx.size == 0:
                return
            rows = tuple(int(i) + 1 for i in idx[:ROW_EXAMPLES])
            count = int(idx.size)
        self.problems.append(Problem(severity, check, message, suggestion, column, rows, count))

    def format(self) -> Message:
        """Human-readable multi-line summary naming the source, layer and each problem.

        A :class:`~geo.message.Message`: the English summary, written again in the reader's
        language by :func:`~geo.message.localize` (``source`` may be a Message too).
        """
        head = Message("{source}: {layer} layer, {rows}, {errors}, {warnings}",
                       source=self.source, layer=self.layer,
                       rows=plural("{n} row", "{n} rows", "n", n=self.n_rows),
                       errors=plural("{n} error", "{n} errors", "n", n=len(self.errors)),
                       warnings=plural("{n} warning", "{n} warnings", "n",
                                       n=len(self.warnings)))
        return join_messages("\n", [head, *(join_messages("", ["  - ", p.text()])
                                            for p in self.problems)])


def _c(name: str, kind: Kind, **kw: object) -> Column:
    return Column(name, kind, **kw)  # type: ignore[arg-type]


_CONF = {"low": 0.0, "high": 1.0}
EVENTS = LayerSchema(
    "events",
    (
        _c("event_id", "text", unique=True, doc=Message("stable identifier")),
        _c("occurred_at", "datetime", doc=Message("when it happened, UTC")),
        _c("event_type", "category", allowed=EVENT_TYPES),
        _c("commodity", "category", allowed=COMMODITIES),
        _c("quantity_kg", "float", nullable=True, low=0.0, doc=Message("seized mass, kg")),
        _c("country", "category", allowed=tuple(sorted(ISO_COUNTRIES)),
           doc=Message("ISO 3166-1 alpha-2")),
        _c("source", "text", doc=Message("reporting agency or feed")),
        _c("confidence", "float", **_CONF),
        _c("description", "text", nullable=True, doc=Message("free text, shown escaped")),
    ),
    ("Point",),
    max_vertices=1,
    doc="seizures, interdictions, incidents and suspicious flights",
)
ROUTES = LayerSchema(
    "routes",
    (
        _c("route_id", "text", unique=True),
        _c("mode", "category", allowed=ROUTE_MODES),
        _c("origin", "text", required=False, nullable=True),
        _c("destination", "text", required=False, nullable=True),
        _c("first_seen", "datetime"),
        _c("last_seen", "datetime"),
        _c("confidence", "float", **_CONF),
        _c("source", "text"),
        _c("volume_kg_year", "float", required=False, nullable=True, low=0.0),
    ),
    ("LineString", "MultiLineString"),
    doc="trafficking routes; the line runs from origin to destination",
)
CANDIDATES = LayerSchema(
    "candidates",
    (
        _c("candidate_id", "text", unique=True),
        _c("scene_id", "text"),
        _c("detected_at", "datetime"),
        _c("score", "float", **_CONF),
        _c("length_m", "float", low=0.0),
        _c("width_m", "float", low=0.0),
        _c("bearing_deg", "float", low=0.0, high=180.0, high_open=True),
        _c("state", "category", allowed=CANDIDATE_STATES),
        _c("reason", "text"),
        _c("priority", "category", required=False, allowed=PRIORITIES),
        _c("first_seen", "datetime", required=False, nullable=True),
        _c("last_seen", "datetime", required=False, nullable=True),
    ),
    ("Polygon",),
    max_vertices=64,
    doc="clandestine runway candidates as oriented rectangles",
)
AERODROMES = LayerSchema(
    "aerodromes",
    (
        _c("ident", "text", unique=True, doc=Message("ICAO code or OurAirports ident")),
        _c("name", "text"),
        _c("country", "category", allowed=tuple(sorted(ISO_COUNTRIES))),
        _c("runway_length_m", "float", nullable=True, low=0.0),
        _c("surface", "text", nullable=True),
        _c("iata", "text", required=False, nullable=True),
        _c("kind", "text", required=False, nullable=True),
    ),
    ("Point",),
    max_vertices=1,
    doc="registered aerodromes",
)
AREAS = LayerSchema(
    "areas",
    (
        _c("area_id", "text", unique=True),
        _c("name", "text"),
        _c("created_at", "datetime"),
        _c("created_by", "text", required=False, nullable=True),
    ),
    ("Polygon", "MultiPolygon"),
    doc="areas of interest drawn or imported by analysts",
)
SCENES = LayerSchema(
    "scenes",
    (
        _c("scene_id", "text", unique=True),
        _c("path", "text"),
        _c("acquired_at", "datetime"),
        _c("sensor", "text"),
        _c("native_crs", "text",
           doc=Message("the CRS the file came in, e.g. EPSG:32718; one in degrees or in a "
                       "projection that distorts distances is stored resampled onto UTM")),
        _c("resolution_m", "float", low=0.0),
        _c("bands", "text", doc=Message("comma-separated band roles in file order")),
        _c("cloud_share", "float", required=False, nullable=True, **_CONF),
    ),
    ("Polygon",),
    doc="imagery scenes; geometry is the footprint",
)
SCHEMAS: dict[str, LayerSchema] = {
    s.name: s for s in (EVENTS, ROUTES, CANDIDATES, AERODROMES, AREAS, SCENES)
}


def shown_score(score: float) -> float:
    """Return a score (0-1) cut to the two decimals it is shown with, never rounded up.

    A score of 0.995 reads 0.99: shown as 1 (or 1.00) it would claim a certainty the
    detector never gives, and two outputs rounding it differently disagreed.

    Examples
    --------
    >>> shown_score(0.9977), shown_score(1.0), shown_score(0.29)
    (0.99, 1.0, 0.29)
    """
    return float(shown_scores(np.array([score]))[0])


def shown_scores(scores: np.ndarray) -> np.ndarray:
    """Return scores (0-1) cut to two decimals as :func:`shown_score` does, all at once."""
    out: np.ndarray = np.floor(np.round(np.asarray(scores, dtype=float) * 100, 6)) / 100
    return out


def empty_layer(schema: LayerSchema) -> gpd.GeoDataFrame:
    """Return an empty, valid GeoDataFrame with the contract's columns, in EPSG:4326."""
    return gpd.GeoDataFrame({c: pd.Series(dtype="object") for c in schema.column_names},
                            geometry=gpd.GeoSeries([], crs=4326), crs=4326)


def _check_column(df: pd.DataFrame, col: Column, rep: ValidationReport) -> pd.Series | None:
    """Coerce one column to its kind, recording every problem; returns the coerced series."""
    raw = df[col.name]
    missing = raw.isna().to_numpy()
    if col.kind in ("float", "int"):
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna().to_numpy() & ~missing
        rep.add("error", "type", Message("value is not a number"),
                Message("write plain numbers (1234.5)"), column=col.name, mask=bad)
        arr = values.to_numpy(dtype="float64", na_value=np.nan)
        rep.add("error", "finite", Message("value is infinite"),
                Message("replace with a real number or leave empty"),
                column=col.name, mask=np.isinf(arr))
        if col.low is not None:
            low = f"{col.low:g}"
            rep.add("error", "range", Message("value is below {low}", low=low),
                    Message("use values >= {low}", low=low), column=col.name, mask=arr < col.low)
        if col.high is not None:
            high = f"{col.high:g}"
            if col.high_open:
                rep.add("error", "range", Message("value is not < {high}", high=high),
                        Message("use values < {high}", high=high), column=col.name,
                        mask=arr >= col.high)
            else:
                rep.add("error", "range", Message("value is not <= {high}", high=high),
                        Message("use values <= {high}", high=high), column=col.name,
                        mask=arr > col.high)
        out: pd.Series = values.astype("float64") if col.kind == "float" else values
    elif col.kind == "datetime":
        out = _coerce_datetime(raw, col, missing, rep)
    else:
        out = raw.astype("str")  # pandas' string dtype keeps missing values missing
        if col.kind == "category" and col.allowed is not None:
            unknown = (~missing) & ~out.isin(col.allowed).to_numpy()
            if unknown.any():
                seen = sorted(set(out[unknown].astype(str)))[:5]
                rep.add("error", "allowed", Message("unknown value(s) {values}",
                                                    values=", ".join(map(repr, seen))),
                        _allowed_hint(col), column=col.name, mask=unknown)
        else:
            lens = out.str.len().to_numpy(dtype="float64", na_value=0.0)
            rep.add("error", "length", Message("text longer than {n} characters", n=str(MAX_TEXT)),
                    Message("shorten it or split it"), column=col.name, mask=lens > MAX_TEXT)
    if not col.nullable:
        rep.add("error", "missing", Message("empty value in a required column"),
                Message("fill it in"), column=col.name, mask=missing)
    if col.unique:
        dup = out.duplicated(keep="first").to_numpy() & ~missing
        rep.add("error", "unique", Message("identifier repeats an earlier row"),
                Message("give every row its own identifier"), column=col.name, mask=dup)
    return out


def _allowed_hint(col: Column) -> Message:
    assert col.allowed is not None
    if len(col.allowed) > 20:
        return Message("use a two-letter ISO 3166-1 code such as PE, CO, BO, MX")
    return Message("use one of {values}", values=", ".join(col.allowed))


def _either(names: Sequence[str]) -> str:
    """Return ``names`` joined by "or" (a :class:`~geo.message.Message` when there are two+)."""
    out = names[0]
    for name in names[1:]:
        out = Message("{first} or {second}", first=out, second=name)
    return out


def _coerce_datetime(raw: pd.Series, col: Column, missing: np.ndarray,
                     rep: ValidationReport) -> pd.Series:
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return pd.Series(raw.dt.tz_convert("UTC"))
    if pd.api.types.is_datetime64_dtype(raw.dtype):
        rep.add("warning", "timezone", Message("times have no time zone; taken as UTC"),
                Message("write times with an offset (2024-03-01T14:00:00Z)"), column=col.name)
        return pd.Series(raw.dt.tz_localize("UTC"))
    text = raw.astype("str")
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    bad = parsed.isna().to_numpy() & ~missing
    rep.add("error", "type", Message("not a date/time"),
            Message("write ISO 8601 dates (2024-03-01 or 2024-03-01T14:00:00Z)"),
            column=col.name, mask=bad)
    return parsed


def _check_geometry(gdf: gpd.GeoDataFrame, schema: LayerSchema,
                    rep: ValidationReport) -> gpd.GeoSeries:
    geoms = gdf.geometry.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    rep.add("error", "geometry", Message("missing or empty geometry"),
            Message("give every row a location"), mask=missing)
    types = shapely.get_type_id(geoms)
    names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                      "MultiLineString", "MultiPolygon", "GeometryCollection"])
    wrong = ~missing & ~np.isin(names[np.clip(types, 0, 7)], schema.geometry_types)
    rep.add("error", "geometry-type",
            Message("geometry is not {types}", types=_either(schema.geometry_types)),
            Message("check the file holds the right layer"), mask=wrong)
    nverts = shapely.get_num_coordinates(geoms)
    huge = nverts > schema.max_vertices
    rep.add("error", "vertices",
            Message("geometry has more than {n} vertices", n=int(schema.max_vertices)),
            Message("simplify it before import"), mask=huge)
    usable = ~missing & ~huge
    coords, index = shapely.get_coordinates(np.where(usable, geoms, None), return_index=True)
    bad_coords = _check_coordinates(coords, index, len(geoms), rep)
    return _repair(gdf.geometry, usable & ~wrong & ~bad_coords, schema, rep)


def _check_coordinates(coords: np.ndarray, index: np.ndarray, n: int,
                       rep: ValidationReport) -> np.ndarray:
    """Record NaN, out-of-range and swapped coordinates; return the rows that have any."""
    def per_row(flags: np.ndarray) -> np.ndarray:
        return np.bincount(index[flags], minlength=n) > 0

    x, y = coords[:, 0], coords[:, 1]
    nonfinite = per_row(~np.isfinite(coords).all(axis=1))
    rep.add("error", "coordinates", Message("coordinate is NaN or infinite"),
            Message("fix the source values"), mask=nonfinite)
    with np.errstate(invalid="ignore"):
        out = per_row(np.isfinite(x) & np.isfinite(y) & ((np.abs(x) > 180) | (np.abs(y) > 90)))
        swapped = per_row((np.abs(y) > 90) & (np.abs(y) <= 180) & (np.abs(x) <= 90))
    rep.add("error", "coordinates",
            Message("coordinates out of range for degrees (lon in [-180, 180], lat in [-90, 90])"),
            Message("are these metres (a projected CRS) or are lat/lon swapped? Reproject to "
                    "EPSG:4326"), mask=out & ~swapped)
    rep.add("error", "coordinates", Message("latitude beyond +/-90 but would fit as longitude"),
            Message("latitude and longitude columns look swapped: exchange them"), mask=swapped)
    _suspect_region_swap(x, y, rep)
    bad: np.ndarray = nonfinite | out | swapped
    return bad


def _suspect_region_swap(x: np.ndarray, y: np.ndarray, rep: ValidationReport) -> None:
    """Warn when most points fall outside the region but would fall inside it swapped."""
    if x.size == 0:
        return
    x0, y0, x1, y1 = REGION_BOUNDS
    with np.errstate(invalid="ignore"):
        inside = ((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)).mean()
        inside_swapped = ((y >= x0) & (y <= x1) & (x >= y0) & (x <= y1)).mean()
    if inside < 0.5 and inside_swapped > 0.5:
        rep.add("warning", "coordinates",
                Message("only {inside} of the coordinates fall in Latin America, {swapped} would "
                        "if latitude and longitude were exchanged", inside=f"{inside:.0%}",
                        swapped=f"{inside_swapped:.0%}"),
                Message("check the order of the coordinate columns (x = longitude, y = latitude)"))


def _repair(geoms: gpd.GeoSeries, usable: np.ndarray, schema: LayerSchema,
            rep: ValidationReport) -> gpd.GeoSeries:
    arr = geoms.to_numpy().copy()
    invalid = usable & ~shapely.is_valid(np.where(usable, arr, None))
    if not invalid.any():
        return geoms
    fixed = shapely.make_valid(arr[invalid])
    ok = np.isin(shapely.get_type_id(fixed), [_TYPE_IDS[t] for t in schema.geometry_types])
    ok &= ~shapely.is_empty(fixed)
    where = np.flatnonzero(invalid)
    arr[where[ok]] = fixed[ok]
    rep.add("warning", "geometry-valid", Message("invalid geometry repaired (make_valid)"),
            Message("check the repaired shape"), mask=_mask(len(arr), where[ok]))
    rep.add("error", "geometry-valid",
            Message("invalid geometry that cannot be repaired into {types}",
                    types=_either(schema.geometry_types)),
            Message("redraw it"), mask=_mask(len(arr), where[~ok]))
    return gpd.GeoSeries(arr, index=geoms.index, crs=geoms.crs)


_TYPE_IDS = {"Point": 0, "LineString": 1, "Polygon": 3, "MultiPoint": 4,
             "MultiLineString": 5, "MultiPolygon": 6}


def _mask(n: int, idx: np.ndarray) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    m[idx] = True
    return m


def check_layer(gdf: gpd.GeoDataFrame, schema: LayerSchema, *,
                source: str = "<memory>") -> tuple[gpd.GeoDataFrame, ValidationReport]:
    """Compare ``gdf`` with ``schema``; return the coerced frame and the full report.

    Never raises for bad data: every problem goes into the report. The returned frame has the
    contract's columns first (coerced: floats, UTC datetimes, strings), then any extra columns,
    and the (possibly repaired) geometry. It is only trustworthy when ``report.ok``.
    """
    rep = ValidationReport(schema.name, source, n_rows=len(gdf))
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        rep.add("error", "geometry", Message("the data has no geometry column"),
                Message("give it coordinates (lon/lat columns, WKT or a spatial file)"))
        return gdf, rep
    if gdf.crs is None:
        rep.add("error", "crs", Message("no CRS declared; expected EPSG:4326"),
                Message("declare the CRS of the source; coordinates are never guessed"))
    elif gdf.crs.to_epsg() != 4326:
        rep.add("error", "crs", Message("CRS is {crs}, expected EPSG:4326",
                                        crs=gdf.crs.to_string()),
                Message("reproject to EPSG:4326 (lon/lat degrees) first"))
    data = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).reset_index(drop=True)
    out: dict[str, pd.Series] = {}
    for col in schema.columns:
        if col.name not in data.columns:
            if col.required:
                rep.add("error", "column",
                        Message("required column {column} is absent", column=repr(col.name)),
                        Message("add it ({what})", what=col.doc or KIND_WORDS[col.kind]),
                        column=col.name)
            continue
        coerced = _check_column(data, col, rep)
        if coerced is not None:
            out[col.name] = coerced
    _check_order(out, rep)
    geometry = _check_geometry(gdf.reset_index(drop=True), schema, rep)
    extra = {c: data[c] for c in data.columns if c not in out and c not in schema.column_names}
    clean = gpd.GeoDataFrame({**out, **extra}, geometry=geometry.values, crs=gdf.crs)
    return clean, rep


def _check_order(cols: dict[str, pd.Series], rep: ValidationReport) -> None:
    if "first_seen" in cols and "last_seen" in cols:
        first, last = cols["first_seen"], cols["last_seen"]
        if isinstance(first.dtype, pd.DatetimeTZDtype) and isinstance(last.dtype,
                                                                    pd.DatetimeTZDtype):
            bad = (first > last).to_numpy(dtype=bool, na_value=False)
            rep.add("error", "order", Message("first_seen is after last_seen"),
                    Message("exchange the dates"), column="first_seen", mask=bad)


def validate_layer(gdf: gpd.GeoDataFrame, schema: LayerSchema | str, *,
                   source: str = "<memory>") -> gpd.GeoDataFrame:
    """Return ``gdf`` cleaned to ``schema`` or raise one SchemaError listing every problem.

    Parameters
    ----------
    gdf
        Layer in EPSG:4326.
    schema
        A :class:`LayerSchema` or the name of one (``"events"``, ``"routes"`` ...).
    source
        Where the data came from (file name), quoted in the error message.

    Raises
    ------
    SchemaError
        With ``.report`` holding the :class:`ValidationReport`; its message is the report's
        :meth:`~ValidationReport.format`, a :class:`~geo.message.Message`.
    """
    sch = SCHEMAS[schema] if isinstance(schema, str) else schema
    clean, rep = check_layer(gdf, sch, source=source)
    if not rep.ok:
        err = SchemaError(rep.format())
        err.report = rep  # type: ignore[attr-defined]
        raise err
    return clean


def validate_events(gdf: gpd.GeoDataFrame, *, source: str = "<memory>") -> gpd.GeoDataFrame:
    """Validate an events layer (points); see :func:`validate_layer`."""
    return validate_layer(gdf, EVENTS, source=source)


def validate_routes(gdf: gpd.GeoDataFrame, *, source: str = "<memory>") -> gpd.GeoDataFrame:
    """Validate a routes layer (lines, origin to destination); see :func:`validate_layer`."""
    return validate_layer(gdf, ROUTES, source=source)


def validate_candidates(gdf: gpd.GeoDataFrame, *, source: str = "<memory>") -> gpd.GeoDataFrame:
    """Validate runway candidates (oriented rectangles); see :func:`validate_layer`."""
    return validate_layer(gdf, CANDIDATES, source=source)


def validate_aerodromes(gdf: gpd.GeoDataFrame, *, source: str = "<memory>") -> gpd.GeoDataFrame:
    """Validate registered aerodromes (points); see :func:`validate_layer`."""
    return validate_layer(gdf, AERODROMES, source=source)


def validate_areas(gdf: gpd.GeoDataFrame, *, source: str = "<memory>") -> gpd.GeoDataFrame:
    """Validate areas of interest (polygons); see :func:`validate_layer`."""
    return validate_layer(gdf, AREAS, source=source)


def validate_scenes(gdf: gpd.GeoDataFrame, *, source: str = "<memory>") -> gpd.GeoDataFrame:
    """Validate an imagery catalogue (footprint polygons); see :func:`validate_layer`."""
    return validate_layer(gdf, SCENES, source=source)


def layer_names() -> Sequence[str]:
    """Names of every layer with a contract."""
    return tuple(SCHEMAS)
