"""Field package panel: take a team's alerts to the field, bring their verdicts back.

Export: choose the alerts (by assignee or by state), build one ZIP (GeoPackage, KML, KMZ with
chips, README; see :mod:`geo.store.fieldpkg`) and download it. Import: upload the edited
``alerts.gpkg`` (or the ZIP), see what importing it would do row by row - conflicts (the alert
changed in the office since the export) highlighted, each with its own box to accept it - and
apply. Nothing is written before the Apply button; a broken or hostile file is refused with
a message, never a traceback.

Until accounts exist, the reviewer's name (the alert page's sidebar) is what the audit log
records.
"""

from __future__ import annotations

import hashlib
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from geo.auth import DESCRIPTIONS, Action
from geo.errors import AtalayaError
from geo.i18n import Translator, localize, message_of
from geo.store import ALERT_STATES, Store, list_alerts, read_comments
from geo.store.fieldpkg import (
    FieldReturn,
    ImportPlan,
    ImportReport,
    PlanItem,
    apply_import,
    export_field_package,
    is_field_comment,
    localize_field_comment,
    plan_import,
    read_field_package,
)
from geo.store.states import state_names
from ui.auth import acting_role, allowed
from ui.history import minute_utc
from ui.sidebar import relabelled
from ui.text import choice_texts, escape_markdown
from ui.uploads import file_uploader

__all__ = ["render_field_package", "render_returned_package"]

# Session-state and widget keys of this panel (they could join ui/state.py).
EXPORT_BY = "fieldpkg_export_by"
EXPORT_ASSIGNEE = "fieldpkg_export_assignee"
EXPORT_STATES = "fieldpkg_export_states"
EXPORT_BUILD = "fieldpkg_export_build"
EXPORT_RESULT = "fieldpkg_export_result"
EXPORT_DOWNLOAD = "fieldpkg_export_download"
UPLOAD = "fieldpkg_upload"
UPLOADED = "fieldpkg_uploaded"  # (sha256 of the upload, FieldReturn): parsed once per file
ACCEPT = "fieldpkg_accept"  # prefix of the per-conflict boxes: ACCEPT:<digest>:<alert id>
APPLY = "fieldpkg_apply"
IMPORT_RESULT = "fieldpkg_import_result"

CONFLICT_BACKGROUND = "background-color: #fde2e1"
REJECTED_BACKGROUND = "background-color: #eeeeee"


def _kind_names(t: Translator) -> dict[str, str]:
    return {"apply": t("Will apply"), "conflict": t("Conflict"), "rejected": t("Rejected"),
            "unchanged": t("Unchanged")}


def render_field_package(store: Store, t: Translator, reviewer: str) -> None:
    """Show the field package panel: export for a team, import what the team sent back."""
    who = (reviewer or "").strip()
    if not who:
        st.warning(t("Type your name in the sidebar to export or import a field package."))
    with st.container(border=True):
        _render_export(store, t, who)
    with st.container(border=True):
        st.markdown("**" + t("Import the team's verdicts") + "**")
        uploaded = file_uploader(
            t, t("Returned package (.gpkg or .zip)"), type=["gpkg", "zip"], key=UPLOAD,
            help=t("The alerts.gpkg the team edited, or the whole field package ZIP."),
            note=t("Nothing is changed until you press Apply."))
        if uploaded is None:
            return
        render_returned_package(store, t, who, uploaded.getvalue())


# -- export -----------------------------------------------------------------------------------

