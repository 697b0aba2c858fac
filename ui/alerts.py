"""Runway alert review: the queue, one alert with its evidence and history, verdicts, comments.

Alerts live in the store (``geo.store``: SQLite by default, PostGIS with
``ATALAYA_DATABASE_URL``). The runway candidates of the data folder are merged into it once per
data version (``geo.store.merge_candidates``: the same strip never becomes two alerts and a
person's verdict is never overwritten). Every change names the version it was made from, so a
verdict given on an alert someone else changed meanwhile is refused with who and when, and
nothing is lost. Buttons are full width, for a phone.

The signed-in user's name (``ui.auth``) is what the audit log records, and whose inbox and
subscriptions the page shows.

Following areas: a reviewer follows a saved area of interest (optionally with an e-mail address
and a webhook URL); new alerts, state changes and strips destroyed or reopened on the imagery
inside it land in their inbox, written in the same transaction as the change. E-mails and
webhooks are sent by ``geo.store.deliver_pending`` at the start of every run of this page (so
right after each change the page makes, since a change reruns it), and by the job runner when a
job stores results. It costs one indexed query when nothing is due; a dead mail server is
recorded and retried later with growing pauses, never shown as a failed verdict.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
import streamlit as st
from shapely.geometry.base import BaseGeometry
from streamlit_folium import st_folium

from geo.auth import DESCRIPTIONS, Action
from geo.detect.reasons import localize_reason
from geo.errors import AtalayaError
from geo.i18n import LANGUAGE_NAMES, Translator, message_of
from geo.i18n import localize as localize_message
from geo.imagechips import scene_refs
from geo.schema import CANDIDATE_STATES, shown_score
from geo.store import (
    ALERT_STATES,
    Alert,
    AlertChange,
    Attachment,
    InboxGroup,
    Notification,
    SmtpConfig,
    Store,
    add_comment,
    allowed_next,
    awaiting_first,
    default_url,
    deliver_pending,
    get_alert,
    inbox_groups,
    list_alerts,
    list_subscriptions,
    mark_read,
    mark_read_group,
    merge_candidates,
    read_absences,
    read_audit,
    read_comments,
    read_detections,
    subscribe,
    unread_count,
    unsubscribe,
    update_alert,
    webhook_secret_from_env,
)
from geo.store.chips import StoredChips
from geo.store.fieldpkg import localize_field_comment
from geo.store.states import priority_names, state_names
from geo.store.users import record_refusal
from geo.world import data_version
from layers.assets import add_map_controls, localize
from layers.basemap import build_offline_basemap
from layers.candidates import CANDIDATE_COLORS
from layers.legend import Legend, LegendItem, LegendSection, build_legend
from ui import state
from ui.auth import acting_role, allowed
from ui.cache import get_settings, load_world, open_store_cached, saved_areas
from ui.chips import chip_bytes, cut_chips, map_chip, render_chips
from ui.field_package import render_field_package
from ui.history import history_table
from ui.labels import chip_names, map_labels
from ui.sidebar import KEEP, current_translator, relabelled
from ui.text import choice_texts, escape_markdown

__all__ = ["render_alerts"]

INBOX_REFRESH_S = 30  # seconds between two looks at the inbox while the queue is open
INBOX_GROUPS = 50  # newest events shown in the inbox (a detection run's alerts are one)
GROUP_MEMBERS = 20  # alerts of one event listed in its menu, newest first
STATE_COLORS = {"new": "#ff7f00", "under_review": "#1f78b4", "confirmed": "#e31a1c",
                "dismissed": "#737373", "needs_field_visit": "#6a3d9a",
                "destroyed": "#4d4d4d", "reopened": "#c51b7d"}


def _store(url: str) -> Store:
    return open_store_cached(url)


@st.cache_resource(show_spinner=False, max_entries=8)
def _merged(url: str, version_key: str, _store: Store,
            _candidates: gpd.GeoDataFrame) -> tuple[int, int]:
    """Merge the data folder's candidates once per store and data version."""
    report = merge_candidates(_store, _candidates, actor=DATA_FOLDER_ACTOR)
    return len(report.created), len(report.updated)


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
        st.code(localize_message(err, t), language=None, wrap_lines=True)
        return
    _deliver(store, t)
    opened = st.query_params.get("alert")
    if opened is not None and opened.isdigit():
        render_alert(store, int(opened), t)
    else:
        render_queue(store, t)


