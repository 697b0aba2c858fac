"""Field packages: take alerts to the field on a phone, bring the team's verdicts back.

Package format
--------------
:func:`export_field_package` writes **one ZIP file** (one thing to download, mail, or copy to
a phone or a USB stick; a folder would need a second step to carry). Inside, at its root:

``alerts.gpkg``
    GeoPackage, EPSG:4326, readable by QGIS, QField, Mergin Maps and GDAL:

    - ``alerts`` (Polygon): ``alert_id``, ``version`` (the version exported: the import's
      conflict key, do not edit), ``state``, ``priority``, ``score``, ``reason``,
      ``length_m``, ``width_m``, ``bearing_deg``, ``first_seen``, ``last_seen``,
      ``imagery_state`` (the strip on the imagery: new, active, overgrown, destroyed or
      reopened), ``assignee``, ``verdict_choices`` (the verdicts allowed from ``state``,
      ``|``-separated),
      and the **empty fields the team fills**: ``verdict``, ``field_comment``, ``visited_at``
      (date and time, UTC), ``visited_by``;
    - ``alert_points`` (Point): the same rows at the centroids, for apps that prefer points
      (the import reads ``alerts`` only);
    - ``comments`` (no geometry): the comments already written on those alerts;
    - ``verdict_choices`` (no geometry): every state, where it may go next and what it means;
    - ``package`` (no geometry): ``key``/``value`` pairs (package id, who exported, when).
``alerts.kml``
    For Google Earth: one placemark per alert (name, escaped description, polygon and centre
    point, a style per state).
``alerts.kmz``
    The same as ``doc.kml`` plus ``images/`` with the alerts' image chips (PNG, JPEG or GIF
    attachments), shown in the placemarks' balloons with their date; chips whose metadata
    give their corners (``corners_lonlat``, see :mod:`geo.store.chips`) are also laid on the
    ground in a folder ``image chips`` (the newest of each alert shown). An alert without
    chips simply shows none.
``README.txt``
    How to fill ``verdict`` and send the GeoPackage back.
``manifest.json``
    Package id, who exported it and when, the alerts and versions, and each file's SHA-256.

Every text reaching KML is XML-escaped (no CDATA, so ``]]>`` in a comment cannot close
anything) and, in descriptions, HTML-escaped first, since Google Earth renders descriptions
as HTML: ``<script>`` in a comment stays text. Placemarks' balloons show only the description
(``BalloonStyle``), so the raw values in ``ExtendedData`` are never rendered as HTML.

Exporting does not change any alert (no version moves, so it cannot cause conflicts); it
writes one audit row per exported alert (action ``field_export``), so the history says who
took which alert to the field, and when.

Import and the conflict rule
----------------------------
:func:`read_field_package` reads the edited ``alerts.gpkg`` (or the ZIP holding it) and checks
it before GDAL sees it: size caps, ZIP entries (no ``../``, absolute paths, links, or bombs),
the SQLite/GeoPackage signature (a renamed VRT or text file is refused), the ``alerts`` layer
and its columns, a row cap. A broken package raises :class:`FieldPackageError` (one message
listing every problem) and changes nothing. Problems in single rows (an id that is not a
number, an unknown verdict, over-long text, control characters) reject those rows only.

:func:`plan_import` compares each row with the store and classifies it:

``apply``
    A verdict allowed from the alert's state, and the store's version equals the exported
    ``version``; or only a comment (comments never conflict).
``conflict``
    The alert changed in the store since the export (its version moved): the item shows the
    store's state, version, who changed it and when, beside the team's verdict. It is **not**
    applied unless the user accepts it; :func:`apply_import` then re-checks the move from the
    current state, at the version the user was shown.
``rejected``
    Unknown alert, impossible move, bad value, or a row repeated: the reason says which.
``unchanged``
    Nothing filled in, or this very row was already imported.

Every applied row goes through :func:`geo.store.update_alert` with a request id derived from
the row's content (alert, exported version, verdict, comment, visit), so the verdict and the
comment land in the audit log under the importing user in one transaction, and importing the
same package again applies nothing twice: those rows show as ``unchanged``.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import math
import numbers
import os
import re
import shutil
import sqlite3
import stat
import tempfile
import uuid
import zipfile
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import pandas as pd
import pyogrio
import pyogrio.errors
from sqlalchemy import select

from geo.auth.permissions import Role
from geo.categories import codes_by_name, normalise_name
from geo.detect.reasons import localize_reason
from geo.errors import AtalayaError, SchemaError
from geo.hashing import sha256_file
from geo.i18n import Message, Number, Translator, join_messages, marked, message_of, translator
from geo.store import tables as tb
from geo.store.alerts import (
    Alert,
    AlertChange,
    Attachment,
    change_refusal,
    get_alert,
    list_alerts,
    load_alert,
    read_attachment_content,
    read_attachments,
    read_comments,
    update_alert,
)
from geo.store.audit import record
from geo.store.engine import Store, in_transaction, read_tx
from geo.store.states import ALERT_STATES, allowed_next, priority_names, state_names

__all__ = [
    "EDITABLE_FIELDS",
    "ExportReport",
    "FieldPackageError",
    "FieldReturn",
    "FieldRow",
    "ImportPlan",
    "ImportReport",
    "PlanItem",
    "apply_import",
    "export_field_package",
    "plan_import",
    "read_field_package",
]

GPKG_NAME = "alerts.gpkg"
ALERTS_LAYER = "alerts"
POINTS_LAYER = "alert_points"
EDITABLE_FIELDS: tuple[str, ...] = ("verdict", "field_comment", "visited_at", "visited_by")
REQUIRED_FIELDS: tuple[str, ...] = ("alert_id", "version", *EDITABLE_FIELDS)

MAX_UPLOAD_BYTES = 256 * 1024 * 1024  # the whole package (ZIP with chips) as uploaded
MAX_GPKG_BYTES = 64 * 1024 * 1024  # ~50,000 alerts with geometry; far above a field trip
MAX_ZIP_ENTRIES = 64
MAX_ZIP_RATIO = 200  # uncompressed/compressed; a SQLite file of mostly empty pages is ~20-50
MAX_ROWS = 5000
MAX_COMMENT_CHARS = 4000  # as the alert page's comment box
MAX_NAME_CHARS = 200  # the store's author/actor columns
MAX_CHIP_BYTES = 20 * 1024 * 1024  # per chip; larger ones are left out of the KMZ
MAX_CHIPS_TOTAL = 150 * 1024 * 1024  # all chips; the package must stay under the upload cap
CHIP_TYPES: Mapping[str, str] = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif"}

# KML colours are aabbggrr; the same hues as the alert page's state colours.
KML_COLORS: Mapping[str, str] = {
    "new": "ff007fff", "under_review": "ffb4781f", "confirmed": "ff1c1ae3",
    "dismissed": "ff737373", "needs_field_visit": "ff9a3d6a", "destroyed": "ff4d4d4d",
    "reopened": "ff7d1bc5",
}
#: What each state means, in English (marked for translation: the package's language).
STATE_MEANINGS: Mapping[str, str] = {
    "new": marked("detector found it; untouched"),
    "under_review": marked("an analyst is looking at it"),
    "needs_field_visit": marked("imagery is not enough"),
    "confirmed": marked("a clandestine runway"),
    "destroyed": marked("made unusable (seen or done)"),
    "reopened": marked("in use again after destroyed"),
    "dismissed": marked("not a runway (reconsiderable)"),
}

_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_GPKG_IDS = (b"GPKG", b"GP10", b"GP11")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_ZIP_MAGIC = b"PK\x03\x04"


class FieldPackageError(SchemaError):
    """A field package cannot be read: not a GeoPackage, too big, unsafe ZIP, missing fields.

    Nothing was written. The message lists every problem found and what was expected.
    """


# -- reports ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExportReport:
    """What :func:`export_field_package` wrote."""

    path: Path
    package_id: str
    alert_ids: tuple[int, ...]
    chips: int
    skipped_chips: tuple[str, ...]
    files: tuple[str, ...]


@dataclass(frozen=True)
class FieldRow:
    """One row of the returned ``alerts`` layer, parsed; ``problems`` empty when usable."""

    row: int
    alert_id: int | None
    exported_version: int | None
    verdict: str | None
    comment: str | None
    visited_at: datetime | None
    visited_by: str | None
    problems: tuple[str, ...] = ()
    exported_state: str | None = None  # the state written at export (for explanations only)

    @property
    def filled(self) -> bool:
        """Whether the team wrote a verdict or a comment on this row."""
        return self.verdict is not None or self.comment is not None


@dataclass(frozen=True)
class FieldReturn:
    """A returned field package: its rows and what the ``package`` table says about it."""

    rows: tuple[FieldRow, ...]
    package_id: str | None = None
    exported_by: str | None = None
    exported_at: str | None = None


Kind = Literal["apply", "conflict", "rejected", "unchanged"]


@dataclass(frozen=True)
class PlanItem:
    """What importing one row would do, with the store's side for conflicts."""

    row: int
    alert_id: int | None
    kind: Kind
    reason: str
    verdict: str | None = None
    comment: str | None = None  # the comment body that would be added (tagged with the visit)
    exported_version: int | None = None
    store_state: str | None = None
    store_version: int | None = None
    updated_by: str | None = None
    updated_at: datetime | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class ImportPlan:
    """Every row of a returned package with what importing it would do."""

    items: tuple[PlanItem, ...]
    package_id: str | None = None

    def of_kind(self, kind: Kind) -> tuple[PlanItem, ...]:
        """Items of one kind, in package order."""
        return tuple(i for i in self.items if i.kind == kind)

    def counts(self) -> dict[str, int]:
        """Count the items of each kind (every kind present, zero included)."""
        found = Counter(i.kind for i in self.items)
        return {k: found.get(k, 0) for k in ("apply", "conflict", "rejected", "unchanged")}