def _render_export(store: Store, t: Translator, who: str) -> None:
    st.markdown("**" + t("Export for the field") + "**")
    if not allowed(Action.EXPORT_FIELD_PACKAGE):  # a field team: its own assignments only
        st.caption(t("Your own assignments ({name}) go into the package.").format(
            name=escape_markdown(who)))
        st.button(t("Build the field package"), key=EXPORT_BUILD, disabled=not who,
                  use_container_width=True, on_click=_build, args=(store, t, who))
        _show_export_result(t)
        return
    names = state_names(t)
    by = st.radio(t("Choose alerts by"), ["assignee", "states"], key=relabelled(EXPORT_BY),
                  horizontal=True, format_func=lambda v: {"assignee": t("Assignee"),
                                                          "states": t("State")}[v])
    assignees = sorted({a.assignee for a in list_alerts(store) if a.assignee})
    if by == "assignee":
        if not assignees:
            st.info(t("No alert is assigned to anyone yet; choose by state instead."))
            return
        st.selectbox(t("Assignee"), assignees, key=EXPORT_ASSIGNEE)
    else:
        st.multiselect(t("States"), ALERT_STATES, key=relabelled(EXPORT_STATES),
                       format_func=lambda s: names[s], default=["needs_field_visit"],
                       **choice_texts(t, empty_means_all=False))
    st.button(t("Build the field package"), key=EXPORT_BUILD, disabled=not who,
              use_container_width=True, on_click=_build, args=(store, t, who))
    _show_export_result(t)


def _build(store: Store, t: Translator, who: str) -> None:
    """Build the package into memory (button callback); keep the outcome for the next run."""
    ss = st.session_state
    by_assignee = ss.get(EXPORT_BY, "assignee") == "assignee"
    assignee = ss.get(EXPORT_ASSIGNEE) if by_assignee else None
    states = None if by_assignee else list(ss.get(EXPORT_STATES) or [])
    # Checked here, when the package is asked for: any alerts, or only one's own.
    if not allowed(Action.EXPORT_FIELD_PACKAGE):
        if not allowed(Action.EXPORT_OWN_ASSIGNMENTS):
            ss[EXPORT_RESULT] = {"error": t("Your role may not {what}.").format(
                what=t(DESCRIPTIONS[Action.EXPORT_OWN_ASSIGNMENTS]))}
            return
        by_assignee, assignee, states = True, who, None
    if not by_assignee and not states:
        ss[EXPORT_RESULT] = {"error": t("Choose at least one state.")}
        return
    if not list_alerts(store, states=states, assignee=assignee):  # nothing to pack: say why
        ss[EXPORT_RESULT] = {"empty": t(
            "No alert is assigned to {who}: open one and press “Assign to me”, then build the "
            "package again.").format(who=assignee) if by_assignee else t(
            "No alert is in the chosen states; choose others.")}
        return
    try:
        with tempfile.TemporaryDirectory(prefix="atalaya-export-") as tmp:
            report = export_field_package(store, assignee=assignee, states=states,
                                          out=Path(tmp) / "package.zip", user=who, t=t)
            data = report.path.read_bytes()
    except AtalayaError as err:  # the message: localized when shown, in that run's language
        ss[EXPORT_RESULT] = {"error": message_of(err)}
        return
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    ss[EXPORT_RESULT] = {"data": data, "name": f"atalaya-field-{stamp}-{report.package_id[:8]}"
                         ".zip", "alerts": len(report.alert_ids), "chips": report.chips,
                         "skipped": list(report.skipped_chips)}


def _show_export_result(t: Translator) -> None:
    result: dict[str, Any] | None = st.session_state.get(EXPORT_RESULT)
    if not result:
        return
    if "empty" in result:
        st.info(escape_markdown(result["empty"]))
        return
    if "error" in result:
        st.error(t("The field package could not be built."))
        st.code(localize(result["error"], t), language=None, wrap_lines=True)
        return
    st.success(t("Packed: {alerts} and {chips}.").format(
        alerts=t.n("{n} alert", "{n} alerts", result["alerts"]).format(
            n=t.number(result["alerts"])),
        chips=t.n("{n} image chip", "{n} image chips", result["chips"]).format(
            n=t.number(result["chips"]))))
    if result["chips"] < result["alerts"]:  # "0 image chips" for 300 alerts, unexplained
        st.caption(t("An alert's image chips are cut the first time someone opens it; open "
                     "an alert before packing it to give the team its images."))
    if result["skipped"]:
        st.caption(t("Left out of the KMZ:"))
        st.code("\n".join(localize(why, t) for why in result["skipped"]), language=None,
                wrap_lines=True)
    st.download_button(t("Download the field package"), data=result["data"],
                       file_name=result["name"], mime="application/zip", key=EXPORT_DOWNLOAD,
                       use_container_width=True, icon=":material/download:")