def _deliver(store: Store, t: Translator) -> None:
    """Send the e-mails and webhooks that are due (see the module notes).

    Short timeouts and a small budget per run: what does not fit waits for the next run, and a
    mail server that cannot be reached is tried again only after its back-off.
    """
    try:
        smtp = SmtpConfig.from_env()
        deliver_pending(store, smtp=None if smtp is None else replace(smtp, timeout_s=5.0),
                        webhook_secret=webhook_secret_from_env(), http_timeout=3.0, limit=10,
                        budget_s=3.0, default_language=get_settings().language)
    except AtalayaError as err:  # a bad SMTP setting or a busy store: said, the page goes on
        st.warning(t("Notifications could not be sent: {error}").format(
            error=localize_message(err, t)))


def _me() -> str:
    return str(st.session_state.get(state.REVIEWER, "")).strip()


# -- inbox and subscriptions ---------------------------------------------------------------------

def _note_text(note: Notification, names: dict[str, str], seen: dict[str, str],
               t: Translator) -> str:
    """One inbox line in the reader's language (plain text: area names come from users).

    ``names``: review states' names; ``seen``: names of states on the imagery.
    """
    if note.kind == "new_alert":
        text = t("New alert #{id} in {area}").format(id=note.alert_id, area=note.area_name)
    elif note.kind == "imagery_change":
        text = t("Alert #{id} in {area}: {old} → {new} on the imagery").format(
            id=note.alert_id, area=note.area_name,
            old=seen.get(note.old_state or "", note.old_state or ""),
            new=seen.get(note.new_state or "", note.new_state or ""))
    else:
        text = t("Alert #{id} in {area}: {old} → {new}, by {who}").format(
            id=note.alert_id, area=note.area_name, who=note.actor,
            old=names.get(note.old_state or "", note.old_state or ""),
            new=names.get(note.new_state or "", note.new_state or ""))
    return ("● " if note.read_at is None else "") + text


def _group_text(group: InboxGroup, names: dict[str, str], seen: dict[str, str],
                t: Translator) -> str:
    """One inbox line for a group (one event); a group of one reads as its notification."""
    if group.count == 1 and group.notes:
        return _note_text(group.notes[0], names, seen, t)
    n, area = t.number(group.count), group.area_name
    if group.kind == "new_alert":
        text = t("{n} new alerts in {area}").format(n=n, area=area)
    elif group.kind == "imagery_change":
        text = t("{n} alerts in {area}: {old} → {new} on the imagery").format(
            n=n, area=area, old=seen.get(group.old_state or "", group.old_state or ""),
            new=seen.get(group.new_state or "", group.new_state or ""))
    else:
        text = t("{n} alerts in {area}: {old} → {new}, by {who}").format(
            n=n, area=area, who=group.actor,
            old=names.get(group.old_state or "", group.old_state or ""),
            new=names.get(group.new_state or "", group.new_state or ""))
    return ("● " if group.unread else "") + text


def _group_menu(store: Store, me: str, group: InboxGroup, t: Translator) -> None:
    """List the alerts of a group (the newest :data:`GROUP_MEMBERS`), each opened from here."""
    if group.unread:
        st.button(t("Mark these as read"), key=f"{state.INBOX_READ_GROUP}:{group.newest_id}",
                  on_click=_read_group, args=(store, me, group), use_container_width=True)
    for note in group.notes:
        label = ("● " if note.read_at is None else "") + f"#{note.alert_id}"
        if st.button(label, key=f"{state.INBOX_OPEN}:{note.id}", use_container_width=True):
            _open_note(store, me, note.id, note.alert_id)
            st.rerun()
    if group.count > len(group.notes):
        st.caption(t("The newest {shown} of {n}; the queue's Area filter lists them all.")
                   .format(shown=t.number(len(group.notes)), n=t.number(group.count)))


def _read_group(store: Store, me: str, group: InboxGroup) -> None:
    """Mark every notification of the group read (all of them, not only those listed)."""
    try:
        mark_read_group(store, me, group)
    except AtalayaError as err:
        st.session_state[state.ALERT_MESSAGE] = ("error", message_of(err))


def _open_note(store: Store, me: str, note_id: int, alert_id: int) -> None:
    try:
        mark_read(store, me, [note_id])
    except AtalayaError as err:  # the message, localized when shown (the language may change)
        st.session_state[state.ALERT_MESSAGE] = ("error", message_of(err))
    _open(alert_id)


def _read_all(store: Store, me: str) -> None:
    try:
        mark_read(store, me)
    except AtalayaError as err:
        st.session_state[state.FOLLOW_MESSAGE] = ("error", message_of(err))


