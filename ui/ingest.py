"""The import page: bring a partner's file into a layer of the data folder.

The steps follow :mod:`geo.ingest` one call each: the uploaded bytes are received (size cap,
server-made name) and read in a capped worker process once per file; the first rows are shown
as text; the proposed column mapping is edited with one selectbox per contract field (plus
units, dates, time zone and default values) and can be saved for the partner and loaded for
their next file; "Validate" shows the report (counts, reasons, rejected rows to download,
warnings) and the rows already stored; "Import" stores the accepted rows, all or nothing, and
the explorer sees them through :func:`geo.world.data_version`.

Satellite scenes (GeoTIFFs) are stored by a background ``ingest`` job (:mod:`geo.jobs`), not in
the page's script thread: "Import" keeps a copy of the file under ``<data>/uploads/<sha256>/``
(:func:`geo.ingest.keep_upload`) and submits the job with the validated mapping; the page then
follows the job (progress, Cancel for its creator, the outcome), also after a reload. The job
removes the kept copy when it ends; the page removes it too when it finds the job ended without
running (cancelled while queued). Tables (events, routes, areas, aerodromes) are already read
and validated in memory when "Import" is pressed, and storing them is one quick write: they
are stored at once, in the script thread.

Every refusal (a :class:`geo.errors.AtalayaError` or an ``OSError``) is shown as a message and
the page goes on. The received file stays in this session until it is imported or replaced;
it is removed then, or when the session ends.
"""

from __future__ import annotations

import math
import shutil
import weakref
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from rasterio.errors import RasterioError
from sqlalchemy.exc import SQLAlchemyError

from geo.errors import AtalayaError
from geo.i18n import Message, Translator, localize, message_of, replace_values
from geo.imagery import ROLES, open_geotiff
from geo.ingest import (
    GEOMETRY_FIELDS,
    LAYERS,
    UNITS,
    Duplicates,
    ImportReport,
    Limits,
    Mapping,
    Source,
    Upload,
    commit,
    discard_kept_upload,
    find_duplicates,
    keep_upload,
    layer_path,
    list_mappings,
    load_limits,
    load_mapping,
    name_stored_bands,
    propose_mapping,
    read_existing,
    read_source_isolated,
    receive_file,
    save_mapping,
    validate_isolated,
)
from geo.ingest.dedupe import ID_COLUMNS as ID_FIELDS
from geo.ingest.report import REASON_KINDS
from geo.ingest.scenes import BANDS_UNNAMED, band_descriptions, detectable
from geo.ingest.upload import EXTENSIONS
from geo.jobs import ACTIVE_STATES, ingest_params, list_jobs
from geo.schema import SCHEMAS
from geo.store import default_url
from ui import state
from ui.cache import get_settings, open_store_cached
from ui.jobs import ask_job, follow_job
from ui.labels import band_names, map_labels
from ui.sidebar import current_translator, relabelled
from ui.text import escape_markdown as _plain  # a file's own text, shown as typed
from ui.text import shown as _shown
from ui.uploads import file_uploader

__all__ = ["render_ingest"]

# Session-state and widget keys of this page (to join ui/state.py).
LAYER = "ingest_layer"
FILE = "ingest_file"  # + ":<n>": a new n empties the uploader after an import
FILE_NONCE = "ingest_file_nonce"
LOADED = "ingest_loaded"  # the received file and what was read from it (_Loaded)
REFUSED = "ingest_refused"  # (file id, message): a refused file is not read again each run
MAPPING = "ingest_mapping"  # the mapping the editor starts from
MAPPING_REV = "ingest_mapping_rev"  # in the editor's keys: a new mapping redraws it
REPORT = "ingest_report"  # _Checked of the last validation
RESULT = "ingest_result"  # message of the last import, shown once
NOTICE = "ingest_notice"  # (kind, message) from a callback, shown once
USER = "ingest_user"
PARTNER = "ingest_partner"
SAVED = "ingest_saved"
SAVE = "ingest_save"
FIELD = "ingest_field"  # + ":<rev>:<field>"
DEFAULT = "ingest_default"  # + ":<rev>:<field>"
BAND = "ingest_band"  # + ":<rev>:<band index>": a scene's band roles
STORED_SCENE = "ingest_stored_scene"  # the stored scene whose bands are named
STORED_BAND = "ingest_stored_band"  # + ":<scene id>:<band index>"
SAVE_BANDS = "ingest_save_bands"
UNIT = "ingest_unit"  # + ":<rev>"
DAYFIRST = "ingest_dayfirst"  # + ":<rev>"
TIMEZONE = "ingest_timezone"  # + ":<rev>"
VALIDATE = "ingest_validate"
KEEP_DUPLICATES = "ingest_keep_duplicates"
DOWNLOAD = "ingest_download_rejected"
IMPORT = "ingest_import"
SCENE_JOB = "ingest_scene_job"  # ui.jobs.ask_job's answer for this session's scene import

