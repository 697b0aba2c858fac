"""An alert's audit history as a table a reviewer reads: names, not column codes.

The audit log (:mod:`geo.store.audit`) keeps each change as the store's field name and JSON
values (geometries as WKT, times as ISO 8601, an image chip as its id, label and hash). The
alert page shows them in the reader's language: the field as the page names it elsewhere, a
state or priority by its name, a country by its name, numbers with the language's separators,
a geometry by its centre, an image chip by its composite's name and scene.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
import streamlit as st
from shapely.errors import ShapelyError

from geo.detect.reasons import localize_reason
from geo.i18n import Translator
from geo.schema import shown_score
from geo.store.chips import CHIP_KIND
from geo.store.fieldpkg import FIELD_REQUEST_PREFIX, localize_field_comment
from geo.store.states import priority_names, state_names
from ui.labels import chip_names, map_labels


def history_table(entries: Sequence[Any], t: Translator, *,
                  actors: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Tabulate audit entries (:class:`geo.store.audit.AuditEntry`) in the reader's language.

    ``actors`` renames machine actors (the data folder's detector). An image chip is cut when
    someone first opens the alert: the line says so, so that the person who opened it does not
    read as having added evidence, and the chips of one opening (one per date and composite,
    audited one by one, next to each other) make one line.
    """
    actions = action_names(t)
    chip = t("Image chip cut on opening the alert")
    names, shown = field_names(t), value_formats(t)
    rows: list[dict[str, str]] = []
    last_chips: tuple[str, list[str]] | None = None  # (actor, values) of the row just added

    def comment(value: Any) -> str:  # a field package's tag in the reader's language
        return localize_field_comment(str(value), t)

    for e in entries:
        field = e.field or ""
        show = comment if e.action == "comment" else shown.get(field, _text)
        if e.action == "attach" and field == CHIP_KIND:
            # the chips cut at one opening (one per scene and composite) make one line
            value = "" if e.new_value is None else show(e.new_value)
            if last_chips is not None and last_chips[0] == e.actor:
                last_chips[1].append(value)
                rows[-1][t("What")] = t("{n} image chips cut on opening the alert").format(
                    n=t.number(len(last_chips[1])))
                rows[-1][t("After")] = "; ".join(last_chips[1])
                continue
            last_chips = (e.actor, [value])
        else:
            last_chips = None
        before = "" if e.old_value is None else show(e.old_value)
        after = "" if e.new_value is None else show(e.new_value)
        if field == "score" and before == after and e.old_value != e.new_value:
            # a re-detection moved the score within the shown hundredth: say by how much
            before, after = (_exact_score(v, t) for v in (e.old_value, e.new_value))
        rows.append({
            t("When (UTC)"): f"{pd.Timestamp(e.at):%Y-%m-%d %H:%M:%S}",
            t("Who"): str((actors or {}).get(e.actor, e.actor)),
            t("What"): chip if e.action == "attach" and field == CHIP_KIND
            else _from_field(actions.get(e.action, e.action), e, t),
            t("Field"): names.get(field, field),
            t("Before"): before,
            t("After"): after})
    return pd.DataFrame(rows)


def _exact_score(value: Any, t: Translator) -> str:
    """Write a score with four decimals (cut, as every score is shown, never rounded up)."""
    if not isinstance(value, int | float):
        return _text(value)
    return t.number(float(np.floor(np.round(float(value) * 10_000, 6)) / 10_000), digits=4)


def _from_field(what: str, entry: Any, t: Translator) -> str:
    """Say that a change or comment came back in a field package (its request id says so)."""
    request = getattr(entry, "request_id", None) or ""
    if request.startswith(FIELD_REQUEST_PREFIX):
        return t("{what} (field package)").format(what=what)
    return what


def action_names(t: Translator) -> dict[str, str]:
    """Name each audit action code (alerts' and accounts') in the reader's language."""
    return {"create": t("Created"), "update": t("Changed"), "merge": t("Detected again"),
            "comment": t("Comment"), "attach": t("Attached"),
            "field_export": t("Field package exported"), "sign_in": t("Signed in"),
            "sign_in_failed": t("Sign-in refused"), "sign_out": t("Signed out"),
            "user_created": t("Account created"), "user_password_set": t("Password set"),
            "user_role_set": t("Role changed"), "user_deactivated": t("Account disabled"),
            "user_activated": t("Account enabled"), "user_unlocked": t("Account unlocked"),
            "access_refused": t("Access refused"), "snapshot_exported": t("Snapshot exported"),
            "scene_registered": t("Scene registered")}