@st.fragment(run_every=INBOX_REFRESH_S)
def render_inbox(store: Store, t: Translator) -> None:
    """Show the reviewer's inbox: what happened in the areas they follow, newest first.

    A fragment that refreshes itself every ``INBOX_REFRESH_S`` seconds (two small queries),
    so the unread count moves without the queue or its map being rebuilt.
    """
    me = _me()
    unread = unread_count(store, me) if me else 0
    title = t("Inbox ({n} unread)").format(n=t.number(unread)) if unread else t("Inbox")
    with st.expander(title, icon=":material/inbox:"):
        if not me:
            st.caption(t("Type your name in the sidebar to see your inbox."))
            return
        groups = inbox_groups(store, me, limit=INBOX_GROUPS, members=GROUP_MEMBERS)
        if not groups:
            st.caption(t("Nothing yet. Follow an area to hear of new alerts, verdicts and "
                         "strips destroyed or reopened on the imagery in it."))
            return
        st.button(t("Mark all as read"), key=state.INBOX_READ_ALL, disabled=not unread,
                  on_click=_read_all, args=(store, me), use_container_width=True)
        names, seen = state_names(t), map_labels(t)
        with st.container(height=360 if len(groups) > 3 else "content", border=False):
            for group in groups:
                left, right = st.columns([2, 1], vertical_alignment="center")
                left.text(_group_text(group, names, seen, t))  # text, never markup
                when = f"{group.created_at:%Y-%m-%d %H:%M} UTC"
                left.caption(when + (f" · {group.actor}" if group.kind == "new_alert" else ""))
                if group.count == 1 and group.notes:
                    note = group.notes[0]
                    if right.button(t("Open alert"), key=f"{state.INBOX_OPEN}:{note.id}",
                                    use_container_width=True):
                        _open_note(store, me, note.id, note.alert_id)
                        st.rerun()  # the whole page, not only this fragment: show the alert
                else:
                    with right.popover(t("Alerts ({n})").format(n=t.number(group.count)),
                                       use_container_width=True):
                        _group_menu(store, me, group, t)


def _follow(store: Store, me: str, areas: gpd.GeoDataFrame, t: Translator) -> None:
    """Form callback: subscribe the reviewer to the chosen saved area."""
    ss = st.session_state
    name = ss.get(state.FOLLOW_AREA)
    chosen = areas[areas["name"] == name]
    if chosen.empty:
        ss[state.FOLLOW_MESSAGE] = ("error", t("Choose a saved area."))
        return
    try:
        subscribe(store, user=me, area_name=str(name), geometry=chosen.geometry.iloc[0],
                  email=str(ss.get(state.FOLLOW_EMAIL, "")).strip() or None,
                  webhook_url=str(ss.get(state.FOLLOW_WEBHOOK, "")).strip() or None,
                  language=t.language)
    except AtalayaError as err:
        ss[state.FOLLOW_MESSAGE] = ("error", message_of(err))
    else:
        ss[state.FOLLOW_MESSAGE] = ("success", t("You follow {area} now.").format(area=name))
        ss[state.FOLLOW_EMAIL] = ""
        ss[state.FOLLOW_WEBHOOK] = ""


def _unfollow(store: Store, me: str, subscription_id: int) -> None:
    try:
        unsubscribe(store, subscription_id, user=me)
    except AtalayaError as err:
        st.session_state[state.FOLLOW_MESSAGE] = ("error", message_of(err))


def render_follow(store: Store, areas: gpd.GeoDataFrame, t: Translator) -> None:
    """Show the "follow this area" form and the reviewer's subscriptions."""
    me = _me()
    with st.expander(t("Follow an area"), icon=":material/notifications:"):
        if not me:
            st.caption(t("Type your name in the sidebar to follow areas."))
            return
        message = st.session_state.pop(state.FOLLOW_MESSAGE, None)
        if message:
            (st.error if message[0] == "error" else st.success)(
                escape_markdown(localize_message(message[1], t)))
        if areas.empty:
            st.caption(t("Save an area of interest on the map explorer first."))
        else:
            _keep_choice(state.FOLLOW_AREA, list(areas["name"]))
            with st.form(state.FOLLOW_FORM, border=False):
                st.selectbox(t("Saved area"), list(areas["name"]), key=state.FOLLOW_AREA)
                st.text_input(t("E-mail (optional)"), key=state.FOLLOW_EMAIL, max_chars=254,
                              help=t("E-mails are written in {language}, the language of "
                                     "this page.").format(
                                  language=LANGUAGE_NAMES[t.language]))
                st.text_input(t("Webhook URL (optional)"), key=state.FOLLOW_WEBHOOK,
                              max_chars=2000, placeholder="https://")
                st.form_submit_button(t("Follow this area"), on_click=_follow,
                                      args=(store, me, areas, t), use_container_width=True)
        for sub in list_subscriptions(store, user=me,
                                      default_language=get_settings().language):
            left, right = st.columns([3, 1], vertical_alignment="center")
            mail = (f"{sub.email} ({LANGUAGE_NAMES.get(sub.language, sub.language)})"
                    if sub.email else None)
            targets = ", ".join(x for x in (mail, sub.webhook_url) if x)
            left.text(sub.area_name + (f" → {targets}" if targets else ""))
            right.button(t("Unfollow"), key=f"{state.UNFOLLOW}:{sub.id}", on_click=_unfollow,
                         args=(store, me, sub.id), use_container_width=True)