@dataclass
class ImportReport:
    """What :func:`apply_import` did: alerts changed, comments added, what failed and why."""

    applied: list[int] = field(default_factory=list)
    verdicts: list[int] = field(default_factory=list)
    comments: list[int] = field(default_factory=list)
    already: list[int] = field(default_factory=list)
    skipped_conflicts: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


# -- export -----------------------------------------------------------------------------------

def export_field_package(store: Store, *, assignee: str | None = None,
                         states: Sequence[str] | None = None,
                         alert_ids: Collection[int] | None = None, out: Path,
                         user: str, t: Translator | None = None) -> ExportReport:
    """Write the field package of the chosen alerts to ``out`` (a ZIP file).

    Parameters
    ----------
    store
        The alert store.
    assignee, states, alert_ids
        Which alerts: all filters given must hold (``None`` means any).
    out
        The ZIP file to write (replaced atomically if it exists).
    user
        Who exports (recorded in the package and the audit log).
    t
        The team's language for what Google Earth and phone apps show (the KML balloons
        and placemark names; English by default), and for the GeoPackage's reasons and the
        tags of field-visit comments, which the team reads. The fields the team edits and
        sends back, and the states, keep their codes in every language.

    Returns
    -------
    ExportReport
        The path, the package id, the alerts, the chips included and those left out.

    Raises
    ------
    FieldPackageError
        No alert matches, some ``alert_ids`` do not exist, or ``user`` is empty.
    """
    user = _check_user(user)
    t = t or translator("en")
    alerts = _select_alerts(store, assignee=assignee, states=states, alert_ids=alert_ids)
    package_id = uuid.uuid4().hex
    exported_at = datetime.now(UTC)
    meta = {"package_id": package_id, "exported_by": user,
            "exported_at": exported_at.isoformat(timespec="seconds"),
            "filter_assignee": assignee or "", "filter_states": ",".join(states or ()),
            "alerts": str(len(alerts))}
    comments = {a.id: read_comments(store, a.id) for a in alerts}
    with tempfile.TemporaryDirectory(prefix="atalaya-fieldpkg-") as tmp:
        folder = Path(tmp)
        _write_gpkg(folder / GPKG_NAME, alerts, comments, meta, t)
        (folder / "alerts.kml").write_text(_kml_document(alerts, comments, {}, meta, t),
                                           encoding="utf-8")
        chips, skipped = _write_kmz(store, folder / "alerts.kmz", alerts, comments, meta, t)
        (folder / "README.txt").write_text(_readme(meta, t), encoding="utf-8")
        names = (GPKG_NAME, "alerts.kml", "alerts.kmz", "README.txt")
        _write_manifest(folder, names, alerts, meta)
        files = (*names, "manifest.json")
        _zip_folder(folder, files, out)
    _record_export(store, alerts, user=user, package_id=package_id, at=exported_at)
    return ExportReport(path=out, package_id=package_id, alert_ids=tuple(a.id for a in alerts),
                        chips=chips, skipped_chips=tuple(skipped), files=files)


def _check_user(user: str) -> str:
    name = (user or "").strip()
    if not name or len(name) > MAX_NAME_CHARS or _CONTROL.search(name):
        raise FieldPackageError(Message("user {user} is not usable; give a name of 1 to {most} "
                                        "characters without control characters",
                                        user=repr(user), most=MAX_NAME_CHARS))
    return name


def _select_alerts(store: Store, *, assignee: str | None, states: Sequence[str] | None,
                   alert_ids: Collection[int] | None) -> list[Alert]:
    """Alerts matching every filter given; refuse an empty choice or unknown ids."""
    unknown_states = sorted(set(states or ()) - set(ALERT_STATES))
    if unknown_states:
        raise FieldPackageError(Message("unknown state(s) {states}; expected some of {known}",
                                        states=", ".join(unknown_states),
                                        known=", ".join(ALERT_STATES)))
    chosen = list_alerts(store, states=states, assignee=assignee)
    if alert_ids is not None:
        wanted = set(alert_ids)
        missing = wanted - {a.id for a in list_alerts(store)}
        if missing:
            raise FieldPackageError(Message("no alert with id(s) {ids}; pick alerts that exist "
                                            "in this store",
                                            ids=", ".join(map(str, sorted(missing)))))
        chosen = [a for a in chosen if a.id in wanted]
    if not chosen:
        raise FieldPackageError(Message("no alert matches the choice (assignee {assignee}, "
                                        "states {states}); widen it", assignee=repr(assignee),
                                        states=str(list(states or []))))
    if len(chosen) > MAX_ROWS:
        raise FieldPackageError(Message("{n} alerts chosen; a field package holds at most "
                                        "{most}: narrow the choice", n=len(chosen),
                                        most=MAX_ROWS))
    return chosen


def _alert_record(a: Alert, t: Translator) -> dict[str, Any]:
    """Return the exported fields of one alert, editable ones empty (the reason in ``t``)."""
    return {
        "alert_id": a.id, "version": a.version, "state": a.state, "priority": a.priority,
        "score": round(a.score, 4), "reason": localize_reason(a.reason, t, t.number),
        "length_m": round(a.length_m, 1),
        "width_m": round(a.width_m, 1), "bearing_deg": round(a.bearing_deg, 1),
        "first_seen": a.first_seen, "last_seen": a.last_seen,
        "imagery_state": a.detection_state or "", "assignee": a.assignee or "",
        "verdict_choices": "|".join(allowed_next(a.state)),
        "verdict": None, "field_comment": None, "visited_at": pd.NaT, "visited_by": None,
    }