SHOWN_ROWS = 1000  # rejected rows and duplicate pairs shown on the page (the CSV has all)
MB = 1024**2


@dataclass
class _Loaded:
    """A received upload and its source, kept until imported or replaced."""

    file_id: str
    upload: Upload
    source: Source


@dataclass
class _Checked:
    """A validation report, the duplicates found, and what it was made from."""

    signature: str
    report: ImportReport
    duplicates: Duplicates
    #: The rejected rows as CSV, per language: made once, not on every run of the page
    #: (writing 100,000 reasons in Spanish takes over a second).
    csv: dict[str, bytes] = field(default_factory=dict)

    def rejected_csv(self, t: Translator) -> bytes:
        """Return the rejected rows as CSV in ``t``'s language (made on first use)."""
        if t.language not in self.csv:
            self.csv[t.language] = self.report.rejected_csv(t)
        return self.csv[t.language]


def _layer_names(t: Translator) -> dict[str, str]:
    return {"events": t("Events"), "routes": t("Routes"), "areas": t("Areas of interest"),
            "aerodromes": t("Aerodromes and airstrips"), "scenes": t("Satellite scenes")}


def render_ingest() -> None:
    """Draw the import page: file, preview, mapping, validation report, import."""
    t = current_translator()
    st.title(t("Import data"))
    st.caption(t("Nothing is stored until you press Import, and then all accepted rows of "
                 "the file or none."))
    _show_notices(t)
    try:
        limits = load_limits()
    except AtalayaError as err:
        st.error(_shown(err, t))
        return
    data_dir = get_settings().data_dir
    user = _user(t)
    _follow_scene_job(data_dir, user, t)
    names = _layer_names(t)
    layer = st.selectbox(t("Layer"), options=list(LAYERS), format_func=names.__getitem__,
                         key=relabelled(LAYER))
    _partner(data_dir, t)
    loaded = _receive(_uploader(limits, t), limits, t)
    if loaded is None:
        if layer == "scenes":
            _stored_band_editor(data_dir, user, t)
        return
    _describe(loaded, t)
    try:
        base = _base_mapping(loaded.source, layer, data_dir, t)
    except AtalayaError as err:
        st.error(_shown(err, t))
        return
    mapping = _mapping_editor(base, loaded.source, t)
    if mapping.layer == "scenes":
        bands = _band_editor(base, loaded.source, t)
        if bands is None:
            return
        mapping = replace(mapping, bands=bands)
    if st.button(t("Save mapping for this partner"), key=SAVE):
        _save(mapping, data_dir, t)
    _validate_and_import(loaded, mapping, data_dir, user, limits, t)


def _show_notices(t: Translator) -> None:
    result = st.session_state.pop(RESULT, None)
    if result:
        st.success(_plain(result))
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        kind, message = notice
        (st.error if kind == "error" else st.success)(_shown(message, t))


def _user(t: Translator) -> str:
    """Return the name recorded as ``imported_by``: the reviewer's, or one typed here."""
    reviewer = str(st.session_state.get(state.REVIEWER, "") or "").strip()
    if reviewer:
        st.caption(t("Imports are recorded under {name}.").format(name=_plain(reviewer)))
        return reviewer[:80]
    typed = st.text_input(t("Your name"), key=USER, max_chars=80,
                          help=t("Recorded with every row you import."))
    return typed.strip()


