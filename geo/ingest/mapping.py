"""Which source column feeds which field of a layer contract, with units and defaults.

:func:`propose_mapping` guesses from column names (English, Spanish, Portuguese) and, for
coordinates, from value ranges; the user corrects it on the import page; :func:`save_mapping`
keeps it per partner under ``<data>/mappings/<partner>.json`` for the next file.
"""

from __future__ import annotations

import json
import zoneinfo
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geo.atomicfile import write_atomic
from geo.categories import normalise_name
from geo.errors import ConfigError
from geo.i18n import Message, message_of
from geo.imagery import BandRoles
from geo.ingest.errors import MappingError
from geo.ingest.parse import _fast_numbers
from geo.ingest.readers import Source
from geo.schema import REGION_BOUNDS, SCHEMAS

#: Pseudo-fields that give the location when the file has no geometry of its own.
GEOMETRY_FIELDS = ("latitude", "longitude", "wkt", "coordinates")
#: Quantity units and their factor to kilograms.
UNITS: dict[str, float] = {"kg": 1.0, "g": 0.001, "t": 1000.0, "lb": 0.45359237}
MAPPINGS_DIR = "mappings"
MAX_MAPPING_BYTES = 64 * 1024
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "event_id": ("event_id", "id_evento", "case_id", "codigo", "code", "nro", "numero", "id"),
    "occurred_at": ("occurred_at", "fecha_hora", "data_hora", "fecha", "data", "date",
                    "datetime", "timestamp", "when", "dia"),
    "event_type": ("event_type", "tipo_evento", "tipo", "type", "evento", "event"),
    "commodity": ("commodity", "droga", "sustancia", "substancia", "producto", "produto",
                  "mercancia", "mercancias", "mercadoria", "mercadorias", "carga", "cargo",
                  "product", "goods", "drug"),
    "quantity_kg": ("quantity_kg", "cantidad_kg", "quantidade_kg", "peso_kg", "kg", "quantity",
                    "cantidad", "quantidade", "peso", "weight", "amount"),
    "country": ("country", "pais", "country_code", "iso2", "iso"),
    "source": ("source", "fuente", "fonte", "agency", "agencia", "institucion", "reported_by"),
    "confidence": ("confidence", "confianza", "confianca", "certainty", "reliability"),
    "description": ("description", "descripcion", "descricao", "observaciones", "observacoes",
                    "notes", "notas", "details", "detalle", "comment"),
    "route_id": ("route_id", "id_ruta", "id_rota", "ruta", "rota", "route", "id"),
    "mode": ("mode", "modo", "medio", "transport"),
    "origin": ("origin", "origen", "origem", "from", "desde"),
    "destination": ("destination", "destino", "to", "hasta"),
    "first_seen": ("first_seen", "desde_fecha", "inicio", "start", "first"),
    "last_seen": ("last_seen", "hasta_fecha", "fin", "end", "last"),
    "volume_kg_year": ("volume_kg_year", "volumen", "volume", "kg_year"),
    "ident": ("ident", "icao", "airstrip_id", "codigo_oaci", "oaci", "code", "codigo", "id"),
    "name": ("name", "nombre", "nome", "title", "titulo"),
    "runway_length_m": ("runway_length_m", "length_m", "largo", "longitud", "comprimento",
                        "length", "runway_length"),
    "surface": ("surface", "superficie", "superficie_pista"),
    "iata": ("iata",),
    "kind": ("kind", "type", "tipo", "class", "clase"),
    "area_id": ("area_id", "id_area", "id"),
    "created_at": ("created_at", "fecha", "data", "date"),
    "created_by": ("created_by", "autor", "author", "user", "usuario"),
    "latitude": ("latitude", "latitud", "lat", "lat_dd", "y", "coord_y"),
    "longitude": ("longitude", "longitud", "long", "lon", "lng", "lon_dd", "x", "coord_x"),
    "wkt": ("wkt", "geometry", "geom", "the_geom", "geometria", "shape"),
    "coordinates": ("coordinates", "coordenadas", "coords", "location", "ubicacion",
                    "localizacao", "lat_lon", "latlon", "posicion"),
}