# -- queue ---------------------------------------------------------------------------------------

def _open(alert_id: int | None) -> None:
    if alert_id is None:
        st.query_params.pop("alert", None)
    else:
        st.query_params["alert"] = str(alert_id)


#: Who the audit log names for alerts merged from the data folder's candidates.
DATA_FOLDER_ACTOR = "detector (data folder)"
#: Closest zoom the queue's map goes to fit its alerts (8: a region, ~600 m a pixel). At 12 one
#: alert was a dot on the offline basemap's empty land, nothing around to place it by; the
#: alert's own page shows the strip close up.
QUEUE_MAX_ZOOM = 8
#: The verdict buttons, in this order whatever the alert's state (every state but "new").
VERDICTS: tuple[str, ...] = tuple(s for s in ALERT_STATES if s != "new")


#: Radius (px) of an alert's dot on the queue map, by priority.
PRIORITY_RADII = {"high": 7, "medium": 5, "low": 4}


def _queue_legend(alerts: list[Alert], t: Translator) -> Legend:
    """Return the queue map's legend: the states and priorities of the alerts it shows."""
    states, priorities = state_names(t), priority_names(t)
    shown = {a.state for a in alerts}
    levels = {a.priority for a in alerts}
    return build_legend([
        LegendSection(t("State"), tuple(
            LegendItem(states[s], STATE_COLORS.get(s, "#444"))
            for s in ALERT_STATES if s in shown), inline=True),
        LegendSection(t("Priority"), tuple(
            LegendItem(priorities[p], "#bbbbbb", size=PRIORITY_RADII[p])
            for p in PRIORITY_RADII if p in levels), inline=True),
    ], title=t("Legend"), position="topright")


def _queue_map(alerts: list[Alert], names: dict[str, str],
               area: BaseGeometry | None = None, t: Translator | None = None) -> folium.Map:
    m = folium.Map(location=[-10, -70], zoom_start=4, tiles=None, prefer_canvas=True,
                   keyboard=False)
    add_map_controls(m, map_labels(t) if t is not None else None)
    build_offline_basemap(name="basemap").add_to(m)
    if area is not None:  # the area filter's outline (geometry only: no text reaches HTML)
        folium.GeoJson(area.__geo_interface__, style_function=lambda _f: {
            "color": "#1f78b4", "weight": 2, "fillOpacity": 0.05, "dashArray": "6 4"}).add_to(m)
    for a in alerts:
        folium.CircleMarker(
            [a.centroid_lat, a.centroid_lon], radius=PRIORITY_RADII.get(a.priority, 4),
            color="#111", weight=1, fill=True, fill_opacity=0.9,
            fill_color=STATE_COLORS.get(a.state, "#444"),
            tooltip=f"#{a.id} · {names.get(a.state, a.state)} · {shown_score(a.score):.2f}",
        ).add_to(m)
    if alerts:
        lons = [a.centroid_lon for a in alerts]
        lats = [a.centroid_lat for a in alerts]
        # capped: one alert (or several at one place) is a zero-size box, whose zoom Leaflet
        # makes infinite on a map without a maximum (NaN centre: nothing drawn)
        m.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=[20, 20],
                     max_zoom=QUEUE_MAX_ZOOM)
        if t is not None:
            _queue_legend(alerts, t).add_to(m)
    return localize(m)


def _keep_choices(key: str, options: list[str]) -> None:
    """Drop remembered choices that are no longer offered (a deleted area, a gone country)."""
    ss = st.session_state
    if key in ss and any(v not in options for v in ss[key]):
        ss[key] = [v for v in ss[key] if v in options]


def _keep_choice(key: str, options: list[str]) -> None:
    ss = st.session_state
    if key in ss and ss[key] not in options:
        ss[key] = options[0]


def _filters_label(t: Translator) -> str:
    """Label the filters' fold: "Filters", and how many narrow the queue.

    Read from the session before the filters are drawn (the fold comes first).
    """
    ss = st.session_state
    on = sum(bool(ss.get(key)) for key in (state.QUEUE_STATES, state.QUEUE_COUNTRIES,
                                           state.QUEUE_IMAGERY, state.QUEUE_AREA))
    on += bool(ss.get(state.QUEUE_MIN_SCORE)) + bool(ss.get(state.QUEUE_MINE) and _me())
    if not on:
        return t("Filters")
    return t.n("Filters ({n} on)", "Filters ({n} on)", on).format(n=t.number(on))