def _uploader(limits: Limits, t: Translator) -> Any:
    cap_mb = max(1, math.floor(limits.max_upload_bytes / MB))
    server_mb = int(st.get_option("server.maxUploadSize"))
    nonce = int(st.session_state.get(FILE_NONCE, 0))
    return file_uploader(
        t, t("File"), type=sorted({ext.lstrip(".") for ext in EXTENSIONS}),
        key=f"{FILE}:{nonce}", max_mb=min(cap_mb, server_mb),
        help=t("CSV, Excel, GeoJSON, KML/KMZ, zipped shapefile, GeoPackage, GeoParquet, or "
               "GeoTIFF for scenes."))


def _forget() -> None:
    """Drop this session's file, its report and mapping, and remove the received bytes."""
    old = st.session_state.pop(LOADED, None)
    if isinstance(old, _Loaded):
        old.upload.close()
    for key in (MAPPING, REPORT):
        st.session_state.pop(key, None)


def _receive(uploaded: Any, limits: Limits, t: Translator) -> _Loaded | None:
    """Receive and read a newly chosen file once; return what is held for this session."""
    if uploaded is None:
        _forget()
        return None
    held = st.session_state.get(LOADED)
    if isinstance(held, _Loaded) and held.file_id == uploaded.file_id:
        return held
    refused = st.session_state.get(REFUSED)
    if refused is not None and refused[0] == uploaded.file_id:
        st.error(t("The file was refused: {reason}").format(reason=_shown(refused[1], t)))
        return None
    _forget()
    upload = None
    try:
        with st.spinner(t("Reading the file...")):
            upload = receive_file(uploaded, name=uploaded.name, limits=limits)
            source = read_source_isolated(upload, limits=limits)
    except (AtalayaError, OSError) as err:
        if upload is not None:
            upload.close()
        # the message, not its text: shown again in the language of the next run
        st.session_state[REFUSED] = (uploaded.file_id, message_of(err))
        st.error(t("The file was refused: {reason}").format(reason=_shown(err, t)))
        return None
    # removed with the session's state if it is never imported
    weakref.finalize(upload, shutil.rmtree, upload.workdir, True)
    loaded = _Loaded(uploaded.file_id, upload, source)
    st.session_state[LOADED] = loaded
    return loaded


def _describe(loaded: _Loaded, t: Translator) -> None:
    src, up = loaded.source, loaded.upload
    st.caption(t("{name}: {format}, {size} MB, {rows} rows, SHA-256 {sha}").format(
        name=_plain(up.name), format=up.format.upper(), size=t.number(up.size / MB, digits=2),
        rows=t.number(len(src.table)), sha=up.sha256[:12]))
    for note in src.notes:
        st.info(_shown(note, t))
    st.subheader(t("First rows"))
    st.dataframe(src.preview(10), hide_index=True, placeholder="")


def _base_mapping(source: Source, layer: str, data_dir: Path, t: Translator) -> Mapping:
    """Return the mapping the editor starts from: the partner's saved one, or proposed."""
    held = st.session_state.get(MAPPING)
    if isinstance(held, Mapping) and held.layer == layer:
        return held
    partner = str(st.session_state.get(SAVED) or "")
    chosen = None
    if partner:
        try:
            saved = load_mapping(partner, data_dir=data_dir).check(source.columns)
        except AtalayaError as err:
            st.error(t("The saved mapping does not fit this file: {reason}").format(
                reason=_shown(err, t)))
        else:
            chosen = saved if saved.layer == layer else None
    chosen = chosen or propose_mapping(source, layer)
    _set_mapping(chosen)
    return chosen


def _set_mapping(mapping: Mapping) -> None:
    st.session_state[MAPPING] = mapping
    st.session_state[MAPPING_REV] = int(st.session_state.get(MAPPING_REV, 0)) + 1
    st.session_state.pop(REPORT, None)


def _partner(data_dir: Path, t: Translator) -> None:
    saved = list_mappings(data_dir) if data_dir.is_dir() else []
    left, right = st.columns(2)
    left.text_input(t("Partner"), key=PARTNER, max_chars=60,
                    help=t("Who sent the file; its mapping is saved under this name."))
    right.selectbox(t("Saved mappings"), options=["", *saved], key=relabelled(SAVED),
                    format_func=lambda s: s or t("(propose from the column names)"),
                    on_change=_load_saved, args=(data_dir,))