@dataclass
class Mapping:
    """Column mapping for one layer.

    Attributes
    ----------
    layer
        Contract name (``events``, ``routes``, ``areas``, ``aerodromes``, ``scenes``).
    fields
        Contract field (or one of :data:`GEOMETRY_FIELDS`) -> source column name.
    defaults
        Contract field -> text used when the column is absent or the cell is empty.
    quantity_unit
        Unit of ``quantity_kg``/``volume_kg_year`` in the source: ``kg``, ``g``, ``t``, ``lb``.
    dayfirst
        ``True`` reads 05/03/2024 as 5 March (Latin America), ``False`` as May 3, ``None``
        decides from the data (day-first when ambiguous).
    timezone
        IANA time zone of times written without an offset.
    values
        Contract field -> {source value: contract value}, e.g. ``{"event_type":
        {"Decomiso": "seizure"}}``.
    bands
        Scenes only: band role (``blue``, ``green``, ``red``, ``nir``, ``swir1``, ``swir2``,
        ``scl``, ``cloud``) -> 1-based band index, for files whose band descriptions do not
        name them. Given, it replaces the names the descriptions give (as ``--bands`` does
        for ``geo.detect``), and the stored copy carries them as its band descriptions.
    """

    layer: str
    fields: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    quantity_unit: str = "kg"
    dayfirst: bool | None = None
    timezone: str = "UTC"
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    bands: dict[str, int] = field(default_factory=dict)

    def targets(self) -> tuple[str, ...]:
        """Every field this layer's mapping may name (contract fields, then location)."""
        return (*SCHEMAS[self.layer].column_names, *GEOMETRY_FIELDS)

    def check(self, columns: list[str] | None = None) -> Mapping:
        """Raise :class:`MappingError` for unknown fields, columns, units or time zone."""
        if self.layer not in SCHEMAS or self.layer == "candidates":
            raise MappingError(Message("unknown layer {layer}; expected events, routes, areas, "
                                       "aerodromes or scenes", layer=repr(self.layer)))
        unknown = sorted(set(self.fields) | set(self.defaults) | set(self.values)
                         - set(self.targets()))
        unknown = [u for u in unknown if u not in self.targets()]
        if unknown:
            raise MappingError(Message("the mapping names unknown field(s) {fields} for the "
                                       "{layer} layer; expected some of {expected}",
                                       fields=str(unknown), layer=self.layer,
                                       expected=str(list(self.targets()))))
        if columns is not None:
            absent = sorted(c for c in self.fields.values() if c not in columns)
            if absent:
                raise MappingError(Message("the mapping uses column(s) {absent} that the file "
                                           "does not have; it has {columns}",
                                           absent=str(absent), columns=str(columns[:30])))
        self._check_bands()
        if self.quantity_unit not in UNITS:
            raise MappingError(Message("unknown quantity unit {unit}; expected one of {units}",
                                       unit=repr(self.quantity_unit), units=", ".join(UNITS)))
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise MappingError(Message("unknown time zone {zone}; write e.g. UTC or "
                                       "America/Lima", zone=repr(self.timezone))) from None
        return self

    def _check_bands(self) -> None:
        """Raise :class:`MappingError` for band roles on another layer, unknown or repeated."""
        if not self.bands:
            return
        if self.layer != "scenes":
            raise MappingError(Message("band roles are for scenes, not the {layer} layer",
                                       layer=self.layer))
        try:
            BandRoles.from_mapping(self.bands)
        except ConfigError as exc:
            raise MappingError(message_of(exc)) from None

    def to_json(self) -> str:
        """Serialise (stable key order)."""
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Mapping:
        """Read back what :meth:`to_json` wrote; :class:`MappingError` on anything else."""
        try:
            raw = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise MappingError(Message("the mapping file is not JSON ({cause})",
                                       cause=str(exc))) from None
        if not isinstance(raw, dict) or not isinstance(raw.get("layer"), str):
            raise MappingError(Message("the mapping file must be a JSON object with a 'layer'"))
        return cls(layer=raw["layer"], fields=_str_dict(raw.get("fields"), "fields"),
                   defaults=_str_dict(raw.get("defaults"), "defaults"),
                   quantity_unit=str(raw.get("quantity_unit", "kg")),
                   dayfirst=_opt_bool(raw.get("dayfirst")),
                   timezone=str(raw.get("timezone", "UTC")),
                   values={str(k): _str_dict(v, f"values.{k}")
                           for k, v in _dict(raw.get("values"), "values").items()},
                   bands=dict(_dict(raw.get("bands"), "bands"))).check()


def _dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MappingError(Message("mapping '{key}' must be an object", key=what))
    return value


def _str_dict(value: Any, what: str) -> dict[str, str]:
    out = _dict(value, what)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in out.items()):
        raise MappingError(Message("mapping '{key}' must map text to text", key=what))
    return dict(out)


def _opt_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise MappingError(Message("mapping 'dayfirst' must be true, false or null"))