def _queue_filters(every: list[Alert], areas: gpd.GeoDataFrame,
                   t: Translator) -> dict[str, Any]:
    """Show the queue's filter widgets; return the keyword arguments of ``list_alerts``."""
    names = state_names(t)
    me = _me()
    left, mid, right = st.columns([3, 2, 2], vertical_alignment="bottom")
    chosen = left.multiselect(t("States"), ALERT_STATES, key=relabelled(state.QUEUE_STATES),
                              persist_state=KEEP,
                              format_func=lambda s: names[s],
                              **choice_texts(t, empty_means_all=True))
    low = mid.slider(t("Minimum score"), 0.0, 1.0, step=0.05, key=state.QUEUE_MIN_SCORE,
                     persist_state=KEEP)
    mine = right.toggle(t("Assigned to me"), key=state.QUEUE_MINE, disabled=not me,
                        persist_state=KEEP)
    left, mid, right = st.columns([3, 2, 2], vertical_alignment="bottom")
    present = sorted({a.country for a in every if a.country})
    _keep_choices(state.QUEUE_COUNTRIES, present)
    _keep_choice(state.QUEUE_AREA, ["", *areas["name"]])
    countries = left.multiselect(t("Countries"), present, key=relabelled(state.QUEUE_COUNTRIES),
                                 persist_state=KEEP,
                                 format_func=t.country,
                                 **choice_texts(t, empty_means_all=True))
    labels = map_labels(t)
    imagery = mid.multiselect(t("On the imagery"), CANDIDATE_STATES,
                              key=relabelled(state.QUEUE_IMAGERY),
                              persist_state=KEEP,
                              format_func=lambda s: labels.get(s, s),
                              **choice_texts(t, empty_means_all=True))
    area_name = right.selectbox(t("Area"), ["", *areas["name"]], key=relabelled(state.QUEUE_AREA),
                                persist_state=KEEP,
                                format_func=lambda v: v or t("Anywhere"))
    match = areas[areas["name"] == area_name] if area_name else areas.iloc[0:0]
    return {"states": chosen or None, "min_score": low if low > 0 else None,
            "assignee": me if mine and me else None, "countries": countries or None,
            "area": match.geometry.iloc[0] if len(match) else None,
            "imagery_states": imagery or None}


def render_queue(store: Store, t: Translator) -> None:
    """Alerts by priority then score, with filters, counts per state, a map, inbox, follows."""
    names = state_names(t)
    labels = map_labels(t)
    areas = saved_areas(get_settings().data_dir, t)
    left, right = st.columns(2)
    with left:
        render_inbox(store, t)
    with right:
        render_follow(store, areas, t)
    every = list_alerts(store)
    counts = pd.Series([a.state for a in every], dtype="object").value_counts()
    # one wrapping row: columns stack on a phone, one count per line (seven lines before the
    # filters); each as wide as its name ("Requiere visita de campo" was cut at 100 px)
    with st.container(horizontal=True, wrap=True, gap="small"):
        for s in ALERT_STATES:
            st.metric(names[s], t.number(int(counts.get(s, 0))), width="content")
    # folded: on a phone the six filters took more than a screen before the first alert
    with st.expander(_filters_label(t), icon=":material/filter_list:", key=state.QUEUE_FILTERS):
        query = _queue_filters(every, areas, t)
    shown = awaiting_first(list_alerts(store, **query))
    st.caption(t.n("{shown} of {total} alert, those awaiting a verdict or a visit first, then "
                   "highest priority and score; select a row to open it.",
                   "{shown} of {total} alerts, those awaiting a verdict or a visit first, then "
                   "highest priority and score; select a row to open it.", len(every)).format(
        shown=t.number(len(shown)), total=t.number(len(every))))
    table = pd.DataFrame({
        "ID": [str(a.id) for a in shown],
        t("Priority"): [labels.get(a.priority, a.priority) for a in shown],
        t("State"): [names.get(a.state, a.state) for a in shown],
        t("On the imagery"): [labels.get(a.detection_state or "", a.detection_state or "")
                              for a in shown],
        t("Score"): [shown_score(a.score) for a in shown],
        t("Length (m)"): [round(a.length_m) for a in shown],
        t("Country"): [t.country(a.country) if a.country else "" for a in shown],
        t("Assigned to"): [a.assignee or "" for a in shown],
        t("Last seen"): [a.last_seen.strftime("%Y-%m-%d") for a in shown],
        t("Reason"): [localize_reason(a.reason, t, t.number) for a in shown],
    })
    # numbers, so they sort as numbers (Streamlit has no per-app locale): scores in the
    # browser's convention ("0,98" in a Spanish browser); lengths with no thousands separator,
    # as "1,559" beside the reason's "1,6 km" would read as 1.559 m where a comma is decimal
    localized = {t("Score"): st.column_config.NumberColumn(format="localized"),
                 t("Length (m)"): st.column_config.NumberColumn(format="%d")}
    picked = st.dataframe(table, key=state.QUEUE_TABLE, on_select="rerun", placeholder="—",
                          selection_mode="single-row", hide_index=True, width="stretch",
                          column_config=localized,
                          height=min(360, 38 + 35 * max(len(shown), 1)))  # no empty rows
    rows = list(getattr(getattr(picked, "selection", None), "rows", []) or [])
    if rows and rows[0] < len(shown):
        _open(shown[rows[0]].id)
        st.rerun()
    st_folium(_queue_map(shown, names, query["area"], t), key=state.QUEUE_MAP, height=420,
              use_container_width=True, returned_objects=[])
    if allowed(Action.EXPORT_FIELD_PACKAGE) or allowed(Action.EXPORT_OWN_ASSIGNMENTS):
        with st.expander(t("Field package"), icon=":material/package_2:"):
            render_field_package(store, t,
                                 str(st.session_state.get(state.REVIEWER, "")).strip())


