"""Merge detection results into alerts by geometry overlap.

Rule
----
A candidate is the same strip as an alert when their rectangles overlap by at least
``min_overlap`` of the smaller one (the rule ``geo.detect`` uses to suppress duplicates); the
alert with the largest overlap wins. Otherwise it becomes a new alert. Candidates are taken
oldest first, so several dates of one strip in one frame make one alert.

Each alert keeps one detection row per scene (the best-scoring candidate of that scene). The
alert's machine fields - geometry, score, measurements, reason, scene, ``first_seen``,
``last_seen``, number of detections - are a projection of its detections (the latest scene
wins), so merging is idempotent and does not depend on the order of the frames. Its state on
the imagery (``detection_state``) is the lead candidate's own while the alert has sightings on
one day and no recorded absence; after that it is the lifecycle over its detections (their
``bare_contrast``, as the tracker's) and absences, unless the lead's tracked run said
overgrown, destroyed or reopened (it saw dates the store did not). The machine
never writes the review ``state``, the assignee, or a priority a person has set; it sets the
priority only while the alert is ``new``: the lead candidate's, one step lower when the
alert's state on the imagery is overgrown or destroyed, with a note on the reason
(:func:`geo.detect.lifecycle.state_priority`). A machine change bumps the version and is audited
like a person's, so a stale copy in someone's browser is refused rather than overwritten.

Merges run one at a time (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), so
two detection runs at once cannot both create the same strip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, delete, func, insert, select, update

from geo.countries import locate_countries
from geo.crs import require_crs
from geo.detect.lifecycle import (
    MIN_OBSERVED,
    MIN_OVERLAP,
    lifecycle_state,
    overlap_share,
    state_priority,
    without_state_note,
)
from geo.errors import SchemaError
from geo.i18n import Message
from geo.store import tables as t
from geo.store.alerts import ALERT_FIELDS, load_alert, write_fields
from geo.store.audit import field_changes, record
from geo.store.engine import Store, in_transaction, read_tx
from geo.store.migrations import PG_MIGRATION_LOCK, backfill_countries
from geo.store.notify import IMAGERY_NEWS, notify

PG_MERGE_LOCK = PG_MIGRATION_LOCK + 1
REQUIRED = ("scene_id", "detected_at", "score", "length_m", "width_m", "bearing_deg")
_OPTIONAL = ("scene", "candidate_id", "reason", "priority", "aerodrome_km", "nearest_aerodrome",
             "bare_contrast")

#: States a tracked run (``geo.detect --track``) can give from dates the store holds no record
#: of (a clear look without the strip, a contrast it did not store): the alert's own history
#: does not overrule them. ``new`` and ``active`` it does: a run of one date says ``new``.
_TRACKER_STATES = frozenset({"overgrown", "destroyed", "reopened"})


@dataclass(frozen=True)
class Look:
    """Where a scene of a detection run looked at a strip's ground and found no candidate.

    ``alert_id`` names an existing alert; None asks the merge to find the alert whose
    rectangle overlaps ``geometry`` (a strip this run found on another of its scenes).
    """

    scene_id: str
    observed_at: datetime
    geometry: BaseGeometry
    clear_share: float
    alert_id: int | None = None


#: Share of a strip's pixels a scene must see clearly for its absence to count.
MIN_CLEAR = MIN_OBSERVED


@dataclass
class MergeReport:
    """Alert ids created, changed and left as they were by one merge.

    ``absent``: the alerts this merge gave a new absence (a scene saw the strip's ground
    clearly and no candidate on it); each is also in ``updated`` or ``unchanged``.
    ``not_yet``: those of ``absent`` whose every new absence is dated before the strip was
    first seen: an older scene, from before it was cleared (when it was built, not that it
    is gone).
    """

    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    absent: list[int] = field(default_factory=list)
    not_yet: list[int] = field(default_factory=list)


def _check_frame(candidates: gpd.GeoDataFrame) -> None:
    """Refuse a frame that is not in EPSG:4326, lacks a column or has non-polygons."""
    require_crs(candidates, 4326, what=Message("runway candidates"))
    missing = [c for c in REQUIRED if c not in candidates.columns]
    if missing:
        raise SchemaError(Message("candidates lack column(s) {columns}; expected the output of "
                                  "geo.detect (CANDIDATES layer)", columns=", ".join(missing)))
    geoms = candidates.geometry.to_numpy()
    if not all(g is not None and g.geom_type == "Polygon" and not g.is_empty for g in geoms):
        raise SchemaError(Message("every candidate needs a non-empty Polygon geometry"))


def _sighting(rec: dict[str, Any], geom: BaseGeometry) -> dict[str, Any]:
    """One candidate row as detection values (plain Python, UTC to the microsecond)."""
    row: dict[str, Any] = {k: _plain(rec[k]) for k in REQUIRED}
    row.update({k: _plain(rec.get(k)) for k in _OPTIONAL})
    empty = [k for k in REQUIRED if row[k] is None]
    if empty:
        raise SchemaError(Message("candidate {candidate} has no value for {columns}; fill them "
                                  "in or drop the row", candidate=repr(row.get("candidate_id")),
                                  columns=", ".join(empty)))
    when = pd.Timestamp(row["detected_at"])
    if when.tzinfo is None:
        raise SchemaError(Message("detected_at {when} has no time zone; expected UTC times",
                                  when=str(when)))
    row["bare_contrast"] = _contrast(row["bare_contrast"], row.get("candidate_id"))
    row.update(detection_state=_plain(rec.get("state")), geometry=shapely.normalize(geom),
               scene_id=str(row["scene_id"]),
               detected_at=when.tz_convert(UTC).floor("us").to_pydatetime())
    return row


def _contrast(value: Any, candidate: Any) -> float | None:
    """Return a candidate's ``bare_contrast`` as a float (None when absent); refuse others."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0.0 <= number < float("inf"):
        raise SchemaError(Message("candidate {candidate} has bare_contrast {value}; expected a "
                                  "number >= 0 (geo.detect writes it) or nothing",
                                  candidate=repr(candidate), value=repr(value)))
    return number