def _alerts_frame(alerts: Sequence[Alert], *, points: bool, t: Translator) -> gpd.GeoDataFrame:
    frame = pd.DataFrame([_alert_record(a, t) for a in alerts])
    for name in ("first_seen", "last_seen", "visited_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True).astype("datetime64[ms, UTC]")
    for name in ("verdict", "field_comment", "visited_by"):
        frame[name] = pd.Series([None] * len(frame), dtype=object)
    geoms = ([gpd.points_from_xy([a.centroid_lon], [a.centroid_lat])[0] for a in alerts]
             if points else [a.geometry for a in alerts])
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=4326)


def _comments_frame(comments: Mapping[int, list[dict[str, Any]]],
                    t: Translator) -> pd.DataFrame:
    rows = [{"alert_id": aid, "comment_id": c["id"], "author": c["author"],
             "created_at": c["created_at"], "body": localize_field_comment(c["body"], t)}
            for aid, found in comments.items() for c in found]
    frame = pd.DataFrame(rows, columns=["alert_id", "comment_id", "author", "created_at",
                                        "body"])
    frame["alert_id"] = frame["alert_id"].astype("int64")
    frame["comment_id"] = frame["comment_id"].astype("int64")
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    frame["author"] = frame["author"].astype(object)
    frame["body"] = frame["body"].astype(object)
    return frame


def _choices_frame(t: Translator) -> pd.DataFrame:
    """Every state, its name, where it may go next (codes) and its meaning (``t``).

    A verdict is read back by its code or by its name in any interface language.
    """
    names = state_names(t)
    return pd.DataFrame({"state": list(ALERT_STATES),
                         "name": [names[s] for s in ALERT_STATES],
                         "may_go_to": ["|".join(allowed_next(s)) for s in ALERT_STATES],
                         "meaning": [t(STATE_MEANINGS[s]) for s in ALERT_STATES]})


def _write_gpkg(path: Path, alerts: Sequence[Alert],
                comments: Mapping[int, list[dict[str, Any]]], meta: Mapping[str, str],
                t: Translator) -> None:
    """Write the five layers of ``alerts.gpkg``."""
    pyogrio.write_dataframe(_alerts_frame(alerts, points=False, t=t), path, layer=ALERTS_LAYER,
                            driver="GPKG")
    pyogrio.write_dataframe(_alerts_frame(alerts, points=True, t=t), path, layer=POINTS_LAYER,
                            driver="GPKG")
    for name, table in (("comments", _comments_frame(comments, t)),
                        ("verdict_choices", _choices_frame(t)),
                        ("package", pd.DataFrame({"key": list(meta),
                                                  "value": list(meta.values())}))):
        pyogrio.write_dataframe(table, path, layer=name, driver="GPKG")


# -- KML --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Chip:
    """An image chip in the KMZ: its server-made path, a label, and its corners if known."""

    name: str
    label: str
    corners: tuple[tuple[float, float], ...] | None


def xml_text(value: object) -> str:
    r"""Escape text for an XML element: ``& < >``, carriage returns, and no illegal characters.

    Characters XML 1.0 cannot hold (most control characters) become U+FFFD; ``\r`` is written
    as a character reference so parsers do not turn it into ``\n``.

    Examples
    --------
    >>> xml_text("a < b ]]> & c")
    'a &lt; b ]]&gt; &amp; c'
    """
    text = _XML_ILLEGAL.sub("\ufffd", str(value))
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


def _h(value: object) -> str:
    """HTML-escape a value for a description (Google Earth renders descriptions as HTML)."""
    return html.escape("" if value is None else str(value), quote=True)


def _description(alert: Alert, comments: Sequence[Mapping[str, Any]],
                 chips: Sequence[_Chip], t: Translator) -> str:
    """Build the balloon's HTML: facts, chips and comments, every value escaped.

    Labels, state and priority names, numbers and the reason are in the language of ``t``;
    each verdict choice also shows the code the GeoPackage's ``verdict`` column takes.
    """
    states, priorities = state_names(t), priority_names(t)
    choices = ", ".join(f"{states.get(s, s)} ({s})" for s in allowed_next(alert.state))
    facts = [(t("State"), states.get(alert.state, alert.state)),
             (t("Priority"), priorities.get(alert.priority, alert.priority)),
             (t("Score"), t.number(alert.score, digits=2)),
             (t("Length (m)"), t.number(round(alert.length_m))),
             (t("Width (m)"), t.number(round(alert.width_m))),
             (t("Bearing (°)"), t.number(round(alert.bearing_deg))),
             (t("Reason"), localize_reason(alert.reason, t, t.number)),
             (t("First seen"), f"{alert.first_seen:%Y-%m-%d}"),
             (t("Last seen"), f"{alert.last_seen:%Y-%m-%d}"),
             (t("Assigned to"), alert.assignee or ""),
             (t("Verdict choices"), choices), (t("Version"), str(alert.version))]
    parts = ["<table>", *(f"<tr><th align=\"left\">{_h(k)}</th><td>{_h(v)}</td></tr>"
                          for k, v in facts), "</table>"]
    parts += [f'<p><img src="{_h(c.name)}" width="256"/><br/>{_h(c.label)}</p>' for c in chips]
    for c in comments:
        when = _h(f"{c['created_at']:%Y-%m-%d %H:%M}")
        parts.append(f"<p><b>{_h(c['author'])}</b> · {when} UTC<br/>"
                     f"<span style=\"white-space:pre-wrap\">"
                     f"{_h(localize_field_comment(c['body'], t))}</span></p>")
    return "".join(parts)


def _comments_text(comments: Sequence[Mapping[str, Any]], t: Translator) -> str:
    return "\n\n".join(f"{c['author']} · {c['created_at']:%Y-%m-%d %H:%M} UTC: "
                       f"{localize_field_comment(c['body'], t)}" for c in comments)


def _extended(alert: Alert, comments: Sequence[Mapping[str, Any]], t: Translator) -> str:
    values = {k: v for k, v in _alert_record(alert, t).items() if k not in EDITABLE_FIELDS}
    values["first_seen"] = alert.first_seen.isoformat()
    values["last_seen"] = alert.last_seen.isoformat()
    values["comments"] = _comments_text(comments, t)
    return "".join(f'<Data name="{k}"><value>{xml_text(v)}</value></Data>'
                   for k, v in values.items())


def _coords(points: Iterable[tuple[float, ...]]) -> str:
    return " ".join(f"{p[0]:.7f},{p[1]:.7f}" for p in points)


def _placemark(alert: Alert, comments: Sequence[Mapping[str, Any]],
               chips: Sequence[_Chip], t: Translator) -> str:
    rings = [alert.geometry.exterior, *alert.geometry.interiors]
    boundaries = [f"<outerBoundaryIs><LinearRing><coordinates>{_coords(rings[0].coords)}"
                  "</coordinates></LinearRing></outerBoundaryIs>"]
    boundaries += [f"<innerBoundaryIs><LinearRing><coordinates>{_coords(r.coords)}"
                   "</coordinates></LinearRing></innerBoundaryIs>" for r in rings[1:]]
    state = state_names(t).get(alert.state, alert.state)
    return (f"<Placemark id=\"alert-{alert.id}\"><name>{xml_text(f'#{alert.id} · {state}')}"
            f"</name><description>{xml_text(_description(alert, comments, chips, t))}"
            "</description>"
            f"<styleUrl>#state-{alert.state}</styleUrl>"
            f"<ExtendedData>{_extended(alert, comments, t)}</ExtendedData>"
            f"<MultiGeometry><Polygon><tessellate>1</tessellate>{''.join(boundaries)}</Polygon>"
            f"<Point><coordinates>{alert.centroid_lon:.7f},{alert.centroid_lat:.7f}"
            "</coordinates></Point></MultiGeometry></Placemark>")