#: Verdicts given only with a comment saying why: a dismissal closes an alert (a field
#: user's mis-tap on a phone dismissed a high-priority one, 2026-12-05), and an auditor
#: asks why it was closed. (A returned field package is read as sent.)
NEEDS_A_REASON = frozenset({"dismissed"})

#: The verdict's heading, which the link under the alert's title leads to.
VERDICT_ANCHOR = "verdict"


# -- one alert -----------------------------------------------------------------------------------

def _alert_map(alert: Alert, under: tuple[Attachment, bytes] | None = None,
               t: Translator | None = None) -> folium.Map:
    """Map the strip on the basemap, over the image chip ``under`` (its stored chip, PNG).

    The chip is a square in the scene's CRS laid on its lon/lat bounding box: off by at most
    a pixel or two at its corners (the UTM grid turns by well under a degree in the
    region), which the strip, near the chip's centre, does not feel.
    """
    m = folium.Map(location=[alert.centroid_lat, alert.centroid_lon], zoom_start=14,
                   tiles=None, keyboard=False, max_zoom=18)
    # the scale at bottom right: the chip has its own bar at bottom left
    add_map_controls(m, map_labels(t) if t is not None else None, scale_position="bottomright")
    build_offline_basemap(name="basemap").add_to(m)
    color = CANDIDATE_COLORS.get(alert.detection_state or "", "#e31a1c")
    if under is not None:
        chip, png = under
        w, s, e, n = (float(v) for v in chip.meta["bounds_lonlat"])
        folium.raster_layers.ImageOverlay(
            "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
            bounds=[[s, w], [n, e]], opacity=1.0, interactive=False).add_to(m)
    # over imagery, a thin dashed outline: the ground inside it is what the reviewer looks at
    look = ({"weight": 3, "fillOpacity": 0.3} if under is None
            else {"weight": 2, "dashArray": "6 5", "fillOpacity": 0.0})
    folium.GeoJson(alert.geometry.__geo_interface__,
                   style_function=lambda _f: {"color": color, "fillColor": color,
                                              **look}).add_to(m)
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
    # The role is checked here, when the change is asked for, not by hiding the buttons.
    needed = [action for action, wanted in ((Action.SET_VERDICT, target is not None),
                                            (Action.ASSIGN_SELF, assign),
                                            (Action.COMMENT, comment is not None)) if wanted]
    if not needed:  # "Comment only" with the comment box empty: nothing to store
        ss[state.ALERT_MESSAGE] = ("error", t("Write a comment first: nothing was saved."))
        return
    if target in NEEDS_A_REASON and comment is None:  # one tap must not close an alert
        ss[state.ALERT_MESSAGE] = ("error", t("Say in the comment why the alert is dismissed: "
                                              "nothing was saved."))
        return
    refused = next((action for action in needed if not allowed(action)), None)
    if refused is not None:
        record_refusal(store, who or None, f"alert {alert_id} ({refused.value})")
        ss[state.ALERT_MESSAGE] = ("error", t("Your role may not {what}.").format(
            what=t(DESCRIPTIONS[refused])))
        return
    try:
        if target is None and not assign and comment is not None:
            # a comment alone is never stale: no version (others' open copies stay valid)
            add_comment(store, alert_id, comment, actor=who, role=acting_role())
        else:
            change = AlertChange(alert_id, version, state=target, comment=comment,
                                 assignee=who if assign else None)
            # the store checks the role again, against the alert as it is when written (its
            # assignee may have changed since this page was drawn)
            update_alert(store, change, actor=who, role=acting_role())
    except AtalayaError as err:  # stale copy, impossible move, store busy, someone else's
        # alert: said, not raised
        # The message, not its text: localized when shown, in the language of that run.
        ss[state.ALERT_MESSAGE] = ("error", message_of(err))
    else:
        ss[state.ALERT_MESSAGE] = ("success", t("Saved."))
        ss[state.ALERT_COMMENT] = ""