def _load_saved(data_dir: Path) -> None:
    """Choose a saved mapping (callback): its layer goes in the layer box, its name in Partner.

    The editor starts from it on the next run (:func:`_base_mapping`), checked against the
    file's columns.
    """
    st.session_state.pop(MAPPING, None)
    st.session_state.pop(REPORT, None)
    partner = str(st.session_state.get(SAVED) or "")
    if not partner:
        return
    try:
        mapping = load_mapping(partner, data_dir=data_dir)
    except AtalayaError as err:
        st.session_state[NOTICE] = ("error", message_of(err))
        return
    st.session_state[LAYER] = mapping.layer
    st.session_state[PARTNER] = partner


def _save(mapping: Mapping, data_dir: Path, t: Translator) -> None:
    partner = str(st.session_state.get(PARTNER, "")).strip()
    if not partner:
        st.error(t("Type the partner's name first."))
        return
    try:
        path = save_mapping(mapping, data_dir, partner)
    except (AtalayaError, OSError) as err:
        st.error(_shown(err, t))
        return
    st.success(t("Mapping saved for {partner} ({file}).").format(partner=_plain(partner),
                                                                 file=path.name))


def _mapping_editor(base: Mapping, source: Source, t: Translator) -> Mapping:
    """One selectbox per field, then units, dates and defaults; return the edited mapping."""
    rev = int(st.session_state.get(MAPPING_REV, 0))
    schema = SCHEMAS[base.layer]
    needed = {c.name for c in schema.columns if c.required and not c.nullable}
    targets = list(schema.column_names)
    st.subheader(t("Which column is which field"))
    if source.geometry is None:
        targets = [*GEOMETRY_FIELDS, *targets]
        st.caption(t("Locations come from latitude and longitude columns, a WKT column or a "
                     "coordinates column. Fields marked * need a column or a default value."))
    else:
        st.caption(t("Locations come from the file's own geometry. Fields marked * need a "
                     "column or a default value."))
    columns: list[str | None] = [None, *source.columns]
    fields: dict[str, str] = {}
    for i, target in enumerate(targets):
        if i % 3 == 0:  # a row of three per line, so a phone stacks them in order
            grid = st.columns(3)
        current = base.fields.get(target)
        absent = _absent_label(base, target, rev, t)
        label = field_label(target, t)
        chosen = grid[i % 3].selectbox(
            f"{label} *" if target in needed else label, options=columns,
            index=columns.index(current) if current in columns else 0,
            format_func=partial(_column_label, absent=absent),
            help=_field_help(schema, target, t),
            key=relabelled(f"{FIELD}:{rev}:{target}"))
        if chosen is not None:
            fields[target] = str(chosen)
    return replace(base, fields=fields, **_options(base, rev, t))


def _band_editor(base: Mapping, source: Source, t: Translator) -> dict[str, int] | None:
    """Scenes: one box per band of the file, with its role; return the roles to give them.

    The boxes start from the mapping's roles (a partner's saved mapping) or from those the
    band descriptions name. Returns ``{}`` while they are the descriptions' own (nothing to
    change), the chosen ``{role: band}`` otherwise (:attr:`geo.ingest.Mapping.bands`), and
    None, with an error shown, while one role is given to several bands.
    """
    if "bands" not in source.columns or len(source.table) != 1:
        return {}
    names = str(source.table["bands"].iloc[0]).split(",")
    described = _named(names)
    rev = int(st.session_state.get(MAPPING_REV, 0))
    with st.expander(t("Band roles"), expanded=BANDS_UNNAMED in source.notes
                     or bool(base.bands)):
        roles = _band_boxes(len(names), base.bands or described, f"{BAND}:{rev}", t,
                            source.band_descriptions)
    if roles is None:
        return None
    return {} if roles == described else roles