# -- import -----------------------------------------------------------------------------------

def _parsed(data: bytes) -> tuple[str, FieldReturn]:
    """Parse the upload once per distinct file (it is read again on every rerun)."""
    digest = hashlib.sha256(data).hexdigest()
    cached = st.session_state.get(UPLOADED)
    if cached is not None and cached[0] == digest:
        return cached  # type: ignore[no-any-return]
    returned = read_field_package(data)
    st.session_state[UPLOADED] = (digest, returned)
    return digest, returned


def render_returned_package(store: Store, t: Translator, who: str, data: bytes) -> None:
    """Show what importing ``data`` would do, the conflicts to accept, and the Apply button."""
    try:
        digest, returned = _parsed(data)
        plan = plan_import(store, returned, user=who, role=acting_role())
    except AtalayaError as err:
        st.error(t("This package cannot be imported; nothing was changed."))
        st.code(localize(err, t), language=None, wrap_lines=True)
        return
    _show_import_result(t)
    if returned.exported_by:
        st.caption(t("Package exported by {who} at {at}.").format(  # the file's text: escaped
            who=escape_markdown(returned.exported_by),
            at=escape_markdown(minute_utc(returned.exported_at or "?"))))
    counts = plan.counts()
    cols = st.columns(4)
    for col, (kind, label) in zip(cols, _kind_names(t).items(), strict=True):
        col.metric(label, t.number(counts[kind]))
    st.dataframe(_plan_table(plan, t), hide_index=True, width="stretch")
    accepted = _conflict_boxes(store, plan, t, digest, since=returned.exported_at)
    pending = counts["apply"] + len(accepted)
    if not counts["apply"] and not counts["conflict"]:  # applied already, or all refused
        st.caption(t("Nothing in this package is left to apply: its rows are already in the "
                     "store, or were rejected (see Why)."))
        return
    st.button(t.n("Apply {n} row", "Apply {n} rows", pending).format(n=t.number(pending)),
              key=APPLY, type="primary", disabled=not who or pending == 0,
              use_container_width=True, on_click=_apply,
              args=(store, plan, who, frozenset(accepted), t))


def _plan_table(plan: ImportPlan, t: Translator) -> Any:
    """Lay out the plan as a table, conflicts highlighted (a pandas Styler)."""
    kinds, names = _kind_names(t), state_names(t)
    frame = pd.DataFrame([{
        t("Row"): item.row,
        t("Alert"): "" if item.alert_id is None else str(item.alert_id),
        t("Result"): kinds[item.kind],
        # beside the result: a rejected or conflicting row says why without scrolling right
        t("Why"): localize(item.reason, t),
        t("Team verdict"): names.get(item.verdict or "", item.verdict or ""),
        t("Comment"): localize_field_comment(item.comment or "", t),
        t("State now"): names.get(item.store_state or "", item.store_state or ""),
        t("Version exported"): "" if item.exported_version is None else
        str(item.exported_version),
        t("Version now"): "" if item.store_version is None else str(item.store_version),
        t("Changed by"): item.updated_by or "",
    } for item in plan.items])
    if frame.empty:
        return frame
    background = {kinds["conflict"]: CONFLICT_BACKGROUND, kinds["rejected"]: REJECTED_BACKGROUND}
    column = t("Result")
    return frame.style.apply(
        lambda row: [background.get(row[column], "")] * len(row), axis=1)


def _conflict_boxes(store: Store, plan: ImportPlan, t: Translator, digest: str, *,
                    since: str | None) -> list[int]:
    """One box per conflict, with both sides as plain text; return the accepted alert ids.

    Each side says what it did and why: the team's verdict and comment, the office's state
    and the comments written in the office since the package's export (``since``, ISO 8601).
    """
    conflicts = plan.of_kind("conflict")
    if not conflicts:
        return []
    st.markdown("**" + t("Conflicts") + "**")
    st.caption(t("These alerts changed in the office after the export. The team's verdict is "
                 "applied only if you tick it, and only if the move is still allowed."))
    accepted = []
    for item in conflicts:
        if st.checkbox(t("Accept the team's verdict on alert {id}").format(id=item.alert_id),
                       key=f"{ACCEPT}:{digest[:16]}:{item.alert_id}"):
            accepted.append(int(item.alert_id or 0))
        office = _office_comments(store, int(item.alert_id or 0), since)
        st.text(_conflict_text(item, t, office))  # text, never markup: names come from people
    return accepted