def _lower_first(text: str) -> str:
    """Lower-case a name's first letter for the middle of a sentence ("true colour")."""
    return text[:1].lower() + text[1:]


def _facts(alert: Alert, t: Translator) -> list[tuple[str, str]]:
    labels = map_labels(t)
    facts = [
        (t("Priority"), labels.get(alert.priority, alert.priority)),
        (t("Score"), t.number(shown_score(alert.score), digits=2)),
        (t("Length (m)"), t.number(round(alert.length_m))),
        (t("Width (m)"), t.number(round(alert.width_m))),
        (t("Bearing (°)"), t.number(round(alert.bearing_deg))),
        (t("Reason"), localize_reason(alert.reason, t, t.number)),
        (t("First seen"), alert.first_seen.strftime("%Y-%m-%d")),
        (t("Last seen"), alert.last_seen.strftime("%Y-%m-%d")),
        (t("On the imagery"), labels.get(alert.detection_state or "",
                                         alert.detection_state or "—")),
        (t("Detections"), t.number(alert.detections)),
        (t("Assigned to"), alert.assignee or "—"),
        (t("Country"), t.country(alert.country) if alert.country else "—"),
        (t("Coordinates"), f"{alert.centroid_lat:.5f}, {alert.centroid_lon:.5f}"),
    ]
    if alert.nearest_aerodrome:
        facts.append((t("Nearest registered aerodrome"),
                      f"{alert.nearest_aerodrome} ({t.number(alert.aerodrome_km or 0, digits=1)}"
                      " km)"))
    return facts


def _text_rows(rows: list[tuple[str, str]]) -> None:
    for title, value in rows:
        # side by side on a phone too: stacked, the 14 facts took two screens
        left, right = st.columns([1, 2], gap="small", wrap=False)
        left.caption(title)
        right.text(value)  # text, never markup: reasons and names come from data