def field_names(t: Translator) -> dict[str, str]:
    """Name each audited field as the alert page does (the store's column names as keys)."""
    return {"state": t("State"), "priority": t("Priority"), "assignee": t("Assigned to"),
            "package": t("Field package"), "score": t("Score"), "scene_id": t("Scene"),
            "scene": t("File"), "candidate_id": t("Candidate"), "country": t("Country"),
            "geometry": t("Coordinates"),
            "detection_state": t("On the imagery"), "length_m": t("Length (m)"),
            "width_m": t("Width (m)"), "bearing_deg": t("Bearing (°)"), "reason": t("Reason"),
            "first_seen": t("First seen"), "last_seen": t("Last seen"),
            "detections": t("Detections"), "nearest_aerodrome": t("Nearest registered aerodrome"),
            "aerodrome_km": t("Nearest registered aerodrome"),
            "state_changed_at": t("State changed at"), CHIP_KIND: t("Image")}


def value_formats(t: Translator) -> dict[str, Callable[[Any], str]]:
    """How each audited field's JSON value is written (others: as text)."""
    states, priorities, imagery = state_names(t), priority_names(t), map_labels(t)

    def named(names: Mapping[str, str]) -> Callable[[Any], str]:
        return lambda v: names.get(v, str(v)) if isinstance(v, str) else _text(v)

    def number(digits: int) -> Callable[[Any], str]:
        return lambda v: (t.number(float(v), digits=digits)
                          if isinstance(v, int | float) else _text(v))

    return {"state": named(states), "priority": named(priorities),
            "detection_state": named(imagery),
            "country": lambda v: t.country(v) if isinstance(v, str) and v else _text(v),
            "score": lambda v: (t.number(shown_score(float(v)), digits=2)
                                if isinstance(v, int | float) else _text(v)),
            "length_m": number(0), "width_m": number(0),
            "bearing_deg": number(0), "detections": number(0),
            "aerodrome_km": lambda v: (f"{t.number(float(v), digits=1)} km"
                                       if isinstance(v, int | float) else _text(v)),
            "first_seen": _day, "last_seen": _day, "geometry": _centre,
            "state_changed_at": minute_utc,
            "package": lambda v: (t("package {id}, alert version {version}").format(
                id=str(v["package_id"])[:8], version=v.get("version", "?"))
                if isinstance(v, dict) and "package_id" in v else _text(v)),
            "reason": lambda v: localize_reason(v, t, t.number) if isinstance(v, str) else _text(v),
            CHIP_KIND: lambda v: _chip(v, chip_names(t))}


def _text(value: Any) -> str:
    return str(value)


def _chip(value: Any, names: Mapping[str, str]) -> str:
    """Write an image chip's audited value as its composite's name and scene.

    Examples
    --------
    >>> _chip({"id": 3, "label": "ucayali_2024-08-02 false_colour"}, {"false_colour": "NIR"})
    'NIR · ucayali_2024-08-02'
    >>> _chip({"label": "a chip of before"}, {})
    'a chip of before'
    """
    if not isinstance(value, dict):
        return _text(value)
    label = str(value.get("label", value))
    scene, _, composite = label.rpartition(" ")
    return f"{names[composite]} · {scene}" if scene and composite in names else label


def _day(value: Any) -> str:
    """Write an ISO 8601 time as its UTC day (``2024-08-02``); anything else as text."""
    try:
        return f"{pd.Timestamp(value).tz_convert('UTC'):%Y-%m-%d}"
    except (TypeError, ValueError):
        return _text(value)


#: Format of a UTC time column in tables (``st.column_config.DatetimeColumn``, moment.js):
#: to the minute, as :func:`minute_utc` writes it, the column still sorted as times.
UTC_MINUTES = "YYYY-MM-DD HH:mm"


def utc_minutes_column() -> Any:
    """Return the column setting that writes UTC times (:func:`table_times`) to the minute."""
    return st.column_config.DatetimeColumn(format=UTC_MINUTES)


def table_times(times: pd.Series) -> np.ndarray:
    """Return aware times as naive UTC values, which ``st.dataframe`` writes without a shift."""
    out: np.ndarray = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    return out


def minute_utc(value: Any) -> str:
    """Write an ISO 8601 time to the minute, in UTC (``2024-08-02 15:20 UTC``); else as text.

    Examples
    --------
    >>> minute_utc("2026-12-04T17:29:08.428716+00:00")
    '2026-12-04 17:29 UTC'
    """
    try:
        return f"{pd.Timestamp(value).tz_convert('UTC'):%Y-%m-%d %H:%M} UTC"
    except (TypeError, ValueError):
        return _text(value)


def _centre(value: Any) -> str:
    """Write a WKT geometry as its centre, "lat, lon" to 5 decimals (about 1 m); else as text.

    Examples
    --------
    >>> _centre("POLYGON ((0 0, 2 0, 2 1, 0 1, 0 0))")
    '0.50000, 1.00000'
    >>> _centre("not WKT")
    'not WKT'
    """
    try:
        c = shapely.from_wkt(str(value)).centroid
    except (ShapelyError, ValueError):
        return _text(value)
    return _text(value) if c.is_empty else f"{c.y:.5f}, {c.x:.5f}"
