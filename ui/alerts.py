"""Runway alert review: the queue, one alert with its evidence and history, verdicts, comments.

Alerts live in the store (``geo.store``: SQLite by default, PostGIS with
``ATALAYA_DATABASE_URL``). The runway candidates of the data folder are merged into it once per
data version (``geo.store.merge_candidates``: the same strip never becomes two alerts and a
person's verdict is never overwritten). Every change names the version it was made from, so a
verdict given on an alert someone else changed meanwhile is refused with who and when, and
nothing is lost. Buttons are full width, for a phone.

Until accounts exist (access-control issue), the reviewer types their name in the sidebar; it
is what the audit log records.
"""

from __future__ import annotations

from typing import Any

import folium
import geopandas as gpd
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geo.errors import AtalayaError
from geo.i18n import Translator
from geo.store import (
    ALERT_STATES,
    Alert,
    AlertChange,
    Store,
    allowed_next,
    default_url,
    get_alert,
    list_alerts,
    merge_candidates,
    open_store,
    read_audit,
    read_comments,
    read_detections,
    update_alert,
)
from geo.world import data_version
from layers.assets import localize
from layers.basemap import build_offline_basemap
from layers.candidates import CANDIDATE_COLORS
from ui import state
from ui.cache import get_settings, load_world
from ui.labels import map_labels
from ui.sidebar import current_translator

__all__ = ["render_alerts"]

STATE_COLORS = {"new": "#ff7f00", "under_review": "#1f78b4", "confirmed": "#e31a1c",
                "dismissed": "#737373", "needs_field_visit": "#6a3d9a",
                "destroyed": "#4d4d4d", "reopened": "#c51b7d"}


@st.cache_resource(show_spinner=False)
def _store(url: str) -> Store:
    return open_store(url)


@st.cache_resource(show_spinner=False, max_entries=8)
def _merged(url: str, version_key: str, _store: Store,
            _candidates: gpd.GeoDataFrame) -> tuple[int, int]:
    """Merge the data folder's candidates once per store and data version."""
    report = merge_candidates(_store, _candidates, actor="detector (data folder)")
    return len(report.created), len(report.updated)


def _state_names(t: Translator) -> dict[str, str]:
    return {"new": t("New"), "under_review": t("Under review"), "confirmed": t("Confirmed"),
            "dismissed": t("Dismissed"), "needs_field_visit": t("Needs field visit"),
            "destroyed": t("Destroyed"), "reopened": t("Reopened")}


def render_alerts() -> None:
    """Show the alert review page: the queue, or the alert chosen in it."""
    t = current_translator()
    st.title(t("Runway alerts"))
    url = default_url()
    try:
        store = _store(url)
        world = load_world(get_settings().data_dir)
        if len(world["candidates"]):
            _merged(url, repr(data_version(world.data_dir)), store, world["candidates"])
    except AtalayaError as err:
        st.error(t("The alert store could not be opened."))
        st.code(str(err), language=None)
        return
    st.sidebar.text_input(t("Your name"), key=state.REVIEWER, max_chars=60,
                          help=t("Recorded with every verdict and comment you give."))
    opened = st.query_params.get("alert")
    if opened is not None and opened.isdigit():
        render_alert(store, int(opened), t)
    else:
        render_queue(store, t)


# -- queue ---------------------------------------------------------------------------------------

def _open(alert_id: int | None) -> None:
    if alert_id is None:
        st.query_params.pop("alert", None)
    else:
        st.query_params["alert"] = str(alert_id)


def _queue_map(alerts: list[Alert], names: dict[str, str]) -> folium.Map:
    m = folium.Map(location=[-10, -70], zoom_start=4, tiles=None, prefer_canvas=True,
                   keyboard=False, control_scale=True)
    build_offline_basemap(name="basemap").add_to(m)
    for a in alerts:
        folium.CircleMarker(
            [a.centroid_lat, a.centroid_lon], radius={"high": 7, "medium": 5}.get(a.priority, 4),
            color="#111", weight=1, fill=True, fill_opacity=0.9,
            fill_color=STATE_COLORS.get(a.state, "#444"),
            tooltip=f"#{a.id} · {names.get(a.state, a.state)} · {a.score:.2f}",
        ).add_to(m)
    if alerts:
        lons = [a.centroid_lon for a in alerts]
        lats = [a.centroid_lat for a in alerts]
        m.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=[20, 20])
    return localize(m)


