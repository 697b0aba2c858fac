"""Export panel: take the current view to a briefing, another GIS or a partner agency.

The panel builds a snapshot (``geo.export``) of what the explorer shows: its filters, the area
of interest and, unless unticked, the map's extent; in the formats chosen (GeoPackage, zipped
GeoJSON, KML/KMZ, CSV, zipped Shapefile, standalone HTML, PNG, PDF briefing), with the title
and classification marking typed here. Each snapshot is kept in the data folder's history
(``<data>/snapshots``) and can be downloaded again, checked against its manifest, or reopened
in the explorer (a link carrying its filters and view).

The snapshot is always made by a background ``export`` job (:mod:`geo.jobs`; one code path
whatever its size), never in the page's script thread: the button checks the role and submits
the job (the same request twice, from two tabs or a double click, gets the same job), and the
panel follows the job's progress with a Cancel button for its creator. The job is found again
after a reload (the user's latest export job, from the store); once it has succeeded, the
snapshot is downloaded here and listed in the history like any other.

The explorer calls :func:`render_export_panel` with the filters and the bounds the map
reports; nothing here reads or changes the explorer's own widgets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from geo.auth import Action
from geo.errors import AtalayaError
from geo.export import (
    DEFAULT_MARKING,
    FORMATS,
    LAYERS,
    Manifest,
    SnapshotSpec,
    list_snapshots,
    readable_at,
    verify_snapshot,
    zip_snapshot,
)
from geo.export.briefing import describe_filters
from geo.export.spec import DEFAULT_LAYERS
from geo.filters import Filters
from geo.i18n import Message, Translator, localize, message_of
from geo.jobs import Job, export_params
from geo.settings import LANGUAGES
from ui.auth import allowed, location_cell_deg
from ui.jobs import ask_job, follow_job
from ui.labels import map_labels
from ui.sidebar import KEEP, relabelled
from ui.text import choice_texts, escape_markdown, shown

__all__ = ["render_export_panel", "role_refusal"]

# Session-state and widget keys of this panel (they could join ui/state.py).
FORMATS_KEY = "export_formats"
LAYERS_KEY = "export_layers"
#: The map's switched-off layers the layer choice last followed (``hidden_layers``)
LAYERS_SEEN = "export_layers_seen"
TITLE = "export_title"
USER = "export_user"  # asked only when the caller knows no user
MARKING = "export_marking"
USE_VIEW = "export_use_view"
#: The same switch, off and disabled, while the map has reported no extent yet (a key of its
#: own, so the first run, before the map reports, does not leave USE_VIEW off for good)
NO_VIEW = "export_no_view"
WIDTH = "export_width"
HEIGHT = "export_height"
DPI = "export_dpi"
BUILD = "export_build"
#: {"job": id, "created": bool, "runner": bool} or {"error": text}, text a Message when it is
#: one (written in the reader's language when shown, so it follows a change of language)
RESULT = "export_result"
DOWNLOAD = "export_download"
HISTORY = "export_history"
#: The newest snapshot the history has shown: a newer one is selected when it appears
HISTORY_NEWEST = "export_history_newest"
HISTORY_DOWNLOAD = "export_history_download"
ZIPS = "export_zips"  # snapshot id -> zip bytes, built once per session

DEFAULT_FORMATS = ("gpkg", "kml", "csv", "pdf")


def _format_names(t: Translator) -> dict[str, str]:
    return {"gpkg": t("GeoPackage (QGIS, ArcGIS)"), "geojson": t("GeoJSON (zipped)"),
            "kml": t("KML and KMZ (Google Earth)"),
            "csv": t("CSV (comma-separated, decimal point: scripts, GIS)"),
            "xlsx": t("Excel workbook (XLSX: spreadsheets in any language)"),
            "shp": t("Shapefile (zipped, older tools)"),
            "html": t("Interactive map (HTML, offline)"),
            "png": t("Map image (PNG)"), "pdf": t("Briefing (PDF)")}


def render_export_panel(data_dir: Path, filters: Filters,
                        view_bounds: tuple[float, float, float, float] | None,
                        t: Translator, user: str, *, heading: bool = True,
                        hidden_layers: frozenset[str] | None = None) -> None:
    """Show the export panel: build a snapshot of the current view, list earlier ones.

    Parameters
    ----------
    data_dir
        The data folder (its ``snapshots/`` holds the history).
    filters
        The explorer's filters (with the area of interest).
    view_bounds
        The map's extent ``(west, south, east, north)`` as the map reports it, or None.
    t
        The session's translator.
    user
        Who is exporting (recorded in the manifest). When empty (no sign-in yet), the panel
        asks for a name; no snapshot is made without one.
    heading
        Show the panel's title (off when the caller puts the panel under its own expander).
    hidden_layers
        Layers switched off on the caller's map (``layers.map.hidden_layers``): the layers
        chosen at first are then those the map shows, and follow it when a layer is switched
        on or off there. None: the caller has no map; :data:`DEFAULT_LAYERS` at first.
    """
    if heading:
        st.subheader(t("Snapshot for planners"))
    with st.container(border=True):
        who = user.strip() or st.text_input(t("Your name"), key=USER, max_chars=100).strip()
        _render_builder(data_dir, filters, view_bounds, t, who, hidden_layers)
    _render_history(data_dir, t)


def _render_builder(data_dir: Path, filters: Filters,
                    view_bounds: tuple[float, float, float, float] | None, t: Translator,
                    user: str, hidden: frozenset[str] | None) -> None:
    names = _format_names(t)
    labels = map_labels(t)
    ss = st.session_state
    # First values set in the state, not as defaults: the panel's choices outlast a visit to
    # another page (ui.sidebar.KEEP), which re-setting a widget with a default would warn of
    for key, first in ((FORMATS_KEY, list(DEFAULT_FORMATS)), (TITLE, t("Atalaya snapshot")),
                       (MARKING, t(DEFAULT_MARKING)), (WIDTH, 1600), (HEIGHT, 1000),
                       (DPI, 150)):
        ss.setdefault(key, first)
    for key, text in ((TITLE, "Atalaya snapshot"), (MARKING, DEFAULT_MARKING)):
        if ss[key] in {Translator(code)(text) for code in LANGUAGES}:  # untouched: follows
            ss[key] = t(text)  # the page's language
    st.multiselect(t("Formats"), list(FORMATS), key=relabelled(FORMATS_KEY),
                   persist_state=KEEP,
                   format_func=lambda f: names[f], **choice_texts(t, empty_means_all=False))
    on_map = list(DEFAULT_LAYERS) if hidden is None else [x for x in LAYERS if x not in hidden]
    # Set through the state, not a default: a browser keeps a widget's value otherwise
    if hidden is not None and ss.get(LAYERS_SEEN) != hidden:  # switched on the map: follow it
        ss[LAYERS_SEEN] = hidden
        ss[LAYERS_KEY] = on_map
    ss.setdefault(LAYERS_KEY, on_map)
    st.multiselect(t("Layers"), list(LAYERS), key=relabelled(LAYERS_KEY), persist_state=KEEP,
                   format_func=lambda x: labels.get(x, x),
                   **choice_texts(t, empty_means_all=False))
    st.text_input(t("Title"), key=TITLE, max_chars=200, persist_state=KEEP)
    st.text_input(t("Classification marking"), key=MARKING, max_chars=200, persist_state=KEEP,
                  help=t("Printed at the top and bottom of every page and image."))
    # On by default: the panel exports what the map shows. The map reports its extent after
    # its first drawing, so the first run has none: a disabled stand-in then, not USE_VIEW.
    st.toggle(t("Only the map's extent"), value=view_bounds is not None,
              key=USE_VIEW if view_bounds is not None else NO_VIEW,
              disabled=view_bounds is None,
              help=t("Narrow every layer to the map's extent and frame the map on it."))
    with st.expander(t("Image size")):
        cols = st.columns(3)
        cols[0].number_input(t("Width (px)"), 400, 4000, step=100, key=WIDTH,
                             persist_state=KEEP)
        cols[1].number_input(t("Height (px)"), 300, 4000, step=100, key=HEIGHT,
                             persist_state=KEEP)
        cols[2].number_input(t("Resolution (dpi)"), 72, 300, step=24, key=DPI,
                             persist_state=KEEP,
                             help=t("The map is laid out at the width and height above (screen "
                                    "pixels at 96 dpi) and drawn with dpi / 96 times as many "
                                    "pixels: 1600 px at 150 dpi is a 2500 px wide PNG, which "
                                    "records its resolution."))
    try:
        spec = _spec(filters, view_bounds, t, user)
    except AtalayaError as err:
        st.error(shown(err, t))
        return
    st.caption(t("What the snapshot holds:"))
    st.markdown("\n".join(f"- {escape_markdown(line)}"
                           for line in describe_filters(spec, t, labels)))
    if not user:
        st.warning(t("Type your name to make a snapshot: the manifest records who made it."))
    st.button(t("Make the snapshot"), key=BUILD, disabled=not user, type="primary",
              use_container_width=True, on_click=_build, args=(spec, user))
    _show_result(data_dir, user, t)


def _spec(filters: Filters, view_bounds: tuple[float, float, float, float] | None,
          t: Translator, user: str) -> SnapshotSpec:
    ss = st.session_state
    use_view = bool(ss.get(USE_VIEW)) and view_bounds is not None
    return SnapshotSpec(
        filters=filters, bbox=view_bounds if use_view else None,
        layers=tuple(ss.get(LAYERS_KEY) or DEFAULT_LAYERS),
        formats=tuple(ss.get(FORMATS_KEY) or DEFAULT_FORMATS),
        title=str(ss.get(TITLE) or t("Atalaya snapshot")),
        classification=str(ss.get(MARKING) or t(DEFAULT_MARKING)), user=user or "unknown",
        language=t.language, labels=map_labels(t), width_px=int(ss.get(WIDTH, 1600)),
        height_px=int(ss.get(HEIGHT, 1000)), dpi=int(ss.get(DPI, 150)),
        location_cell_deg=location_cell_deg())


def _readable(data_dir: Path) -> tuple[list[Manifest], int]:
    """Return the snapshots this role may open (newest first), and how many it may not."""
    snapshots = list_snapshots(data_dir)
    cell = location_cell_deg()
    shown_ = [m for m in snapshots if readable_at(m, cell)]
    return shown_, len(snapshots) - len(shown_)


def _build(spec: SnapshotSpec, user: str) -> None:
    """Submit the export job (button callback); keep which job it is for this session."""
    if not allowed(Action.EXPORT_SNAPSHOT):  # checked when asked, not only by the panel
        st.session_state[RESULT] = {"error": role_refusal()}
        return
    try:
        st.session_state[RESULT] = ask_job("export", export_params(spec), user)
    except AtalayaError as err:
        st.session_state[RESULT] = {"error": message_of(err)}


def role_refusal() -> Message:
    """Return the refusal of a role that may not export a snapshot (localized when shown)."""
    return Message("Your role may not {what}.", what=Message("export a snapshot"))


def _find(data_dir: Path, snapshot_id: str) -> Manifest | None:
    return next((m for m in _readable(data_dir)[0] if m.snapshot_id == snapshot_id), None)


def _zip(manifest: Manifest) -> bytes:
    zips: dict[str, bytes] = st.session_state.setdefault(ZIPS, {})
    if manifest.snapshot_id not in zips:
        zips.clear()  # keep one archive in memory per session
        zips[manifest.snapshot_id] = zip_snapshot(manifest)
    return zips[manifest.snapshot_id]


def _file_name(manifest: Manifest) -> str:
    from geo.export.paths import safe_name

    return f"{safe_name(manifest.title)}-{manifest.created_at[:10]}-{manifest.snapshot_id[:8]}.zip"


def _show_result(data_dir: Path, user: str, t: Translator) -> None:
    """Follow this session's export job (or the user's latest): progress, then the outcome."""
    result: dict[str, Any] = st.session_state.get(RESULT) or {}
    if "error" in result:
        st.error(t("The snapshot could not be made."))
        st.code(localize(result["error"], t), language=None,  # code: shown as typed
                wrap_lines=True)
        return
    job = follow_job("export", user, result, t)
    if job is not None:
        _show_outcome(data_dir, job, t)


def _show_outcome(data_dir: Path, job: Job, t: Translator) -> None:
    if job.state == "failed":
        st.error(t("The snapshot could not be made."))
        return
    snapshot_id = (job.result or {}).get("snapshot_id")
    manifest = _find(data_dir, snapshot_id) if job.state == "succeeded" and snapshot_id else None
    if manifest is None:
        return
    st.success(t.n("Snapshot made: {files} file.", "Snapshot made: {files} files.",
                   len(manifest.files)).format(files=t.number(len(manifest.files))))
    _show_failed(manifest, t)
    st.download_button(t("Download the snapshot (ZIP)"), data=_zip(manifest),
                       file_name=_file_name(manifest), mime="application/zip", key=DOWNLOAD,
                       use_container_width=True, icon=":material/download:")


def _show_failed(manifest: Manifest, t: Translator) -> None:
    for fmt, reason in manifest.failed.items():
        st.warning(t("{format} was not made:").format(format=fmt.upper()))
        st.code(reason, language=None, wrap_lines=True)




def _label(manifest: Manifest) -> str:
    """Return when, what and who: short enough to read whole in the list (counts go below)."""
    return f"{manifest.created_at[:16].replace('T', ' ')} UTC · {manifest.title} · " \
           f"{manifest.created_by}"


def _counts(manifest: Manifest, t: Translator) -> str:
    names = map_labels(t)
    return " · ".join(f"{names.get(k, k)}: {t.number(v)}" for k, v in manifest.counts.items())


def _filters_text(manifest: Manifest, t: Translator) -> list[str]:
    """Return the snapshot's filters in words, in the reader's language.

    The manifest's own lines are in the language the snapshot was made in; they are shown
    when its spec cannot be read.
    """
    try:
        spec = SnapshotSpec.from_json(manifest.spec)
    except (AtalayaError, KeyError, TypeError, ValueError, IndexError):
        return list(manifest.filters_text)
    return describe_filters(spec, t, map_labels(t))


def _render_history(data_dir: Path, t: Translator) -> None:
    snapshots, withheld = _readable(data_dir)
    st.markdown("**" + t("Earlier snapshots") + "**")
    if withheld:
        st.caption(t.n("{n} snapshot holds events at finer locations than your role sees; it "
                       "is not listed.",
                       "{n} snapshots hold events at finer locations than your role sees; "
                       "they are not listed.", withheld).format(n=t.number(withheld)))
    if not snapshots:
        st.caption(t("None yet: the snapshots you make are kept here."))
        return
    by_id = {m.snapshot_id: m for m in snapshots}
    ss = st.session_state
    if ss.get(HISTORY_NEWEST) != snapshots[0].snapshot_id:  # one just made: show it
        ss[HISTORY_NEWEST] = ss[HISTORY] = snapshots[0].snapshot_id
    chosen = st.selectbox(t("Snapshot"), list(by_id), key=relabelled(HISTORY),
                          format_func=lambda sid: _label(by_id[sid]))
    manifest = by_id[chosen]
    st.caption(_counts(manifest, t))  # our own layer names and numbers: no one's text
    st.markdown("\n".join(f"- {escape_markdown(line)}" for line in _filters_text(manifest, t)))
    assert manifest.folder is not None
    problems = verify_snapshot(manifest.folder)
    if problems:
        st.error(t("This snapshot changed since it was made:"))
        st.code("\n".join(localize(p, t) for p in problems), language=None, wrap_lines=True)
    else:
        st.caption(t("Every file matches its SHA-256 in the manifest."))
    _show_failed(manifest, t)
    cols = st.columns(2)
    cols[0].download_button(t("Download (ZIP)"), data=_zip(manifest),
                            file_name=_file_name(manifest), mime="application/zip",
                            key=HISTORY_DOWNLOAD, use_container_width=True,
                            icon=":material/download:")
    cols[1].link_button(t("Reopen in the explorer"), "./?" + urlencode(dict(manifest.query)),
                        use_container_width=True, icon=":material/map:")
