"""What a snapshot holds: :class:`SnapshotSpec` (filters, extent, layers, formats, marking).

A spec is frozen and validates itself, so the CLI, the export panel and a notebook that build
the same spec get the same snapshot. The filters are the explorer's own
(:class:`geo.filters.Filters`); the extent, when given, also narrows every layer (a snapshot
is what the analyst *sees*) and frames the map.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry import mapping, shape

from geo.errors import ExportError
from geo.filters import Filters
from geo.i18n import marked
from geo.message import Message

__all__ = [
    "DEFAULT_MARKING",
    "FORMATS",
    "LAYERS",
    "RENDERED_FORMATS",
    "VECTOR_FORMATS",
    "SnapshotSpec",
    "filters_from_json",
    "filters_to_json",
    "parse_formats",
]

#: Every format, in the order they are written (PNG before PDF: the briefing reuses the map).
#: ``kml`` writes both the plain KML and the KMZ (the same document zipped, with its icon).
FORMATS: tuple[str, ...] = ("gpkg", "geojson", "kml", "csv", "xlsx", "shp", "html", "png", "pdf")
VECTOR_FORMATS = frozenset({"gpkg", "geojson", "kml", "csv", "xlsx", "shp"})
#: Formats drawn by headless Chromium (they fail with a clear message when it is absent).
RENDERED_FORMATS = frozenset({"png", "pdf"})
#: Layers a snapshot may hold, in drawing order of the map legend.
LAYERS: tuple[str, ...] = ("events", "routes", "candidates", "aerodromes", "scenes")
DEFAULT_LAYERS: tuple[str, ...] = ("events", "routes", "candidates", "aerodromes")
#: The marking when none is typed (the export panel offers it in the page's language).
DEFAULT_MARKING = marked("UNCLASSIFIED // FOR OFFICIAL USE")
MAX_TITLE = 200
MAX_PIXELS = 8000  # per side of the PNG, after the DPI scale


def parse_formats(text: str | Sequence[str]) -> tuple[str, ...]:
    """Return the formats named in ``text`` (comma-separated or a sequence), in canonical order.

    Examples
    --------
    >>> parse_formats("pdf, gpkg,GPKG")
    ('gpkg', 'pdf')
    """
    items = text.split(",") if isinstance(text, str) else list(text)
    asked = {s.strip().lower() for s in items if s.strip()}
    unknown = sorted(asked - set(FORMATS))
    if unknown:
        raise ExportError(Message("unknown format(s) {formats}; expected some of {expected}",
                                  formats=", ".join(unknown), expected=",".join(FORMATS)))
    if not asked:
        raise ExportError(Message("no format given; expected some of {expected}",
                                  expected=",".join(FORMATS)))
    return tuple(f for f in FORMATS if f in asked)


@dataclass(frozen=True)
class SnapshotSpec:
    """Everything that decides a snapshot's content; frozen and validated.

    Parameters
    ----------
    filters
        The explorer's filters (time window, types, countries ..., area of interest).
    bbox
        Map extent ``(west, south, east, north)`` in degrees (EPSG:4326). Layers are narrowed
        to it and the map is framed on it; ``None``: the whole region, nothing clipped.
    layers
        Layers to include, among :data:`LAYERS`.
    formats
        Formats to write, among :data:`FORMATS`.
    title
        Shown on the map, the PNG and the PDF, and in the manifest.
    classification
        Marking printed top and bottom of every page and image.
    user
        Who asked for the snapshot (recorded in the manifest).
    language
        ``en``, ``es`` or ``pt``: words of the PDF, the map and the filter summary.
    labels
        Translated map labels (``ui.labels.map_labels``); English/translated defaults if None.
    width_px, height_px, dpi
        Size of the PNG map in CSS pixels and its resolution (96 dpi = one device pixel per
        CSS pixel; 192 dpi doubles the pixels).
    """

    filters: Filters = field(default_factory=Filters)
    bbox: tuple[float, float, float, float] | None = None
    layers: tuple[str, ...] = DEFAULT_LAYERS
    formats: tuple[str, ...] = ("gpkg", "geojson", "csv")
    title: str = "Atalaya snapshot"
    classification: str = DEFAULT_MARKING
    user: str = "unknown"
    language: str = "en"
    labels: Mapping[str, str] | None = field(default=None, compare=False, hash=False)
    width_px: int = 1600
    height_px: int = 1000
    dpi: int = 150
    #: Events moved to the centre of cells this many degrees wide (for a role without clearance
    #: for precise locations, ``geo.auth.precision``); None keeps them exact.
    location_cell_deg: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "formats", parse_formats(self.formats))
        unknown = sorted(set(self.layers) - set(LAYERS))
        if unknown:
            raise ExportError(Message("unknown layer(s) {layers}; expected some of {expected}",
                                      layers=", ".join(unknown), expected=",".join(LAYERS)))
        if not self.layers:
            raise ExportError(Message("no layer chosen; expected some of {expected}",
                                      expected=",".join(LAYERS)))
        object.__setattr__(self, "layers", tuple(x for x in LAYERS if x in self.layers))
        if self.bbox is not None:
            object.__setattr__(self, "bbox", tuple(float(v) for v in self.bbox))
            Filters(bounds=self.bbox)  # same checks as the explorer's: range, order, finite
        for name, text in (("title", self.title), ("classification", self.classification),
                           ("user", self.user)):
            if not isinstance(text, str) or len(text) > MAX_TITLE or any(
                    ord(c) < 32 for c in text):
                raise ExportError(_not_one_line(name))
        if self.language not in ("en", "es", "pt"):
            raise ExportError(f"language {self.language!r}: expected en, es or pt")
        if not (1 <= self.dpi <= 600):
            raise ExportError(Message("dpi {dpi} is outside 1-600", dpi=str(self.dpi)))
        cell = self.location_cell_deg
        if cell is not None and not (isinstance(cell, int | float) and 0 < cell <= 10):
            raise ExportError(f"location_cell_deg {cell!r}: expected degrees in (0, 10] or None")
        for name in ("width_px", "height_px"):
            value = int(getattr(self, name))
            if not (value >= 200 and value * self.dpi / 96 <= MAX_PIXELS):
                # str values: the English keeps "4000" and "8000" ungrouped, as before
                raise ExportError(Message("{name}={value} at {dpi} dpi is outside 200 px - "
                                          "{most} device pixels", name=name, value=str(value),
                                          dpi=str(self.dpi), most=str(MAX_PIXELS)))

    @property
    def effective_filters(self) -> Filters:
        """The filters with the extent as their ``bounds`` (what every layer is narrowed by)."""
        if self.bbox is None:
            return self.filters
        return Filters(**{**_fields(self.filters), "bounds": self.bbox})

    def to_json(self) -> dict[str, Any]:
        """Return the spec as JSON-ready data (the manifest's ``spec``)."""
        return {"filters": filters_to_json(self.filters),
                "bbox": None if self.bbox is None else list(self.bbox),
                "layers": list(self.layers), "formats": list(self.formats),
                "title": self.title, "classification": self.classification, "user": self.user,
                "language": self.language, "width_px": self.width_px,
                "height_px": self.height_px, "dpi": self.dpi,
                "location_cell_deg": self.location_cell_deg}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SnapshotSpec:
        """Rebuild a spec from :meth:`to_json` output (reopening an earlier snapshot)."""
        bbox = data.get("bbox")
        return cls(filters=filters_from_json(data.get("filters") or {}),
                   bbox=None if bbox is None else (bbox[0], bbox[1], bbox[2], bbox[3]),
                   layers=tuple(data.get("layers", DEFAULT_LAYERS)),
                   formats=tuple(data.get("formats", ("gpkg",))),
                   title=str(data.get("title", "Atalaya snapshot")),
                   classification=str(data.get("classification", DEFAULT_MARKING)),
                   user=str(data.get("user", "unknown")),
                   language=str(data.get("language", "en")),
                   width_px=int(data.get("width_px", 1600)),
                   height_px=int(data.get("height_px", 1000)), dpi=int(data.get("dpi", 150)),
                   location_cell_deg=data.get("location_cell_deg"))


def _not_one_line(name: str) -> Message:
    """Return the refusal of a title, marking or user name too long or with a line break."""
    if name == "title":
        return Message("title must be one line of at most {most} characters", most=MAX_TITLE)
    if name == "classification":
        return Message("classification must be one line of at most {most} characters",
                       most=MAX_TITLE)
    return Message("user must be one line of at most {most} characters", most=MAX_TITLE)


def _fields(filters: Filters) -> dict[str, Any]:
    return {name: getattr(filters, name) for name in filters.__dataclass_fields__}


def filters_to_json(filters: Filters) -> dict[str, Any]:
    """Return ``filters`` as JSON-ready data (times ISO 8601 UTC, the area as GeoJSON).

    Examples
    --------
    >>> filters_to_json(Filters(event_types=["seizure"], min_confidence=0.5))["event_types"]
    ['seizure']
    """
    out: dict[str, Any] = {}
    for name, value in _fields(filters).items():
        if isinstance(value, datetime):
            out[name] = value.isoformat()
        elif name == "aoi" and value is not None:
            out[name] = mapping(value)
        elif isinstance(value, tuple):
            out[name] = list(value)
        else:
            out[name] = value
    return out


def filters_from_json(data: Mapping[str, Any]) -> Filters:
    """Inverse of :func:`filters_to_json`; raises ``SchemaError`` on values out of range."""
    kwargs: dict[str, Any] = {}
    for name in Filters.__dataclass_fields__:
        value = data.get(name)
        if value is None:
            continue
        if name in ("start", "end"):
            kwargs[name] = datetime.fromisoformat(str(value))
        elif name == "aoi":
            kwargs[name] = shapely.make_valid(shape(value))
        elif name == "bounds":
            kwargs[name] = tuple(float(v) for v in value)
        elif name in ("min_confidence", "min_score"):
            kwargs[name] = float(value) if math.isfinite(float(value)) else 0.0
        else:
            kwargs[name] = tuple(str(v) for v in value)
    return Filters(**kwargs)