def render_queue(store: Store, t: Translator) -> None:
    """Alerts by priority then score, with filters, counts per state and a map."""
    ss = st.session_state
    names = _state_names(t)
    labels = map_labels(t)
    every = list_alerts(store)
    counts = pd.Series([a.state for a in every], dtype="object").value_counts()
    cols = st.columns(4)
    for i, s in enumerate(ALERT_STATES):
        cols[i % 4].metric(names[s], t.number(int(counts.get(s, 0))))
    left, mid, right = st.columns([3, 2, 2], vertical_alignment="bottom")
    chosen = left.multiselect(t("States"), ALERT_STATES, key=state.QUEUE_STATES,
                              format_func=lambda s: names[s], placeholder=t("All"))
    low = mid.slider(t("Minimum score"), 0.0, 1.0, step=0.05, key=state.QUEUE_MIN_SCORE)
    mine = right.toggle(t("Assigned to me"), key=state.QUEUE_MINE,
                        disabled=not str(ss.get(state.REVIEWER, "")).strip())
    me = str(ss.get(state.REVIEWER, "")).strip()
    shown = [a for a in every if (not chosen or a.state in chosen) and a.score >= low
             and (not mine or a.assignee == me)]
    st.caption(t("{shown} of {total} alerts, highest priority and score first; select a row "
                 "to open it.").format(shown=t.number(len(shown)), total=t.number(len(every))))
    table = pd.DataFrame({
        "ID": [str(a.id) for a in shown],
        t("Priority"): [labels.get(a.priority, a.priority) for a in shown],
        t("State"): [names.get(a.state, a.state) for a in shown],
        t("Score"): [round(a.score, 2) for a in shown],
        t("Length (m)"): [round(a.length_m) for a in shown],
        t("Assigned to"): [a.assignee or "" for a in shown],
        t("Last seen"): [a.last_seen.strftime("%Y-%m-%d") for a in shown],
        t("Reason"): [a.reason for a in shown],
    })
    picked = st.dataframe(table, key=state.QUEUE_TABLE, on_select="rerun",
                          selection_mode="single-row", hide_index=True, width="stretch",
                          height=360)
    rows = list(getattr(getattr(picked, "selection", None), "rows", []) or [])
    if rows and rows[0] < len(shown):
        _open(shown[rows[0]].id)
        st.rerun()
    st_folium(_queue_map(shown, names), key=state.QUEUE_MAP, height=420,
              use_container_width=True, returned_objects=[])


# -- one alert -----------------------------------------------------------------------------------

def _alert_map(alert: Alert) -> folium.Map:
    m = folium.Map(location=[alert.centroid_lat, alert.centroid_lon], zoom_start=14,
                   tiles=None, keyboard=False, control_scale=True, max_zoom=18)
    build_offline_basemap(name="basemap").add_to(m)
    color = CANDIDATE_COLORS.get(alert.detection_state or "", "#e31a1c")
    folium.GeoJson(alert.geometry.__geo_interface__,
                   style_function=lambda _f: {"color": color, "weight": 3,
                                              "fillColor": color, "fillOpacity": 0.3}).add_to(m)
    x0, y0, x1, y1 = alert.geometry.bounds
    m.fit_bounds([[y0, x0], [y1, x1]], padding=[40, 40], max_zoom=16)
    return localize(m)


def _change(store: Store, alert_id: int, version: int, t: Translator, *,
            target: str | None = None, assign: bool = False) -> None:
    """Apply a reviewer's change made from ``version``; keep the outcome for the next run.

    Runs as a button callback, so the comment is read as typed when the button was pressed.
    """
    ss = st.session_state
    who = str(ss.get(state.REVIEWER, "")).strip()
    comment = str(ss.get(state.ALERT_COMMENT, "")).strip() or None
    try:
        change = AlertChange(alert_id, version, state=target, comment=comment,
                             assignee=who if assign else None)
        update_alert(store, change, actor=who)
    except AtalayaError as err:  # stale copy, impossible move, store busy: said, not raised
        ss[state.ALERT_MESSAGE] = ("error", str(err))
    else:
        ss[state.ALERT_MESSAGE] = ("success", t("Saved."))
        ss[state.ALERT_COMMENT] = ""