def _band_boxes(count: int, start: dict[str, int], key: str, t: Translator,
                descriptions: tuple[str, ...] = ()) -> dict[str, int] | None:
    """One box per band (its role or none), from ``start``; the roles, or None if repeated.

    Each box is labelled with the band's number and the file's own description of it
    ("Band 5 · SR_B6"), Markdown escaped.
    """
    labels = band_names(t)
    options: list[str | None] = [None, *ROLES]
    first = {i: r for r, i in start.items()}
    st.caption(t("Which band of the file is which: detection and the imagery page read "
                 "them, and the stored copy keeps them as its band descriptions. "
                 "Detection needs blue, green and red at least; with near infrared "
                 "and SWIR1 too, it runs in full."))
    chosen: dict[str, list[int]] = {}
    for i in range(1, count + 1):
        if (i - 1) % 4 == 0:  # four per line; a phone stacks them in order
            grid = st.columns(4)
        said = descriptions[i - 1] if i <= len(descriptions) else ""
        label = t("Band {n}").format(n=t.number(i))
        role = grid[(i - 1) % 4].selectbox(
            f"{label} · {_plain(said)}" if said else label, options=options,
            index=options.index(first.get(i)),
            format_func=lambda r: t("(none)") if r is None else labels[r],
            key=relabelled(f"{key}:{i}"))
        if role is not None:
            chosen.setdefault(role, []).append(i)
    twice = [labels[r] for r, bands in chosen.items() if len(bands) > 1]
    if twice:
        st.error(t("Each role goes to one band: {roles} is chosen for several.").format(
            roles=", ".join(twice)))
        return None
    return {r: bands[0] for r, bands in chosen.items()}


def _stored_band_editor(data_dir: Path, user: str, t: Translator) -> None:
    """Name the bands of a scene already stored (one the import warned about)."""
    try:
        stored = read_existing(data_dir, "scenes") if data_dir.is_dir() else None
    except (AtalayaError, OSError) as err:
        st.error(_shown(err, t))
        return
    if stored is None or stored.empty:
        return
    bands = dict(zip(stored["scene_id"].astype(str), stored["bands"].astype(str),
                     strict=True))
    paths = dict(zip(stored["scene_id"].astype(str), stored["path"].astype(str), strict=True))
    unusable = [s for s, b in bands.items() if not detectable(b)]
    with st.expander(t("Band roles of a stored scene"), expanded=bool(unusable)):
        ids = unusable + sorted(set(bands) - set(unusable))
        scene = st.selectbox(t("Stored scene"), options=ids, key=STORED_SCENE,
                             format_func=lambda s: f"{s} ({bands[s]})")
        if scene is None:
            return
        names = bands[scene].split(",")
        described = _named(names)
        roles = _band_boxes(len(names), described, f"{STORED_BAND}:{scene}", t,
                            _descriptions(data_dir / paths[scene]))
        if st.button(t("Save the band roles"), key=SAVE_BANDS,
                     disabled=roles is None or roles == described or not user):
            _save_stored_bands(data_dir, scene, roles or {}, user, t)


def _descriptions(path: Path) -> tuple[str, ...]:
    """Return a stored scene's band descriptions, or none if it cannot be opened."""
    try:
        with open_geotiff(path) as src:
            return band_descriptions(src)
    except (AtalayaError, OSError, RasterioError):
        return ()


def _named(names: list[str]) -> dict[str, int]:
    """Return the roles a catalogue row's band names give (``{role: 1-based index}``)."""
    return {name: i for i, name in enumerate(names, start=1) if name in ROLES}


def _save_stored_bands(data_dir: Path, scene: str, roles: dict[str, int], user: str,
                       t: Translator) -> None:
    try:
        with st.spinner(t("Storing...")):
            bands = name_stored_bands(data_dir, scene, roles, by=user,
                                      store=open_store_cached(default_url()))
    except (AtalayaError, OSError, SQLAlchemyError) as err:
        st.error(t("Nothing was stored: {reason}").format(reason=_shown(err, t)))
        return
    st.session_state[NOTICE] = ("success", Message(
        "Band roles stored for {scene}: {bands}.", scene=scene, bands=bands or ""))
    st.rerun()


def _field_names(t: Translator) -> dict[str, str]:
    """Each contract field's name in the reader's language (as the map and tables name it)."""
    return {**map_labels(t), "latitude": t("Latitude"), "longitude": t("Longitude"),
            "wkt": t("Geometry as WKT text"), "coordinates": t("Both coordinates in one column"),
            "event_id": t("Event identifier"), "route_id": t("Route identifier"),
            "area_id": t("Area identifier"), "iata": t("IATA code"),
            "kind": t("Kind of aerodrome"), "created_at": t("Created at"),
            "created_by": t("Created by"), "path": t("File path")}