def _match(columns: list[str], target: str, taken: set[str]) -> str | None:
    norm = {c: normalise_name(c) for c in columns if c not in taken}
    for syn in _SYNONYMS.get(target, (target,)):
        for col, n in norm.items():
            if n == syn:
                return col
    if len(target) > 3:
        for col, n in norm.items():
            if target in n.split("_") or n.startswith(target):
                return col
    return None


def propose_mapping(source: Source, layer: str) -> Mapping:
    """Guess a mapping from column names (and value ranges for coordinates).

    Required fields with no column get a default where one is sensible (``source``: the file
    name, ``confidence``: 0.5, ``commodity``: unknown); the user reviews everything.
    """
    if layer == "scenes":
        return Mapping("scenes", fields={c: c for c in source.columns if c in SCHEMAS[layer]
                                         .column_names}).check()
    cols = source.columns
    taken: set[str] = set()
    fields: dict[str, str] = {}
    targets = list(SCHEMAS[layer].column_names)
    if source.geometry is None:
        targets = ["latitude", "longitude", *targets]
    for target in targets:
        col = _match(cols, target, taken)
        if col is not None:
            fields[target] = col
            taken.add(col)
    if source.geometry is None and not {"latitude", "longitude"} <= set(fields):
        fields.pop("latitude", None)
        fields.pop("longitude", None)
        pair = _by_value_range(source, [c for c in cols if c not in taken])
        if pair is not None:
            fields["latitude"], fields["longitude"] = pair
        else:
            for target in ("wkt", "coordinates"):
                col = _match(cols, target, set(fields.values()))
                if col is not None:
                    fields[target] = col
                    break
    return Mapping(layer, fields=fields, defaults=_defaults(layer, source, fields)).check(cols)


def _defaults(layer: str, source: Source, fields: dict[str, str]) -> dict[str, str]:
    wanted = {"source": Path(source.name).stem[:80], "confidence": "0.5",
              "commodity": "unknown", "name": Path(source.name).stem[:80]}
    names = SCHEMAS[layer].column_names
    return {k: v for k, v in wanted.items() if k in names and k not in fields}


def _by_value_range(source: Source, cols: list[str]) -> tuple[str, str] | None:
    """Return the (lat, lon) column pair whose values put most rows in Latin America."""
    sample = source.table.head(2000)
    numeric = {}
    for c in cols[:40]:
        v = _fast_numbers(sample[c])
        if np.isfinite(v).mean() > 0.9:
            numeric[c] = v
    x0, y0, x1, y1 = REGION_BOUNDS
    best, best_share = None, 0.5
    for lat_col, lat in numeric.items():
        for lon_col, lon in numeric.items():
            if lat_col == lon_col:
                continue
            with np.errstate(invalid="ignore"):
                share = float(((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)).mean())
            if share > best_share:
                best, best_share = (lat_col, lon_col), share
    return best


def mapping_path(data_dir: Path, partner: str) -> Path:
    """Where the mapping of ``partner`` is kept (name made safe: letters, digits, -, _).

    Examples
    --------
    >>> mapping_path(Path("data"), "../Policía Nacional/PE").as_posix()
    'data/mappings/policia_nacional_pe.json'
    """
    safe = normalise_name(partner)[:60]
    if not safe:
        raise MappingError(Message("partner name {partner} has no letters or digits",
                                   partner=repr(partner[:40])))
    return data_dir / MAPPINGS_DIR / f"{safe}.json"


def save_mapping(mapping: Mapping, data_dir: Path, partner: str) -> Path:
    """Write ``mapping`` for ``partner`` atomically; return the path."""
    path = mapping_path(data_dir, partner)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, mapping.check().to_json())
    return path


def load_mapping(source: Path | str, *, data_dir: Path | None = None) -> Mapping:
    """Read a mapping from a file path, or by partner name when ``data_dir`` is given.

    Raises
    ------
    MappingError
        Absent, too large, or not a valid mapping.
    """
    path = mapping_path(data_dir, str(source)) if data_dir is not None else Path(source)
    try:
        if path.stat().st_size > MAX_MAPPING_BYTES:
            raise MappingError(Message("{name} is too large to be a mapping", name=path.name))
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(Message("cannot read the mapping {name} ({cause})", name=path.name,
                                   cause=exc.__class__.__name__)) from None
    return Mapping.from_json(text)


def list_mappings(data_dir: Path) -> list[str]:
    """Partner names (file stems) with a saved mapping, sorted."""
    folder = data_dir / MAPPINGS_DIR
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