#: Office comments a conflict shows (the newest); the alert's page has them all.
OFFICE_COMMENTS = 3


def _office_comments(store: Store, alert_id: int, since: str | None) -> list[dict[str, Any]]:
    """Comments on an alert written after ``since`` (all when it is unreadable), oldest first.

    Comments applied from field packages are left out: they are the team's, not the office's.
    """
    try:
        start = pd.Timestamp(since).tz_convert("UTC") if since else None
    except (TypeError, ValueError):  # the package's own text: a bad time shows every comment
        start = None
    out = []
    for c in read_comments(store, alert_id):
        when = pd.Timestamp(c["created_at"])
        when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
        if (start is None or when > start) and not is_field_comment(str(c["body"])):
            out.append(c)
    return out


def _conflict_text(item: PlanItem, t: Translator,
                   office: list[dict[str, Any]] | None = None) -> str:
    names = state_names(t)
    when = "" if item.updated_at is None else f"{item.updated_at:%Y-%m-%d %H:%M} UTC"
    lines = [t("Team: {verdict} (from version {exported}). Office now: {state}, version "
               "{version}, changed by {who} at {when}.").format(
        verdict=names.get(item.verdict or "", item.verdict or "—"),
        exported=item.exported_version, state=names.get(item.store_state or "", "?"),
        version=item.store_version, who=item.updated_by or "?", when=when)]
    if item.comment:
        lines.append(t("Team's comment: {comment}").format(
            comment=localize_field_comment(item.comment, t)))
    for c in (office or [])[-OFFICE_COMMENTS:]:
        lines.append(t("Office comment by {who} at {when}: {comment}").format(
            who=c["author"], when=minute_utc(c["created_at"]), comment=c["body"]))
    return "\n".join(lines)


def _apply(store: Store, plan: ImportPlan, who: str, accepted: frozenset[int],
           t: Translator) -> None:
    """Apply the plan (button callback); keep the report for the next run."""
    if not allowed(Action.IMPORT_FIELD_PACKAGE):  # checked when asked, not by the button
        st.session_state[IMPORT_RESULT] = t("Your role may not {what}.").format(
            what=t(DESCRIPTIONS[Action.IMPORT_FIELD_PACKAGE]))
        return
    try:
        st.session_state[IMPORT_RESULT] = apply_import(
            store, plan, who, accept_conflicts=accepted, role=acting_role())
    except AtalayaError as err:  # the message: localized when shown, in that run's language
        st.session_state[IMPORT_RESULT] = message_of(err)


def _show_import_result(t: Translator) -> None:
    result: ImportReport | str | None = st.session_state.pop(IMPORT_RESULT, None)
    if result is None:
        return
    if isinstance(result, str):
        st.error(t("The import failed; nothing was changed."))
        st.code(localize(result, t), language=None, wrap_lines=True)
        return
    verdicts, comments = len(result.verdicts), len(result.comments)
    saved = t("Saved: {verdicts} and {comments}.").format(
        verdicts=t.n("{n} verdict", "{n} verdicts", verdicts).format(n=t.number(verdicts)),
        comments=t.n("{n} comment", "{n} comments", comments).format(n=t.number(comments)))
    if result.verdicts or result.comments:
        st.success(saved)
    elif not result.failed:
        st.info(saved)  # nothing to save is not a failure, nor a success to celebrate
    if result.failed:
        st.error(t.n("{n} row could not be applied:", "{n} rows could not be applied:",
                     len(result.failed)).format(n=t.number(len(result.failed))))
        st.code("\n".join(f"#{aid}: {localize(why, t)}" for aid, why in result.failed),
                language=None, wrap_lines=True)  # a phone wraps it instead of cutting it