def field_label(field: str, t: Translator) -> str:
    """Label a field's column box: its name in the reader's language, then the contract's.

    The contract's names (``occurred_at``, ``quantity_kg``) are what mapping files,
    ``--default`` and exported files use, so the label keeps them beside the words an
    analyst reads elsewhere ("Fecha (occurred_at)"); a name that is the field's own word
    ("Latitude") is not repeated.
    """
    name = _field_names(t).get(field, field)
    return name if name.casefold() == field.casefold() else f"{name} ({field})"


def _field_help(schema: Any, field: str, t: Translator) -> str | None:
    """Say what a field holds beyond its name (the label's), in the reader's language."""
    doc = next((c.doc for c in schema.columns if c.name == field and c.doc), "")
    return _plain(localize(doc, t)) if doc else None


def _column_label(column: str | None, *, absent: str) -> str:
    return absent if column is None else str(column)


def _absent_label(base: Mapping, field: str, rev: int, t: Translator) -> str:
    """Say what a field gets when no column feeds it: its default, or what the core makes."""
    default = str(st.session_state.get(f"{DEFAULT}:{rev}:{field}",
                                       base.defaults.get(field, ""))).strip()
    if default:
        return t("(not in the file: {value})").format(value=default[:40])
    if field == "country":
        return t("(not in the file: from the location)")
    if field == ID_FIELDS.get(base.layer):
        return t("(not in the file: numbered)")
    return t("(not in the file)")


def _options(base: Mapping, rev: int, t: Translator) -> dict[str, Any]:
    schema = SCHEMAS[base.layer]
    kinds = {c.name: c.kind for c in schema.columns}
    left, middle, right = st.columns(3)
    unit = base.quantity_unit
    if any(name.endswith("_kg") or "_kg_" in name for name in kinds):
        units = list(UNITS)
        unit = left.selectbox(t("Unit of quantities"), options=units,
                              index=units.index(unit) if unit in units else 0,
                              key=f"{UNIT}:{rev}")
    dayfirst = base.dayfirst
    timezone = base.timezone
    if "datetime" in kinds.values():
        choices: list[bool | None] = [None, True, False]
        labels = {None: t("Decide from the data"), True: t("Day first (31/12/2024)"),
                  False: t("Month first (12/31/2024)")}
        dayfirst = middle.selectbox(t("Dates"), options=choices,
                                    index=choices.index(base.dayfirst),
                                    format_func=labels.__getitem__,
                                    key=relabelled(f"{DAYFIRST}:{rev}"))
        timezone = right.text_input(t("Time zone of times without one"), value=base.timezone,
                                    max_chars=60, key=f"{TIMEZONE}:{rev}",
                                    help=t("An IANA name, e.g. UTC or America/Lima.")).strip()
    defaults: dict[str, str] = {}
    with st.expander(t("Default values (for fields the file lacks or leaves empty)")):
        for i, name in enumerate(schema.column_names):
            if i % 3 == 0:
                grid = st.columns(3)
            value = grid[i % 3].text_input(field_label(name, t),
                                           value=base.defaults.get(name, ""),
                                           max_chars=200, key=f"{DEFAULT}:{rev}:{name}")
            if value.strip():
                defaults[name] = value.strip()
    return {"quantity_unit": unit, "dayfirst": dayfirst, "timezone": timezone or "UTC",
            "defaults": defaults}


def _validate_and_import(loaded: _Loaded, mapping: Mapping, data_dir: Path, user: str,
                         limits: Limits, t: Translator) -> None:
    signature = f"{loaded.file_id}\n{user}\n{mapping.to_json()}"
    if st.button(t("Validate"), key=VALIDATE, type="primary", disabled=not user):
        _run_validation(loaded.source, mapping, data_dir, user, limits, signature, t)
    if not user:
        st.info(t("Type your name to validate: it is recorded with the imported rows."))
    checked = st.session_state.get(REPORT)
    if not isinstance(checked, _Checked):
        return
    if checked.signature != signature:
        st.info(t("The mapping changed since the last validation: validate again."))
        return
    _show_report(checked, t)
    _import_controls(loaded, checked, data_dir, t)