def _style(state: str) -> str:
    color = KML_COLORS.get(state, "ff444444")
    return (f'<Style id="state-{state}"><LineStyle><color>{color}</color><width>3</width>'
            f"</LineStyle><PolyStyle><color>66{color[2:]}</color></PolyStyle>"
            f"<IconStyle><color>{color}</color></IconStyle>"
            "<BalloonStyle><text>$[name]&lt;br/&gt;$[description]</text></BalloonStyle>"
            "</Style>")


def _overlay(alert_id: int, chip: _Chip, *, visible: bool) -> str:
    """Lay a chip on the ground where it was cut (Google Earth's ``gx:LatLonQuad``)."""
    corners = " ".join(f"{x:.7f},{y:.7f}" for x, y in chip.corners or ())
    return (f"<GroundOverlay><name>{xml_text(f'#{alert_id} · {chip.label}')}</name>"
            f"<visibility>{int(visible)}</visibility><Icon><href>{xml_text(chip.name)}</href>"
            f"</Icon><gx:LatLonQuad><coordinates>{corners}</coordinates></gx:LatLonQuad>"
            "</GroundOverlay>")


def _overlays(chips: Mapping[int, list[_Chip]], t: Translator) -> str:
    """Put the chips that know their corners in a folder; show only each alert's newest."""
    parts: list[str] = []
    for aid, found in chips.items():
        placed = [c for c in found if c.corners]
        parts += [_overlay(aid, c, visible=i == len(placed) - 1) for i, c in enumerate(placed)]
    folder = t("image chips")
    return f"<Folder><name>{xml_text(folder)}</name>{''.join(parts)}</Folder>" if parts else ""


def _kml_document(alerts: Sequence[Alert], comments: Mapping[int, list[dict[str, Any]]],
                  chips: Mapping[int, list[_Chip]], meta: Mapping[str, str],
                  t: Translator) -> str:
    """Build the whole KML document (folder ``alerts``, and ``image chips`` if any)."""
    title = t("Atalaya field package {package_id}").format(
        package_id=meta.get("package_id", "")[:8])
    folder = t("alerts")
    body = "".join(_placemark(a, comments.get(a.id, []), chips.get(a.id, []), t)
                   for a in alerts)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<kml xmlns="http://www.opengis.net/kml/2.2" '
            'xmlns:gx="http://www.google.com/kml/ext/2.2"><Document>'
            f"<name>{xml_text(title)}</name>{''.join(_style(s) for s in ALERT_STATES)}"
            f"<Folder><name>{xml_text(folder)}</name>{body}</Folder>"
            f"{_overlays(chips, t)}</Document></kml>\n")


def _corners(meta: Mapping[str, Any]) -> tuple[tuple[float, float], ...] | None:
    """Return the chip's four corners (lon, lat) from its metadata, if present and sane."""
    found = meta.get("corners_lonlat")
    try:
        corners = tuple((float(x), float(y)) for x, y in found)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    plausible = all(math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180
                    and -90 <= y <= 90 for x, y in corners)
    return corners if len(corners) == 4 and plausible else None


def _chip_date(att: Attachment) -> str:
    """Return the chip's date (``YYYY-MM-DD``) from its metadata or when it was taken."""
    return str(att.meta.get("date") or (f"{att.taken_at:%Y-%m-%d}" if att.taken_at else ""))


def _chip_label(att: Attachment, t: Translator) -> str:
    """Return a chip's date, its composite's name in the team's language, and its scene."""
    from geo.imagechips import COMPOSITE_NAMES

    code = str(att.meta.get("composite") or "")
    scene = str(att.meta.get("scene_id") or att.label)
    parts = [_chip_date(att), t(COMPOSITE_NAMES[code]) if code in COMPOSITE_NAMES else code,
             scene]
    return " · ".join(dict.fromkeys(p for p in parts if p))[:200]


def _usable(att: Attachment, total: int, seen: set[str]) -> str | None:
    """Why a chip is left out of the KMZ, or None when it goes in."""
    if att.sha256 in seen:
        return "duplicate"
    if att.media_type not in CHIP_TYPES or att.size_bytes > MAX_CHIP_BYTES:
        return Message("{media_type}, {size} bytes: not a PNG/JPEG/GIF under {cap} MiB",
                       media_type=att.media_type, size=att.size_bytes,
                       cap=MAX_CHIP_BYTES // 2**20)
    if total + att.size_bytes > MAX_CHIPS_TOTAL:
        return Message("the chips already reach {cap} MiB", cap=MAX_CHIPS_TOTAL // 2**20)
    return None


def _collect_chips(store: Store, alerts: Sequence[Alert], t: Translator
                   ) -> tuple[dict[str, bytes], dict[int, list[_Chip]], list[str]]:
    """Chip bytes by server-made KMZ name, chips by alert, and reasons for those left out."""
    files: dict[str, bytes] = {}
    chips: dict[int, list[_Chip]] = {}
    skipped: list[str] = []
    seen: set[str] = set()
    total = 0
    for a in alerts:
        # By date; of two identical chips the first stored is kept (as geo.store.chips does).
        ordered = sorted(read_attachments(store, a.id), key=lambda x: (_chip_date(x), x.id))
        for att in ordered:
            why = _usable(att, total, seen)
            if why is None:
                try:
                    content = read_attachment_content(store, att.id)
                except OSError as exc:  # a chip kept as a server path that has gone
                    why = Message("unreadable ({error})", error=str(exc.strerror))
            if why is not None:
                if why != "duplicate":
                    skipped.append(Message("alert {alert}: attachment {attachment} left out "
                                           "({why})", alert=str(a.id),
                                           attachment=str(att.id), why=why))
                continue
            name = f"images/alert{a.id}_{att.id}.{CHIP_TYPES[att.media_type]}"
            files[name] = content
            total += len(content)
            seen.add(att.sha256)
            chips.setdefault(a.id, []).append(_Chip(name, _chip_label(att, t), _corners(att.meta)))
    return files, chips, skipped


def _write_kmz(store: Store, path: Path, alerts: Sequence[Alert],
               comments: Mapping[int, list[dict[str, Any]]],
               meta: Mapping[str, str], t: Translator) -> tuple[int, list[str]]:
    """Write ``doc.kml`` and the chips; return the number of chips and those left out."""
    files, chips, skipped = _collect_chips(store, alerts, t)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as kmz:
        # doc.kml first: Google Earth reads the first .kml entry of a KMZ.
        kmz.writestr("doc.kml", _kml_document(alerts, comments, chips, meta, t))
        for name, content in files.items():
            kmz.writestr(name, content, compress_type=zipfile.ZIP_STORED)
    return len(files), skipped


def _readme(meta: Mapping[str, str], t: Translator) -> str:
    """Write README.txt in the team's language; field names and state codes stay as typed."""
    moves = "\n".join(f"  {s:<18} -> {', '.join(allowed_next(s)) or '-'}"
                      for s in ALERT_STATES)
    return t(README).format(package_id=meta["package_id"], exported_by=meta["exported_by"],
                            exported_at=meta["exported_at"], alerts=meta["alerts"],
                            max_comment=MAX_COMMENT_CHARS, moves=moves)


#: README.txt of a field package; ``t`` translates it whole (the fields between braces, the
#: file, layer and field names and the state codes stay as they are).
README = marked("""Atalaya field package {package_id}
Exported by {exported_by} at {exported_at}; alerts: {alerts}.

Files
  alerts.gpkg  GeoPackage for QGIS, QField, Mergin Maps: layer "alerts" (polygons, the one
               to edit), "alert_points" (centres), tables "comments", "verdict_choices".
  alerts.kml   for Google Earth (no images).
  alerts.kmz   for Google Earth and offline phone apps, with the image chips (in each
               alert's balloon, and laid on the ground in the folder "image chips").

How to give verdicts (in alerts.gpkg, layer "alerts" only)
  verdict        one of the states listed for that row in "verdict_choices", by its
                 code (e.g. confirmed) or by its name in the table "verdict_choices"
                 (e.g. Confirmed); leave it empty for no verdict.
  field_comment  what you saw (plain text, up to {max_comment} characters).
  visited_at     when you were there (date and time, UTC).
  visited_by     who was there.
  Do not change alert_id or version: the version tells the office whether the alert changed
  while you were away. Changed ones are shown to the reviewer as conflicts, not applied
  silently. Geometry edits are ignored.

Allowed verdicts from each state
{moves}

Send back alerts.gpkg (or this whole ZIP) to the office, to be imported on the alerts page.
""")


def _write_manifest(folder: Path, names: Sequence[str], alerts: Sequence[Alert],
                    meta: Mapping[str, str]) -> None:
    manifest = {**meta, "format": "atalaya-field-package/1",
                "alerts": [{"alert_id": a.id, "version": a.version} for a in alerts],
                "files": {n: sha256_file(folder / n) for n in names}}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False),
                                          encoding="utf-8")