def _sightings(candidates: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Candidate rows as detection values, oldest first, best score first within a date.

    An empty frame has nothing to check (a run that found nothing may still bring looks).
    """
    if candidates.empty:
        return []
    _check_frame(candidates)
    rows = [_sighting(rec, geom) for rec, geom in
            zip(candidates.to_dict("records"), candidates.geometry.to_numpy(), strict=True)]
    return sorted(rows, key=lambda r: (r["detected_at"], -r["score"], r["geometry"].wkb))


def _plain(value: Any) -> Any:
    """NumPy/pandas scalars to Python ones; NaN and NA to None."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _match(conn: Connection, geom: BaseGeometry, min_overlap: float) -> int | None:
    """Id of the alert overlapping ``geom`` the most, if any overlaps enough."""
    x0, y0, x1, y1 = geom.bounds
    a = t.alerts.c
    near = conn.execute(select(a.id, a.geometry).where(
        a.max_lon >= x0, a.min_lon <= x1, a.max_lat >= y0, a.min_lat <= y1)).all()
    scored = sorted(((overlap_share(geom, g), -i) for i, g in near), reverse=True)
    if scored and scored[0][0] >= min_overlap:
        return int(-scored[0][1])
    return None


def _geometry_fields(geom: BaseGeometry) -> dict[str, Any]:
    x0, y0, x1, y1 = geom.bounds
    c = geom.centroid
    return {"geometry": geom, "min_lon": x0, "min_lat": y0, "max_lon": x1, "max_lat": y1,
            "centroid_lon": c.x, "centroid_lat": c.y,
            "country": locate_countries([c.x], [c.y])[0]}


_SIGHTING = ("geometry", "score", "length_m", "width_m", "bearing_deg", "scene_id", "scene",
             "candidate_id", "detection_state", "reason", "aerodrome_km", "nearest_aerodrome")


def _create(conn: Connection, s: dict[str, Any], *, actor: str, at: datetime) -> int:
    values = {k: s[k] for k in _SIGHTING}
    values.update(_geometry_fields(s["geometry"]))
    priority, reason = state_priority(s["priority"] or "medium", s["reason"],
                                      s["detection_state"])
    values.update(reason=reason, priority=priority, first_seen=s["detected_at"],
                  last_seen=s["detected_at"], detections=1, version=1, created_at=at,
                  created_by=actor, updated_at=at, updated_by=actor)
    # the values as parameters: one cached statement (``.values()`` built one per row)
    key = conn.execute(insert(t.alerts), values).inserted_primary_key
    assert key is not None
    alert_id = int(key[0])
    _insert_detection(conn, alert_id, s, at)
    created = {"state": "new", **{k: values[k] for k in ("priority", "score", "scene_id",
                                                           "country", "geometry")}}
    record(conn, [{"alert_id": alert_id, "action": "create", "field": k, "new": v}
                  for k, v in created.items()], at=at, actor=actor)
    return alert_id


def _detection_values(s: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {**{k: s[k] for k in _SIGHTING}, "reason": s["reason"] or "",
            "detected_at": s["detected_at"], "priority": s["priority"], "recorded_at": at,
            "bare_contrast": s["bare_contrast"]}


def _insert_detection(conn: Connection, alert_id: int, s: dict[str, Any], at: datetime) -> None:
    conn.execute(insert(t.detections), {"alert_id": alert_id, **_detection_values(s, at)})


def _absorb_detection(conn: Connection, alert_id: int, s: dict[str, Any], at: datetime) -> None:
    """Add the sighting to the alert's history, or improve that scene's sighting."""
    d = t.detections.c
    old = conn.execute(select(d.id, d.score).where(
        d.alert_id == alert_id, d.scene_id == s["scene_id"])).first()
    ab = t.absences.c  # found after all (a run at a lower operating point)
    conn.execute(delete(t.absences).where(ab.alert_id == alert_id, ab.scene_id == s["scene_id"]))
    if old is None:
        _insert_detection(conn, alert_id, s, at)
    elif s["score"] > old.score:
        conn.execute(update(t.detections).where(d.id == old.id)
                     .values(**_detection_values(s, at)))


def _projection(conn: Connection, alert_id: int, state: str,
                priority_locked: bool) -> dict[str, Any]:
    """Machine fields of an alert from its detections (the latest, best one leads)."""
    d = t.detections.c
    rows = conn.execute(select(t.detections).where(d.alert_id == alert_id)).mappings().all()
    lead = max(rows, key=lambda r: (r["detected_at"], r["score"], r["id"] * -1))
    values: dict[str, Any] = {k: lead[k] for k in _SIGHTING}
    values.update(_geometry_fields(lead["geometry"]),
                  first_seen=min(r["detected_at"] for r in rows),
                  last_seen=max(r["detected_at"] for r in rows), detections=len(rows))
    ab = t.absences.c
    absent = list(conn.execute(select(ab.observed_at).where(ab.alert_id == alert_id)).scalars())
    days = {pd.Timestamp(r["detected_at"]).tz_convert("UTC").date() for r in rows}
    if absent or (len(days) > 1 and values["detection_state"] not in _TRACKER_STATES):
        values["detection_state"] = lifecycle_state(_measures(rows), absent)
    # else the lead candidate's own state (the tracker of its run) stands
    if state == "new" and not priority_locked and lead["priority"] is not None:
        # grown over or gone: one step lower, and the reason says so
        values["priority"], values["reason"] = state_priority(
            lead["priority"], values["reason"], values["detection_state"])
    else:  # the priority stays: a tracked run's note on lowering it would be untrue here
        values["reason"] = without_state_note(values["reason"])
    return values


def _measures(rows: Sequence[Any]) -> list[tuple[datetime, float]]:
    """(date, measure) of each detection for :func:`~geo.detect.lifecycle.lifecycle_state`.

    The measure is ``bare_contrast``, as the tracker's (a strip half green again keeps about
    half of it), when every detection has one; else the score (sightings stored before
    schema version 12, or candidates from elsewhere), which barely moves as a strip regrows:
    such an alert is seldom called overgrown.
    """
    key = "bare_contrast" if all(r["bare_contrast"] is not None for r in rows) else "score"
    return [(r["detected_at"], float(r[key])) for r in rows]


def _refresh(conn: Connection, alert_id: int, *, actor: str, at: datetime,
             news: bool = True) -> bool:
    """Bring an alert's machine fields up to its detections; True when something changed.

    With ``news``, a change of ``detection_state`` into one of :data:`IMAGERY_NEWS`
    (destroyed, reopened) notifies the alert's followers, in this transaction.
    """
    current = load_alert(conn, alert_id, lock=True)
    values = _projection(conn, alert_id, current.state, current.priority_locked)
    shown = {k: v for k, v in values.items() if k in ALERT_FIELDS}
    rows = field_changes(alert_id, "merge", {k: getattr(current, k) for k in shown}, shown)
    if not rows:
        return False
    write_fields(conn, current, values, actor=actor, at=at)
    record(conn, rows, at=at, actor=actor)
    was, now = current.detection_state, values.get("detection_state", current.detection_state)
    if news and now != was and now in IMAGERY_NEWS:
        notify(conn, load_alert(conn, alert_id, lock=False), "imagery_change", actor=actor,
               at=at, old_state=was)
    return True


def merge_candidates(store: Store, candidates: gpd.GeoDataFrame, *, actor: str = "detector",
                     min_overlap: float = MIN_OVERLAP, looks: Sequence[Look] = ()) -> MergeReport:
    """Merge a CANDIDATES frame (from ``geo.detect``, EPSG:4326) into the alerts, atomically.

    Parameters
    ----------
    candidates
        Rows with ``scene_id``, ``detected_at``, ``score``, ``length_m``, ``width_m``,
        ``bearing_deg`` and a Polygon geometry; ``scene``, ``candidate_id``, ``state``,
        ``reason``, ``priority``, ``aerodrome_km``, ``nearest_aerodrome`` are kept when present.
    actor
        Who is recorded in the audit log (the detector run).
    min_overlap
        Share of the smaller rectangle two rectangles must share to be the same strip.
    looks
        Where the run's scenes saw strips' ground and found nothing (see :func:`merge_in`).

    Returns
    -------
    MergeReport
        The alert ids created, updated and untouched.
    """
    sightings = _sightings(candidates)
    at = datetime.now(UTC)
    return in_transaction(store, lambda conn: _merge_sightings(
        conn, sightings, actor=actor, at=at, min_overlap=min_overlap, looks=looks))


def merge_in(conn: Connection, candidates: gpd.GeoDataFrame, *, actor: str = "detector",
             min_overlap: float = MIN_OVERLAP, looks: Sequence[Look] = ()) -> MergeReport:
    """Merge as :func:`merge_candidates` does, on the caller's open transaction ``conn``.

    For work whose own state must commit with the alerts (a background detection job marks
    itself done in the same transaction). ``looks``: where the run's scenes saw strips'
    ground and found nothing; each one seeing at least :data:`MIN_CLEAR` of an alert
    without a detection from that scene is recorded as an absence, and the alert's
    ``detection_state`` becomes its lifecycle over detections and absences
    (:func:`geo.detect.lifecycle.lifecycle_state`): seen, then clearly absent is ``destroyed``.
    """
    sightings = _sightings(candidates)
    return _merge_sightings(conn, sightings, actor=actor, at=datetime.now(UTC),
                            min_overlap=min_overlap, looks=looks)


def _record_absences(conn: Connection, looks: Sequence[Look], *, at: datetime,
                     min_overlap: float) -> tuple[set[int], set[int]]:
    """Insert the clear looks as absences of their alerts.

    Returns the alerts given one, and those of them given only absences dated before their
    first sighting (:attr:`MergeReport.not_yet`).
    """
    d, ab = t.detections.c, t.absences.c
    touched: set[int] = set()
    later: set[int] = set()  # given an absence on or after the strip's first sighting
    for look in looks:
        if look.clear_share < MIN_CLEAR:
            continue
        alert_id = (look.alert_id if look.alert_id is not None
                    else _match(conn, look.geometry, min_overlap))
        if alert_id is None or conn.execute(select(d.id).where(
                d.alert_id == alert_id, d.scene_id == look.scene_id)).first() is not None:
            continue  # no such strip, or the scene found it after all
        if conn.execute(select(ab.id).where(ab.alert_id == alert_id,
                                            ab.scene_id == look.scene_id)).first() is None:
            conn.execute(insert(t.absences).values(
                alert_id=alert_id, scene_id=look.scene_id, observed_at=look.observed_at,
                clear_share=round(min(1.0, max(0.0, look.clear_share)), 4), recorded_at=at))
            touched.add(alert_id)
            first = conn.execute(select(func.min(d.detected_at))
                                 .where(d.alert_id == alert_id)).scalar()
            if first is None or look.observed_at >= first:  # both aware (UTCDateTime)
                later.add(alert_id)
    return touched, touched - later


def _merge_sightings(conn: Connection, sightings: list[dict[str, Any]], *, actor: str,
                     at: datetime, min_overlap: float,
                     looks: Sequence[Look] = ()) -> MergeReport:
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(PG_MERGE_LOCK)))
    report = MergeReport()
    touched: set[int] = set()
    for s in sightings:
        alert_id = _match(conn, s["geometry"], min_overlap)
        if alert_id is None:
            report.created.append(_create(conn, s, actor=actor, at=at))
        else:
            _absorb_detection(conn, alert_id, s, at)
            touched.add(alert_id)
    absent, not_yet = _record_absences(conn, looks, at=at, min_overlap=min_overlap)
    report.absent, report.not_yet = sorted(absent), sorted(not_yet)
    touched |= absent
    for alert_id in sorted(touched | set(report.created)):  # lock in id order
        changed = _refresh(conn, alert_id, actor=actor, at=at,
                           news=alert_id not in report.created)  # new: told so below
        if alert_id not in report.created:
            (report.updated if changed else report.unchanged).append(alert_id)
    for alert_id in report.created:  # in the merge's transaction, like the alerts
        notify(conn, load_alert(conn, alert_id, lock=False), "new_alert", actor=actor, at=at)
    return report


def read_absences(store: Store, alert_id: int) -> list[dict[str, Any]]:
    """Return the scenes that saw an alert's ground clearly without the strip, oldest first."""
    ab = t.absences.c
    query = select(t.absences).where(ab.alert_id == alert_id).order_by(ab.observed_at, ab.id)
    with read_tx(store) as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def read_detections(store: Store, alert_id: int) -> list[dict[str, Any]]:
    """Return the detection history of an alert, oldest sighting first (geometry as shapely)."""
    d = t.detections.c
    query = select(t.detections).where(d.alert_id == alert_id).order_by(d.detected_at, d.id)
    with read_tx(store) as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def fill_countries(store: Store) -> int:
    """Set the country of alerts that have none (e.g. merged while the borders were missing).

    Returns how many alerts got one; alerts at sea keep ``None``. Versions and the audit log
    are left alone: the country is derived from the geometry, not anyone's decision.
    """
    return in_transaction(store, backfill_countries)