def _facts(alert: Alert, t: Translator) -> list[tuple[str, str]]:
    labels = map_labels(t)
    facts = [
        (t("Priority"), labels.get(alert.priority, alert.priority)),
        (t("Score"), f"{alert.score:.2f}"),
        (t("Length (m)"), t.number(round(alert.length_m))),
        (t("Width (m)"), t.number(round(alert.width_m))),
        (t("Bearing (°)"), t.number(round(alert.bearing_deg))),
        (t("Reason"), alert.reason),
        (t("First seen"), alert.first_seen.strftime("%Y-%m-%d")),
        (t("Last seen"), alert.last_seen.strftime("%Y-%m-%d")),
        (t("Detections"), t.number(alert.detections)),
        (t("Assigned to"), alert.assignee or "—"),
        (t("Coordinates"), f"{alert.centroid_lat:.5f}, {alert.centroid_lon:.5f}"),
    ]
    if alert.nearest_aerodrome:
        facts.append((t("Nearest registered aerodrome"),
                      f"{alert.nearest_aerodrome} ({t.number(alert.aerodrome_km or 0, digits=1)}"
                      " km)"))
    return facts


def _text_rows(rows: list[tuple[str, str]]) -> None:
    for title, value in rows:
        left, right = st.columns([1, 2], gap="small")
        left.caption(title)
        right.text(value)  # text, never markup: reasons and names come from data


def render_alert(store: Store, alert_id: int, t: Translator) -> None:
    """One alert: where it is, what was measured, its history, and the reviewer's actions."""
    ss = st.session_state
    names = _state_names(t)
    st.button(t("Back to the queue"), icon=":material/arrow_back:", on_click=_open,
              args=(None,), key=state.ALERT_BACK)
    try:
        alert = get_alert(store, alert_id)
    except AtalayaError as err:
        st.error(str(err))
        return
    st.subheader(f"#{alert.id} · {names.get(alert.state, alert.state)}")
    message = ss.pop(state.ALERT_MESSAGE, None)
    if message:
        (st.error if message[0] == "error" else st.success)(message[1])
    st_folium(_alert_map(alert), key=state.ALERT_MAP, height=360, use_container_width=True,
              returned_objects=[])
    _text_rows(_facts(alert, t))

    who = str(ss.get(state.REVIEWER, "")).strip()
    st.markdown("**" + t("Verdict") + "**")
    if not who:
        st.warning(t("Type your name in the sidebar to give a verdict or a comment."))
    st.text_area(t("Comment"), key=state.ALERT_COMMENT, max_chars=4000, height=100)
    for target in allowed_next(alert.state):
        st.button(names.get(target, target), key=f"{state.ALERT_VERDICT}:{target}",
                  disabled=not who, use_container_width=True, on_click=_change,
                  args=(store, alert.id, alert.version, t), kwargs={"target": target})
    row = st.columns(2)
    row[0].button(t("Assign to me"), key=state.ALERT_ASSIGN, disabled=not who,
                  use_container_width=True, on_click=_change,
                  args=(store, alert.id, alert.version, t), kwargs={"assign": True})
    row[1].button(t("Comment only"), key=state.ALERT_COMMENT_ONLY, disabled=not who,
                  use_container_width=True, on_click=_change,
                  args=(store, alert.id, alert.version, t))

    st.markdown("**" + t("Comments") + "**")
    comments = read_comments(store, alert.id)
    if not comments:
        st.caption(t("No comment yet."))
    for c in comments:
        st.caption(f"{c['author']} · {pd.Timestamp(c['created_at']):%Y-%m-%d %H:%M} UTC")
        st.text(c["body"])

    st.markdown("**" + t("Detections") + "**")
    st.dataframe(pd.DataFrame([{
        t("Date"): pd.Timestamp(d["detected_at"]).strftime("%Y-%m-%d"),
        t("Scene"): str(d.get("scene_id", "")),
        t("Score"): round(float(d["score"]), 2),
        t("Length (m)"): round(float(d["length_m"])),
        t("State"): str(d.get("detection_state") or ""),
    } for d in read_detections(store, alert.id)]), hide_index=True, width="stretch")

    st.markdown("**" + t("History") + "**")
    st.dataframe(pd.DataFrame([_audit_row(e, t) for e in read_audit(store, alert_id=alert.id)]),
                 hide_index=True, width="stretch", key=state.ALERT_AUDIT)


def _audit_row(entry: Any, t: Translator) -> dict[str, str]:
    return {t("When"): f"{pd.Timestamp(entry.at):%Y-%m-%d %H:%M:%S}",
            t("Who"): str(entry.actor), t("What"): str(entry.action),
            t("Field"): str(entry.field or ""), t("Before"): _plain(entry.old_value),
            t("After"): _plain(entry.new_value)}


def _plain(value: Any) -> str:
    return "" if value is None else str(value)