def _run_validation(source: Source, mapping: Mapping, data_dir: Path, user: str,
                    limits: Limits, signature: str, t: Translator) -> None:
    st.session_state.pop(REPORT, None)
    try:
        with st.spinner(t("Checking every row...")):
            report = validate_isolated(source, mapping, imported_by=user, limits=limits)
            existing = read_existing(data_dir, mapping.layer)
            dups = find_duplicates(report.accepted, existing, layer=mapping.layer)
    except (AtalayaError, OSError) as err:
        st.error(t("Nothing can be imported: {reason}").format(reason=_shown(err, t)))
        return
    st.session_state[REPORT] = _Checked(signature, report, dups)


def _show_report(checked: _Checked, t: Translator) -> None:
    report, dups = checked.report, checked.duplicates
    st.subheader(t("Validation report"))
    c = report.counts
    cols = st.columns(4)
    cols[0].metric(t("Rows"), t.number(c["rows"]))
    cols[1].metric(t("Rows accepted"), t.number(c["accepted"]))
    cols[2].metric(t("Rows rejected"), t.number(c["rejected"]))
    cols[3].metric(t("Already stored"), t.number(len(dups)))
    for warning in report.warnings[:20]:
        st.warning(_shown(_labelled(warning, t), t))
    if c["rejected"]:
        st.markdown("**" + t("Why rows were rejected") + "**")
        # a field by its label and contract name, as in the mapping ("Confianza (confidence)")
        reasons = pd.DataFrame([(t(k) if k in REASON_KINDS else field_label(k, t), n)
                                for k, n in report.reason_counts().most_common()],
                               columns=[t("Reason"), t("Rows")])
        st.dataframe(reasons, hide_index=True)
        st.markdown("**" + t("Rejected rows") + "**")
        shown = report.rejected.head(SHOWN_ROWS)
        shown = shown.assign(reason=[localize(_labelled(r, t), t) for r in shown["reason"]])
        # the two columns the report adds before the file's own (whose names stay as typed)
        shown.columns = [t("Row"), t("Reason"), *shown.columns[2:]]
        st.dataframe(shown.astype("string"), hide_index=True)
        st.download_button(t("Download the rejected rows (CSV)"), data=checked.rejected_csv(t),
                           file_name=f"{Path(report.source).stem}-rejected.csv",
                           mime="text/csv", key=DOWNLOAD, on_click="ignore")
    if len(dups):
        st.markdown("**" + t("Rows that match rows already stored") + "**")
        st.dataframe(_pairs_table(dups, t), hide_index=True)


def _labelled(text: object, t: Translator) -> object:
    """Name the field of a row's reason or a warning as the mapping does ("Fecha (occurred_at)").

    The stored reasons keep the contract's name (``occurred_at: ...``), as the rejected-rows
    CSV and the command line write them.
    """
    if not isinstance(text, Message):
        return text
    return replace_values(text, lambda k, v: field_label(v, t) if k == "column"
                          and isinstance(v, str) else v)


def _pairs_table(dups: Duplicates, t: Translator) -> pd.DataFrame:
    """Duplicate pairs as shown: file row (1-based, as in the report), ids, metres, hours."""
    pairs = dups.pairs.head(SHOWN_ROWS)
    shown = pd.DataFrame({t("Row"): pairs["new_index"].astype(int) + 1,
                          t("Identifier"): pairs["new_id"],
                          t("Stored identifier"): pairs["existing_id"],
                          t("Distance (m)"): pairs["distance_m"].astype(float).round(1)})
    if pairs["hours_apart"].notna().any():
        shown[t("Hours apart")] = pairs["hours_apart"].astype(float).round(1)
    return shown


def _import_controls(loaded: _Loaded, checked: _Checked, data_dir: Path,
                     t: Translator) -> None:
    report, dups = checked.report, checked.duplicates
    if report.layer == "scenes":
        _scene_import_controls(loaded, checked, data_dir, t)
        return
    keep = False
    if len(dups):
        keep = st.checkbox(t("Also store the rows that match stored ones"), key=KEEP_DUPLICATES)
    skip = [] if keep else dups.new_index
    stored = len(report.accepted) - len(skip)
    target = layer_path(data_dir, report.layer).name
    if stored:
        st.markdown(_will_store(stored, target, len(skip), t))
    else:
        st.info(t("Nothing new to store: every accepted row is already stored."))
    if st.button(t("Import"), key=IMPORT, type="primary", disabled=stored == 0):
        try:
            with st.spinner(t("Storing...")):
                result = commit(report, data_dir, skip=skip)
        except (AtalayaError, OSError) as err:
            st.error(t("Nothing was stored: {reason}").format(reason=_shown(err, t)))
            return
        _done_with_file()
        st.session_state[RESULT] = t(
            "Rows stored from {name} in {file}: {added} ({total} in all); duplicates "
            "skipped: {skipped}.").format(added=t.number(result.added), name=loaded.upload.name,
                               file=result.path.name, total=t.number(result.total),
                               skipped=t.number(result.skipped))
        st.rerun()