def _zip_folder(folder: Path, names: Sequence[str], out: Path) -> None:
    """Zip the package files at the archive root; replace ``out`` only when complete."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in names:
                archive.write(folder / name, arcname=name)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


def _record_export(store: Store, alerts: Sequence[Alert], *, user: str, package_id: str,
                   at: datetime) -> None:
    """One audit row per exported alert; versions do not move (exporting is a read)."""
    rows: list[dict[str, object]] = [
        {"alert_id": a.id, "action": "field_export", "field": "package",
         "new": {"package_id": package_id, "version": a.version}} for a in alerts]
    in_transaction(store, lambda conn: record(conn, rows, at=at, actor=user))


# -- reading a returned package ---------------------------------------------------------------

def read_field_package(source: Path | bytes) -> FieldReturn:
    """Read and check a returned package: ``alerts.gpkg``, or the ZIP holding it.

    Parameters
    ----------
    source
        A path, or the uploaded bytes (written to a server-made temporary name).

    Raises
    ------
    FieldPackageError
        Not a GeoPackage or ZIP, too large, an unsafe ZIP, no ``alerts`` layer, missing
        fields or too many rows. Problems in single rows are kept in ``FieldRow.problems``.
    """
    with tempfile.TemporaryDirectory(prefix="atalaya-fieldret-") as tmp:
        folder = Path(tmp)
        path = _as_file(source, folder)
        kind = _sniff(path)
        if kind == "zip":
            path = _extract_gpkg(path, folder / "returned.gpkg")
        _check_gpkg_signature(path)
        _check_sqlite_objects(path)
        if path.suffix.lower() != ".gpkg":  # GDAL wants the extension; the copy's name is ours
            path = Path(shutil.copyfile(path, folder / "returned.gpkg"))
        frame, meta = _read_layers(path)
    rows = tuple(_parse_row(i, rec) for i, rec in enumerate(frame.to_dict("records"), start=1))
    return FieldReturn(rows=_flag_duplicates(rows), package_id=meta.get("package_id"),
                       exported_by=meta.get("exported_by"), exported_at=meta.get("exported_at"))


def _as_file(source: Path | bytes, folder: Path) -> Path:
    """Return the package as a file of bounded size (uploads get a server-made name)."""
    if isinstance(source, bytes | bytearray):
        size = len(source)
        path = folder / "upload.bin"
        if size <= MAX_UPLOAD_BYTES:
            path.write_bytes(source)
    else:
        path = Path(source)
        try:
            info = path.stat()
        except OSError as exc:
            raise FieldPackageError(Message("cannot read {name}: {error}", name=repr(path.name),
                                            error=str(exc.strerror))) from exc
        if not stat.S_ISREG(info.st_mode):
            raise FieldPackageError(Message("{name} is not a regular file",
                                            name=repr(path.name)))
        size = info.st_size
    if size > MAX_UPLOAD_BYTES:
        raise FieldPackageError(Message("the package is {size} MiB; at most {cap} MiB is "
                                        "accepted: send only alerts.gpkg",
                                        size=Number(size / 2**20, 0),
                                        cap=MAX_UPLOAD_BYTES // 2**20))
    return path


def _sniff(path: Path) -> Literal["zip", "gpkg"]:
    """Tell a ZIP from a SQLite file by content, whatever the file is called."""
    with path.open("rb") as fh:
        head = fh.read(16)
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if head == _SQLITE_MAGIC:
        return "gpkg"
    text = head[:8].decode("utf-8", "replace")  # text as text, anything else as hex
    raise FieldPackageError(Message("the file is neither a GeoPackage nor a ZIP (its first bytes "
                                    "are {head}); send back alerts.gpkg from the field package",
                                    head=repr(text) if text.isprintable() else head[:8].hex(" ")))


def _check_gpkg_signature(path: Path) -> None:
    size = path.stat().st_size
    if size > MAX_GPKG_BYTES:
        raise FieldPackageError(Message("alerts.gpkg is {size} MiB; at most {cap} MiB is "
                                        "accepted", size=Number(size / 2**20, 0),
                                        cap=MAX_GPKG_BYTES // 2**20))
    with path.open("rb") as fh:
        head = fh.read(72)
    if not head.startswith(_SQLITE_MAGIC) or head[68:72] not in _GPKG_IDS:
        raise FieldPackageError(Message("the file is a SQLite database but not a GeoPackage (no "
                                        "GPKG application id); send back alerts.gpkg from the "
                                        "package"))


def _check_sqlite_objects(path: Path) -> None:
    """Refuse SQL views before GDAL opens the file: reading a view runs its query.

    A returned package has tables only; a view (say a recursive one named ``gpkg_contents``)
    could keep GDAL busy forever. The file is opened read-only and immutable, and the look
    is bounded by a step budget.
    """
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise FieldPackageError(Message("alerts.gpkg cannot be opened ({error})",
                                        error=str(exc))) from exc
    try:
        conn.set_progress_handler(lambda: 1, 2_000_000)  # abort anything that long
        views = [str(r[0]) for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'view' LIMIT 5")]
    except sqlite3.Error as exc:
        raise FieldPackageError(Message("alerts.gpkg is damaged ({error}); send the file the "
                                        "field app saved, unchanged", error=str(exc))) from exc
    finally:
        conn.close()
    if views:
        raise FieldPackageError(Message("alerts.gpkg holds SQL view(s) {views}; a field "
                                        "package has tables only",
                                        views=", ".join(views)[:200]))


def _zip_problems(entries: Sequence[zipfile.ZipInfo]) -> list[Message]:
    """Every unsafe thing about a ZIP's entries (paths, links, sizes, ratios).

    A declared size is shown as the header writes it (digits only), as a claim, not a count.
    """
    problems: list[Message] = []
    if len(entries) > MAX_ZIP_ENTRIES:
        problems.append(Message("{n} entries; a field package has at most {most}",
                                n=len(entries), most=MAX_ZIP_ENTRIES))
    for e in entries:
        parts = e.filename.replace("\\", "/").split("/")
        name = repr(e.filename)
        if e.filename.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            problems.append(Message("entry {name} points outside the archive", name=name))
        if stat.S_ISLNK(e.external_attr >> 16):
            problems.append(Message("entry {name} is a symbolic link", name=name))
        if e.file_size > MAX_UPLOAD_BYTES:
            problems.append(Message("entry {name} declares {size} bytes", name=name,
                                    size=str(e.file_size)))
        elif e.file_size > 2**20 and e.file_size > MAX_ZIP_RATIO * max(e.compress_size, 1):
            ratio = e.file_size // max(e.compress_size, 1)
            problems.append(Message("entry {name} inflates {ratio} times (a zip bomb?)",
                                    name=name, ratio=ratio))
    return problems


def _gpkg_entry(entries: Sequence[zipfile.ZipInfo]) -> zipfile.ZipInfo:
    """Find the one ``alerts.gpkg`` of the archive (at its root or in one folder)."""
    found = [e for e in entries if not e.is_dir()
             and e.filename.replace("\\", "/").rsplit("/", 1)[-1].lower() == GPKG_NAME]
    if len(found) != 1:
        raise FieldPackageError(Message("the ZIP holds {n} files named {name}; expected exactly "
                                        "one (the field package's GeoPackage)", n=len(found),
                                        name=GPKG_NAME))
    if found[0].file_size > MAX_GPKG_BYTES:
        raise FieldPackageError(Message("{name} declares {size} bytes; at most {cap} MiB is "
                                        "accepted", name=found[0].filename,
                                        size=str(found[0].file_size),
                                        cap=MAX_GPKG_BYTES // 2**20))
    return found[0]


def _extract_gpkg(path: Path, target: Path) -> Path:
    """Copy the ZIP's ``alerts.gpkg`` to ``target``; refuse unsafe archives.

    The copy stops at the size cap whatever the entry's header claims.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            problems = _zip_problems(entries)
            if problems:
                raise FieldPackageError(Message("unsafe ZIP, nothing was read: {problems}",
                                                problems=join_messages("; ", problems)))
            entry = _gpkg_entry(entries)
            with archive.open(entry) as src, target.open("wb") as dst:
                _copy_capped(src, dst, MAX_GPKG_BYTES)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise FieldPackageError(Message("the ZIP cannot be read ({error}); send alerts.gpkg "
                                        "alone", error=str(exc))) from exc
    return target