def render_alert(store: Store, alert_id: int, t: Translator) -> None:
    """One alert: where it is, what was measured, its history, and the reviewer's actions."""
    ss = st.session_state
    names = state_names(t)
    st.button(t("Back to the queue"), icon=":material/arrow_back:", on_click=_open,
              args=(None,), key=state.ALERT_BACK)
    try:
        alert = get_alert(store, alert_id)
    except AtalayaError as err:
        st.error(escape_markdown(localize_message(err, t)))
        return
    st.subheader(f"#{alert.id} · {names.get(alert.state, alert.state)}")
    # on a phone the verdict comes after the map, the facts and the imagery: one tap away
    go = t("Go to the verdict")  # (outside the f-string: the extractor reads no f-string)
    st.markdown(f"[{go} ↓](#{VERDICT_ANCHOR})")
    who = str(ss.get(state.REVIEWER, "")).strip()
    try:
        world = load_world(get_settings().data_dir)
        scenes = scene_refs(world["scenes"], world.data_dir)
    except AtalayaError as err:
        st.error(escape_markdown(localize_message(err, t)))
        chips: StoredChips | AtalayaError | None = None
    else:
        chips = cut_chips(store, alert, t, scenes=scenes, user=who)
    under = map_chip(chips if isinstance(chips, StoredChips) else None)
    st_folium(_alert_map(alert, None if under is None else (under, chip_bytes(store, under)),
                         t),
              key=state.ALERT_MAP, height=360, use_container_width=True, returned_objects=[])
    if under is not None:
        st.caption(t("Under the strip: {what}, {day}.").format(
            what=_lower_first(chip_names(t).get(str(under.meta.get("composite")), "")),
            day=str(under.meta.get("date", ""))))
    _text_rows(_facts(alert, t))
    if chips is not None:
        render_chips(store, chips, t)
    st.subheader(t("Verdict"), anchor=VERDICT_ANCHOR)
    if not who:
        st.warning(t("Type your name in the sidebar to give a verdict or a comment."))
    st.text_area(t("Comment"), key=state.ALERT_COMMENT, max_chars=4000, height=100,
                 help=t("Needed to dismiss an alert: say why the strip is no clandestine "
                        "runway (a road, a field, a river bank, a registered aerodrome)."))
    # Someone else's alert: the store refuses a verdict or a take-over from a role that may
    # not assign alerts (geo.store.alerts.change_refusal); say so before a tap, not after.
    held = alert.assignee not in (None, who) and not allowed(Action.ASSIGN_OTHERS)
    # Every verdict in one fixed order, those the alert cannot take now greyed out: when the
    # buttons were only the allowed ones, a saved verdict put another state under the same
    # finger, and a double tap on a phone moved the alert on twice.
    reachable = set() if held else set(allowed_next(alert.state))
    now = names.get(alert.state, alert.state)
    if held:
        st.info(t("Assigned to {who}: only they, or someone who may assign alerts, may give "
                  "its verdict or take it. Your comment is still welcome.").format(
                      who=escape_markdown(alert.assignee)))
    elif reachable:
        st.caption(t("From “{state}” an alert may go to {states}; the other verdicts are "
                     "greyed out.").format(state=now, states=t.either(
                         [names.get(s, s) for s in VERDICTS if s in reachable])))
    else:
        st.caption(t("No verdict applies to an alert that is “{state}”.").format(state=now))
    for target in VERDICTS:
        st.button(names.get(target, target), key=f"{state.ALERT_VERDICT}:{target}",
                  disabled=not who or target not in reachable, use_container_width=True,
                  on_click=_change, args=(store, alert.id, alert.version, t),
                  kwargs={"target": target})
    row = st.columns(2)
    row[0].button(t("Assign to me"), key=state.ALERT_ASSIGN,
                  disabled=not who or alert.assignee == who or held,
                  use_container_width=True, on_click=_change,
                  args=(store, alert.id, alert.version, t), kwargs={"assign": True})
    row[1].button(t("Comment only"), key=state.ALERT_COMMENT_ONLY, disabled=not who,
                  use_container_width=True, on_click=_change,
                  args=(store, alert.id, alert.version, t))
    # the outcome under the buttons that made it (the page keeps its scroll: at the top, a
    # phone's reviewer saw no "Saved." nor a refusal)
    message = ss.pop(state.ALERT_MESSAGE, None)
    if message:
        text = localize_message(message[1], t)
        text = escape_markdown(text[:1].upper() + text[1:])  # a refusal starts in lower case
        (st.error if message[0] == "error" else st.success)(text)
        if message[0] == "error":  # also where the finger is: on a phone the buttons above
            st.toast(text, icon=":material/error:")  # can push the message off the screen

    st.markdown("**" + t("Comments") + "**")
    comments = read_comments(store, alert.id)
    if not comments:
        st.caption(t("No comment yet."))
    for c in comments:
        st.caption(f"{c['author']} · {pd.Timestamp(c['created_at']):%Y-%m-%d %H:%M} UTC")
        st.text(localize_field_comment(c["body"], t))

    st.markdown("**" + t("Detections") + "**")
    st.dataframe(_looks_table(store, alert.id, t), hide_index=True, width="stretch")

    st.markdown("**" + t("History") + "**")
    st.caption(t("Newest first."))
    # newest first; the lines of one change keep their order
    entries = sorted(read_audit(store, alert_id=alert.id), key=lambda e: e.at, reverse=True)
    st.dataframe(history_table(entries, t, actors={DATA_FOLDER_ACTOR: t("detector (data folder)")}),
                 hide_index=True, width="stretch", key=state.ALERT_AUDIT)


def _looks_table(store: Store, alert_id: int, t: Translator) -> pd.DataFrame:
    """Tabulate an alert's detections and clear absences, oldest first (its state's grounds)."""
    labels = map_labels(t)
    rows = [(pd.Timestamp(d["detected_at"]), {
        t("Date"): pd.Timestamp(d["detected_at"]).strftime("%Y-%m-%d"),
        t("Scene"): str(d.get("scene_id", "")),
        t("Score"): t.number(shown_score(float(d["score"])), digits=2),
        # what the lifecycle compares between sightings (overgrown below 60 % of the last)
        t("Contrast with its flanks"): _percent(d.get("bare_contrast"), t),
        t("Length (m)"): t.number(round(float(d["length_m"]))),
        t("State"): labels.get(str(d.get("detection_state") or ""),
                               str(d.get("detection_state") or "")),
    }) for d in read_detections(store, alert_id)]
    rows += [(pd.Timestamp(a["observed_at"]), {
        t("Date"): pd.Timestamp(a["observed_at"]).strftime("%Y-%m-%d"),
        t("Scene"): str(a["scene_id"]), t("Score"): "—", t("Contrast with its flanks"): "—",
        t("Length (m)"): "—",
        t("State"): t("Not found: its ground seen clearly ({share} %)").format(
            share=f"{100 * float(a['clear_share']):.0f}"),
    }) for a in read_absences(store, alert_id)]
    return pd.DataFrame([r for _, r in sorted(rows, key=lambda r: r[0])])


def _percent(share: float | None, t: Translator) -> str:
    """Write a share (0.25) as a whole percentage ("25 %"); "—" when unknown."""
    return "—" if share is None else f"{t.number(round(100 * float(share)))} %"