def _will_store(n: int, file: str, skipped: int, t: Translator) -> str:
    """Say what the import button will do: rows stored in ``file``, duplicates skipped."""
    rows = t.n("Import will store {n} row in {file}.", "Import will store {n} rows in {file}.",
               n).format(n=t.number(n), file=file)
    return rows + " " + t.n("{n} duplicate skipped.", "{n} duplicates skipped.",
                            skipped).format(n=t.number(skipped))


def _done_with_file() -> None:
    """Drop the imported file and empty the uploader."""
    _forget()
    st.session_state[FILE_NONCE] = int(st.session_state.get(FILE_NONCE, 0)) + 1


# -- scenes: a background job -------------------------------------------------------------------

def _scene_import_controls(loaded: _Loaded, checked: _Checked, data_dir: Path,
                           t: Translator) -> None:
    """Offer to store the new scenes by a background job (the scenes already stored skipped)."""
    report, dups = checked.report, checked.duplicates
    stored = len(report.accepted) - len(dups)
    if stored:
        st.markdown(_will_store(stored, layer_path(data_dir, "scenes").name, len(dups), t))
        st.caption(t("Scenes are stored by a background job: you may leave the page, the "
                     "import goes on."))
    else:
        st.info(t("Nothing new to store: every accepted row is already stored."))
    if st.button(t("Import"), key=IMPORT, type="primary", disabled=stored == 0):
        _start_scene_job(loaded, report, data_dir, t)


def _start_scene_job(loaded: _Loaded, report: ImportReport, data_dir: Path,
                     t: Translator) -> None:
    """Keep the file in the data folder and submit the job; then follow it from the top."""
    kept = None
    try:
        kept = keep_upload(loaded.upload, data_dir)
        params = ingest_params(kept, name=loaded.upload.name, mapping=report.mapping)
        asked = ask_job("ingest", params, str(report.imported_by))
        if not kept.is_file():  # its twin's job ended in between and removed the copy
            keep_upload(loaded.upload, data_dir)
    except (AtalayaError, OSError, SQLAlchemyError) as err:
        if kept is not None:
            _discard_unused(str(kept), data_dir)
        st.error(t("Nothing was stored: {reason}").format(reason=_shown(err, t)))
        return
    _done_with_file()
    st.session_state[SCENE_JOB] = asked
    st.rerun()


def _follow_scene_job(data_dir: Path, user: str, t: Translator) -> None:
    """Show this session's scene import job (or the user's latest): progress, then outcome."""
    asked: dict[str, Any] = st.session_state.get(SCENE_JOB) or {}
    job = follow_job("ingest", user, asked, t)
    if job is None or not job.finished:
        return
    if job.state == "succeeded":
        result = job.result or {}
        st.success(t("Scenes stored from {name}: {added} ({total} in all); already "
                     "stored: {skipped}.").format(added=t.number(int(result.get("added", 0))),
                                       name=_plain(job.params.get("name", "")),
                                       total=t.number(int(result.get("total", 0))),
                                       skipped=t.number(int(result.get("skipped", 0)))))
    _discard_unused(str(job.params.get("path", "")), data_dir)  # e.g. cancelled while queued


def _discard_unused(path: str, data_dir: Path) -> None:
    """Remove a kept upload unless an unfinished import job still needs it."""
    if not path or not Path(path).exists():
        return
    try:
        active = list_jobs(open_store_cached(default_url()), states=sorted(ACTIVE_STATES),
                           kinds=["ingest"])
        if not any(j.params.get("path") == path for j in active):
            discard_kept_upload(path, data_dir)
    except (AtalayaError, SQLAlchemyError) as err:
        st.warning(_plain(err))