def _copy_capped(src: io.BufferedIOBase | Any, dst: Any, cap: int) -> None:
    copied = 0
    for block in iter(lambda: src.read(1 << 20), b""):
        copied += len(block)
        if copied > cap:
            raise FieldPackageError(Message("alerts.gpkg inflates past {cap} MiB; refused",
                                            cap=cap // 2**20))
        dst.write(block)


@contextmanager
def _gdal_errors(what: str) -> Iterator[None]:
    """Turn GDAL's complaints about a returned file into a :class:`FieldPackageError`."""
    try:
        yield
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.FieldError, pyogrio.errors.FeatureError,
            pyogrio.errors.GeometryError, pyogrio.errors.CRSError, OSError) as exc:
        raise FieldPackageError(Message("{what}: GDAL cannot read it ({error})", what=what,
                                        error=str(exc))) from exc
    except UnicodeError as exc:  # a text cell of bytes that are not UTF-8
        raise FieldPackageError(Message("{what}: a text in it is not UTF-8 ({error}); save "
                                        "it again from QGIS or QField", what=what,
                                        error=str(exc)[:120])) from exc


def _read_layers(path: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read the ``alerts`` attributes (no geometry) and the ``package`` key/values, checked."""
    with _gdal_errors("alerts.gpkg"):
        layers = {str(name) for name, _ in pyogrio.list_layers(path)}
        if ALERTS_LAYER not in layers:
            raise FieldPackageError(Message("alerts.gpkg has no layer {layer} (it has {layers}); "
                                            "send back the GeoPackage of the field package",
                                            layer=repr(ALERTS_LAYER),
                                            layers=", ".join(sorted(layers)) or Message("none")))
        info = pyogrio.read_info(path, layer=ALERTS_LAYER)
        _check_info(info)
        # The count in read_info can be forged (gpkg_ogr_contents); read one row past the cap.
        # "state" (as exported) only explains conflicts; a package without it still works.
        columns = [*REQUIRED_FIELDS, *(["state"] if "state" in list(info["fields"]) else [])]
        frame = pyogrio.read_dataframe(path, layer=ALERTS_LAYER, columns=columns,
                                       read_geometry=False, max_features=MAX_ROWS + 1)
        if len(frame) > MAX_ROWS:
            raise FieldPackageError(Message("layer alerts has more than {most} rows; a field "
                                            "package holds at most that", most=MAX_ROWS))
        meta = _read_meta(path) if "package" in layers else {}
    return _unread_times(path, frame), meta


def _unread_times(path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """Put back the text of each ``visited_at`` GDAL could not read as a date (it reads null).

    A team may type "ayer por la tarde" in the date column; GDAL only warns and gives
    nothing, and the visit would be saved without its time. With the text back, the row's
    check (:func:`_as_time`) says what is wrong. The cells are read in the rows' order, from
    the file opened read-only, with the same step budget as :func:`_check_sqlite_objects`.
    """
    if "visited_at" not in frame.columns or not frame["visited_at"].isna().any():
        return frame
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True)
        try:
            conn.set_progress_handler(lambda: 1, 2_000_000)
            raw = [r[0] for r in conn.execute(
                f'SELECT "visited_at" FROM "{ALERTS_LAYER}" ORDER BY rowid LIMIT ?',
                (MAX_ROWS + 1,))]
        finally:
            conn.close()
    except sqlite3.Error:
        return frame  # the rows were read; a cell that cannot be re-read stays empty
    if len(raw) != len(frame):
        return frame
    cells = [text[:200] if pd.isna(parsed) and isinstance(text, str) and text.strip()
             else parsed for parsed, text in zip(frame["visited_at"], raw, strict=True)]
    return frame.assign(visited_at=pd.Series(cells, index=frame.index, dtype=object))


def _check_info(info: Mapping[str, Any]) -> None:
    problems: list[Message] = []
    if info.get("driver") != "GPKG":
        problems.append(Message("GDAL opened it as {driver}, expected GPKG",
                                driver=repr(info.get("driver"))))
    missing = [f for f in REQUIRED_FIELDS if f not in list(info.get("fields", []))]
    if missing:
        problems.append(Message("layer alerts lacks field(s) {fields}",
                                fields=", ".join(missing)))
    features = int(info.get("features") or 0)
    if features > MAX_ROWS:
        problems.append(Message("layer alerts has {n} rows; at most {most}", n=features,
                                most=MAX_ROWS))
    if problems:
        raise FieldPackageError(Message("alerts.gpkg is not a usable field package: {problems}",
                                        problems=join_messages("; ", problems)))


def _read_meta(path: Path) -> dict[str, str]:
    table = pyogrio.read_dataframe(path, layer="package", read_geometry=False, max_features=100)
    if not {"key", "value"} <= set(table.columns):
        return {}
    return {str(k)[:100]: str(v)[:MAX_NAME_CHARS] for k, v in zip(table["key"], table["value"],
                                                                   strict=True)
            if isinstance(k, str) and isinstance(v, str)}


# -- parsing one row --------------------------------------------------------------------------

def _missing(value: object) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _as_int(value: object, name: str, problems: list[str]) -> int | None:
    """Return a whole number from an int, an integral float or a string of digits."""
    if isinstance(value, bool) or _missing(value):
        problems.append(Message("{name} is empty", name=name))
        return None
    if isinstance(value, numbers.Integral) or (isinstance(value, float)
                                               and value.is_integer()):
        number = int(value)
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    elif (isinstance(value, str) and value.strip().isascii() and value.strip().isdigit()
          and len(value.strip()) < 12):
        number = int(value.strip())
    else:
        problems.append(Message("{name} {value} is not a whole number", name=name,
                                value=repr(str(value)[:40])))
        return None
    if not 1 <= number < 2**31:
        problems.append(Message("{name} {value} is out of range", name=name,
                                value=str(number)))
        return None
    return number


def _as_text(value: object, name: str, limit: int, problems: list[str], *,
             multiline: bool = False) -> str | None:
    if _missing(value):
        return None
    if not isinstance(value, str):
        problems.append(Message("{name} must be text, got {type} {value}", name=name,
                                type=type(value).__name__, value=repr(str(value)[:40])))
        return None
    text = value.strip()
    if len(text) > limit:
        # Digits without grouping, as before ("5000 characters" is matched on).
        problems.append(Message("{name} has {n} characters; at most {most}", name=name,
                                n=str(len(text)), most=str(limit)))
        return None
    bad = _CONTROL if multiline else re.compile("[\x00-\x1f\x7f]")
    if bad.search(text):
        problems.append(Message("{name} contains control characters", name=name))
        return None
    return text


def _as_verdict(value: object, problems: list[str]) -> str | None:
    """Return the state a verdict names: its code, or its name in any interface language.

    As the package's KML lists them: "Destruida (destroyed)" whole is read too.
    """
    text = _as_text(value, "verdict", 60, problems)
    if text is None:
        return None
    named = re.fullmatch(r"(?P<name>.*?)\s*\((?P<code>[\w ]+)\)", text)
    for candidate in ((named["code"], named["name"]) if named else (text,)):
        state = _verdict_names().get(normalise_name(candidate))
        if state is not None:
            return state
    problems.append(Message("verdict {value} is not a state; expected one of {states}",
                            value=repr(text), states=", ".join(ALERT_STATES)))
    return None


@lru_cache(maxsize=1)
def _verdict_names() -> dict[str, str]:
    """Each state's code, and its names in every interface language, normalised."""
    names = {code: code for code in ALERT_STATES}
    for key, codes in codes_by_name(state_names).items():
        names.setdefault(key, codes[0])
    return names


def _as_time(value: object, problems: list[str]) -> datetime | None:
    """Return a visit time: a datetime or ISO 8601 text; naive times are taken as UTC."""
    if _missing(value):
        return None
    try:
        when = pd.Timestamp(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (ValueError, TypeError, OverflowError):
        problems.append(Message("visited_at {value} is not a date and time (ISO 8601)",
                                value=repr(str(value)[:40])))
        return None
    if pd.isna(when):
        return None
    when = when.tz_localize(UTC) if when.tzinfo is None else when.tz_convert(UTC)
    moment: datetime = when.floor("s").to_pydatetime()
    if not datetime(2000, 1, 1, tzinfo=UTC) <= moment <= datetime.now(UTC) + timedelta(days=1):
        problems.append(Message("visited_at {value} is before 2000 or in the future",
                                value=moment.isoformat()))
        return None
    return moment


def _known_state(value: object) -> str | None:
    return value if isinstance(value, str) and value in ALERT_STATES else None


def _parse_row(index: int, rec: Mapping[Any, Any]) -> FieldRow:
    problems: list[str] = []
    return FieldRow(
        row=index,
        alert_id=_as_int(rec.get("alert_id"), "alert_id", problems),
        exported_version=_as_int(rec.get("version"), "version", problems),
        verdict=_as_verdict(rec.get("verdict"), problems),
        comment=_as_text(rec.get("field_comment"), "field_comment", MAX_COMMENT_CHARS,
                         problems, multiline=True),
        visited_at=_as_time(rec.get("visited_at"), problems),
        visited_by=_as_text(rec.get("visited_by"), "visited_by", MAX_NAME_CHARS, problems),
        problems=tuple(problems), exported_state=_known_state(rec.get("state")))


def _flag_duplicates(rows: tuple[FieldRow, ...]) -> tuple[FieldRow, ...]:
    seen = Counter(r.alert_id for r in rows if r.alert_id is not None)
    return tuple(
        replace(r, problems=(*r.problems, Message("alert {id} appears {n} times; keep one row",
                                                  id=str(r.alert_id), n=seen[r.alert_id])))
        if r.alert_id is not None and seen[r.alert_id] > 1 else r for r in rows)


# -- planning ---------------------------------------------------------------------------------

#: How the audit log's ``request_id`` of a change applied from a returned package begins.
FIELD_REQUEST_PREFIX = "fieldpkg:"


def _request_id(row: FieldRow) -> str:
    """Give the same filled row always the same id, so importing it again is a no-op."""
    key = json.dumps([row.alert_id, row.exported_version, row.verdict, row.comment,
                      None if row.visited_at is None else row.visited_at.isoformat(),
                      row.visited_by], ensure_ascii=False)
    return FIELD_REQUEST_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


def field_comment_body(row: FieldRow) -> str | None:
    """Return the comment added for a row: the team's text tagged with who visited and when.

    Stored in English (``[field visit: luis, 2026-12-03 10:00 UTC] ...``) and shown in the
    reader's language by :func:`localize_field_comment`.
    """
    visit = [v for v in (row.visited_by,
                         None if row.visited_at is None
                         else f"{row.visited_at:%Y-%m-%d %H:%M} UTC") if v]
    tag = "[field visit" + (": " + ", ".join(visit) if visit else "") + "]"
    if row.comment is not None:
        return f"{tag} {row.comment}"
    if row.verdict is not None and visit:
        return f"{tag} verdict: {row.verdict}"
    return None


_FIELD_TAG = re.compile(r"\[field visit(?:: (?P<visit>[^\]]*))?\] (?P<rest>.*)\Z", re.DOTALL)
_VERDICT_ONLY = re.compile(r"verdict: (?P<verdict>[a-z_]+)\Z")


def is_field_comment(body: str) -> bool:
    """Whether a comment came back in a field package (tagged by :func:`field_comment_body`).

    Examples
    --------
    >>> is_field_comment("[field visit: luis] verdict: confirmed"), is_field_comment("ok")
    (True, False)
    """
    return _FIELD_TAG.match(body) is not None


def localize_field_comment(body: str, t: Translator) -> str:
    """Write a field package comment's tag (:func:`field_comment_body`) in ``t``'s language.

    The team's own text, and any other comment, is kept as written.

    Examples
    --------
    >>> es = Translator("es")
    >>> localize_field_comment("[field visit: luis, 2026-12-03 10:00 UTC] verdict: confirmed", es)
    '[visita de campo: luis, 2026-12-03 10:00 UTC] veredicto: Confirmada'
    >>> localize_field_comment("[field visit] pista activa", es)
    '[visita de campo] pista activa'
    """
    found = _FIELD_TAG.match(body)
    if found is None:
        return body
    tag = t("field visit") + (f": {found['visit']}" if found["visit"] else "")
    rest = found["rest"]
    verdict = _VERDICT_ONLY.match(rest)
    if verdict is not None:
        names = state_names(t)
        if verdict["verdict"] in names:
            rest = t("verdict: {state}").format(state=names[verdict["verdict"]])
    return f"[{tag}] {rest}"


def plan_import(store: Store, returned: FieldReturn, *, user: str = "",
                role: Role | str | None = None) -> ImportPlan:
    """Compare a returned package with the store; nothing is written.

    See the module notes for the four kinds of item and the conflict rule. ``user`` and
    ``role``: who would apply it. A row they could not enter on the alert's page
    (:func:`~geo.store.alerts.change_refusal`: a verdict from a role without verdicts, a
    change to an alert assigned to someone else) is rejected, with the reason, and nothing
    of it is written: someone who may can apply the same package later. None: not checked.
    """
    ids = {r.alert_id for r in returned.rows if r.alert_id is not None and not r.problems}
    current, applied = _store_side(store, ids, [_request_id(r) for r in returned.rows])
    items = tuple(_may(_decide(r, current.get(r.alert_id or 0), applied),
                       current.get(r.alert_id or 0), user, role) for r in returned.rows)
    return ImportPlan(items=items, package_id=returned.package_id)


def _may(item: PlanItem, alert: Alert | None, user: str, role: Role | str | None) -> PlanItem:
    """Keep of ``item`` what ``user`` in ``role`` may apply (see :func:`plan_import`)."""
    if alert is None or role is None or item.kind not in ("apply", "conflict"):
        return item
    moves = item.verdict is not None and item.verdict != alert.state
    why = change_refusal(alert, {"state": item.verdict} if moves else {},
                         comment=item.comment is not None, actor=user.strip(), role=role)
    return item if why is None else replace(item, kind="rejected", reason=why)


def _store_side(store: Store, ids: set[int], request_ids: Sequence[str]
                ) -> tuple[dict[int, Alert], dict[str, tuple[str, datetime]]]:
    """Read the alerts named by the package and which of its rows were already imported."""
    found: dict[int, Alert] = {}
    r = tb.applied_requests.c
    with read_tx(store) as conn:
        existing = set(conn.execute(select(tb.alerts.c.id).where(tb.alerts.c.id.in_(ids)))
                       .scalars())
        for alert_id in sorted(existing):
            found[alert_id] = load_alert(conn, alert_id, lock=False)
        done = conn.execute(select(r.request_id, r.actor, r.applied_at)
                            .where(r.request_id.in_(list(request_ids)))).all()
    return found, {row.request_id: (row.actor, row.applied_at) for row in done}


def _decide(row: FieldRow, alert: Alert | None,
            applied: Mapping[str, tuple[str, datetime]]) -> PlanItem:
    """Classify one row against the alert as it is in the store."""
    item = PlanItem(row=row.row, alert_id=row.alert_id, kind="unchanged", reason="",
                    verdict=row.verdict, comment=field_comment_body(row),
                    exported_version=row.exported_version, request_id=_request_id(row))
    if row.problems:
        return replace(item, kind="rejected", reason=join_messages("; ", row.problems))
    if not row.filled:
        return replace(item, reason=Message("nothing filled in"))
    if alert is None:
        return replace(item, kind="rejected", reason=Message(
            "no alert {id} in this store; the package may come from another store",
            id=str(row.alert_id)))
    item = replace(item, store_state=alert.state, store_version=alert.version,
                   updated_by=alert.updated_by, updated_at=alert.updated_at)
    done = applied.get(item.request_id or "")
    if done is not None:
        return replace(item, reason=Message("already imported by {who} at {when} UTC",
                                            who=done[0], when=f"{done[1]:%Y-%m-%d %H:%M}"))
    kind, reason = _verdict_kind(row, alert)
    return replace(item, kind=kind, reason=reason)


def _verdict_kind(row: FieldRow, alert: Alert) -> tuple[Kind, str]:
    """Kind and reason of a filled, valid row whose alert exists."""
    if row.verdict is None or row.verdict == alert.state:
        if field_comment_body(row) is None:
            return "unchanged", Message("already {state}", state=alert.state)
        return "apply", Message("comment only (comments never conflict)")
    allowed = row.verdict in allowed_next(alert.state)
    if alert.version != row.exported_version:
        # Versions are labels (shown as written), as the import table shows them.
        values = {"exported": str(row.exported_version), "version": str(alert.version),
                  "who": alert.updated_by, "when": f"{alert.updated_at:%Y-%m-%d %H:%M}",
                  "state": state_word(alert.state)}
        if not allowed:  # no use offering to accept a move the state machine refuses
            return "rejected", Message(
                "changed since export (version {exported} -> {version}) by {who} at {when} "
                "UTC; now {state}, which cannot go to {verdict} (it can go to {options})",
                verdict=state_word(str(row.verdict)), options=_options(alert.state), **values)
        if row.exported_state == alert.state:
            return "conflict", Message(
                "changed since export (version {exported} -> {version}) by {who} at {when} UTC; "
                "now {state} (the review state is as exported; other fields changed)", **values)
        return "conflict", Message("changed since export (version {exported} -> {version}) by "
                                   "{who} at {when} UTC; now {state}", **values)
    if not allowed:
        return "rejected", Message("cannot move from {state} to {verdict}; from {state} it can "
                                   "go to {options}", state=state_word(alert.state),
                                   verdict=state_word(str(row.verdict)),
                                   options=_options(alert.state))
    return "apply", Message("{state} -> {verdict}", state=state_word(alert.state),
                            verdict=state_word(str(row.verdict)))


def state_word(code: str) -> Message | str:
    """Name a review state in English, written in the reader's language where it is shown."""
    name = _english_state_names().get(code)
    return code if name is None else Message(name)


@lru_cache(maxsize=1)
def _english_state_names() -> dict[str, str]:
    return state_names(Translator("en"))


def _options(state: str) -> Message:
    """List the states ``state`` may move to, as words (or "nowhere")."""
    targets = allowed_next(state)
    return join_messages(", ", [state_word(s) for s in targets]) if targets else Message(
        "nowhere")


# -- applying ---------------------------------------------------------------------------------

def apply_import(store: Store, plan: ImportPlan, user: str,
                 accept_conflicts: Collection[int] = frozenset(), *,
                 role: Role | str | None = None) -> ImportReport:
    """Apply the plan's ``apply`` items and the conflicts named in ``accept_conflicts``.

    Each item is one :func:`~geo.store.update_alert` (verdict and comment in one transaction,
    audited under ``user``, with the row's request id). An accepted conflict is applied at the
    version the plan showed, so a further change since the plan fails rather than being
    overwritten; the move is checked again from the current state, and so is ``role``'s right
    to make it (None: not checked). Items that fail are reported, not raised: the others still
    apply.
    """
    user = _check_user(user)
    report = ImportReport()
    for item in plan.items:
        if item.kind == "conflict" and item.alert_id not in accept_conflicts:
            report.skipped_conflicts.append(int(item.alert_id or 0))
        elif item.kind == "apply" or item.kind == "conflict":
            _apply_item(store, item, user, report, role)
    return report


def _change_for(store: Store, item: PlanItem) -> AlertChange:
    """Build the change of one item, made from the version the decision was based on."""
    assert item.alert_id is not None
    moves = item.verdict is not None and item.verdict != item.store_state
    if item.kind == "conflict":
        version, state = item.store_version, item.verdict if moves else None
    elif moves:
        version, state = item.exported_version, item.verdict
    else:  # comment only: comments never conflict, so take the current version
        version, state = get_alert(store, item.alert_id).version, None
    assert version is not None
    return AlertChange(item.alert_id, version, state=state, comment=item.comment,
                       request_id=item.request_id)


def _was_applied(store: Store, item: PlanItem) -> bool:
    """Whether the item's request id was applied since the plan was made.

    ``update_alert`` itself never applies a request id twice; this check only keeps the
    report honest.
    """
    r = tb.applied_requests.c
    with read_tx(store) as conn:
        found = conn.execute(select(r.request_id).where(r.request_id == item.request_id))
        return found.first() is not None


def _apply_item(store: Store, item: PlanItem, user: str, report: ImportReport,
                role: Role | str | None) -> None:
    alert_id = int(item.alert_id or 0)
    try:
        change = _change_for(store, item)
        if (change.state is None and change.comment is None) or _was_applied(store, item):
            report.already.append(alert_id)  # e.g. the same plan applied from two tabs
            return
        update_alert(store, change, actor=user, role=role)
    except AtalayaError as err:  # stale since the plan, impossible move now, store busy,
        # or (role) the alert was assigned to someone else since
        report.failed.append((alert_id, message_of(err)))
        return
    report.applied.append(alert_id)
    if change.state is not None:
        report.verdicts.append(alert_id)
    if change.comment is not None:
        report.comments.append(alert_id)
