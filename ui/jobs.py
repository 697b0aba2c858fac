"""The background jobs page, and the services every app process starts once.

:func:`ensure_services` sets up the JSON-lines log and starts this process's
:class:`geo.jobs.JobRunner` (stale jobs of a killed predecessor are recovered first; the Dask
cluster starts with the first job that needs it), once per process, shared by every session.

:func:`render_jobs` lists the jobs of the store (they survive a reload and a restart),
refreshed every :data:`REFRESH_S` seconds while one is queued, running or cancelling and not
otherwise; starts a detection over scenes of the data folder's catalogue (two users asking
for the same detection get the same job: :func:`geo.jobs.submit_job` deduplicates); cancels a
job for its creator or for a role that may cancel any; and shows the health of the
installation, read-only. Every action checks the role on the server when it is asked for, not
only when its button is drawn. Job messages, errors and health findings pass through
:func:`geo.logjson.scrub_text` before they are shown, so no password reaches the page.

Other pages start and follow their own jobs with the same parts: :func:`ask_job` (submit,
deduplicated, logged, and wake the runner) and :func:`follow_job` (the job a panel follows:
the one this session asked for, else the user's latest one of that kind from the store, so it
survives a reload; drawn by :func:`render_job_progress` as its card, refreshed while it is
unfinished, with Cancel for who may).
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import streamlit as st
from shapely.geometry.base import BaseGeometry
from sqlalchemy.exc import SQLAlchemyError

from geo.auth import PAGE_ACTIONS, Action, Role, Session, can
from geo.errors import AtalayaError, JobError, JobNotFoundError, JobStateError
from geo.health import HealthReport, check_health
from geo.i18n import Message, Translator, message_of
from geo.i18n import localize as localize_text
from geo.imagechips import SceneRef, scene_refs
from geo.jobs import (
    ACTIVE_STATES,
    Job,
    JobRunner,
    detect_params,
    get_job,
    list_jobs,
    request_cancel,
    submit_job,
)
from geo.jobs.messages import localize, localize_error, stored_localized
from geo.logjson import (
    JsonLinesFormatter,
    RedactingFilter,
    scrub_message,
    scrub_text,
    setup_json_logging,
)
from geo.settings import Settings
from geo.store import Store, default_url
from geo.store.users import active_user, record_refusal
from ui import state
from ui.auth import allowed, current_session
from ui.cache import get_settings, load_world, open_store_cached, saved_areas
from ui.health import check_label, finding
from ui.sidebar import current_translator
from ui.text import choice_texts, escape_markdown

__all__ = ["LOG_FILE", "RECENT_S", "REFRESH_S", "ask_job", "ensure_services", "find_job",
           "follow_job", "render_job_progress", "render_jobs", "start_job", "wake_runner"]

log = logging.getLogger("atalaya.ui.jobs")

#: The JSON-lines log, under the data folder (problems also go to standard error).
LOG_FILE = Path("logs") / "atalaya.jsonl"
#: Seconds between refreshes of the job list while a job is unfinished.
REFRESH_S = 2.0
#: Seconds a finished job stays in the panel that started it, found again after a reload.
RECENT_S = 600.0
#: Jobs listed (newest first).
SHOWN_JOBS = 30
#: Seconds a health report is reused (the check opens the store and every scene).
HEALTH_TTL_S = 30
#: Seconds the runner waits for its threads at exit before handing their jobs back (a thread
#: still inside a step then finds its job gone and stores nothing).
STOP_TIMEOUT_S = 3.0

def _plain(text: object) -> str:
    r"""Mask secrets, then escape Markdown, so stored text shows as written and nothing more.

    Examples
    --------
    >>> _plain("failed: postgresql://app:pw@db/x *now*")
    'failed\\: postgresql\\://app\\:\\[redacted\\]@db/x \\*now\\*'
    """
    return escape_markdown(scrub_text(str(text)))


# -- services (once per process) ----------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _logging(data_dir: str) -> str:
    """Write the ``atalaya`` loggers as JSON lines; return where (a file, or ``stderr``).

    The file lives in the data folder's ``logs/`` (never creating a missing data folder,
    which the health check must still see missing); warnings and errors also go to standard
    error, where a service manager or a container collects them.
    """
    folder = Path(data_dir)
    if folder.is_dir():
        target = folder / LOG_FILE
        try:
            target.parent.mkdir(exist_ok=True)
            setup_json_logging(target)
        except OSError:
            pass  # a read-only data folder: standard error only, below
        else:
            problems = logging.StreamHandler(sys.stderr)
            problems.setLevel(logging.WARNING)
            problems.addFilter(RedactingFilter())
            problems.setFormatter(JsonLinesFormatter())
            logging.getLogger("atalaya").addHandler(problems)
            return str(target)
    setup_json_logging(sys.stderr)
    return "stderr"


def _stop(runner: JobRunner) -> None:
    """Stop a runner: its running jobs go back to the queue (for the next process)."""
    runner.stop(timeout_s=STOP_TIMEOUT_S)


def _at_exit(runner: JobRunner) -> None:
    """Stop ``runner`` when the process exits normally (Streamlit's answer to SIGTERM).

    ``atexit`` is too late: by then the interpreter's thread pools refuse work, so a Dask
    wait inside a detection fails and the job would be marked failed instead of handed back.
    The hook of :mod:`threading` (the one :mod:`concurrent.futures` uses) runs before them.
    """
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        try:
            register(_stop, runner)
            return
        except RuntimeError:  # already shutting down
            pass
    atexit.register(_stop, runner)


@st.cache_resource(show_spinner=False, on_release=_stop)
def _runner(url: str, settings_key: str, _settings: Settings) -> JobRunner:
    try:
        runner = JobRunner(open_store_cached(url), settings=_settings)
        runner.start()  # recovers the jobs a killed process left running, then polls
    except (SQLAlchemyError, OSError) as exc:
        raise JobError(Message("the job runner could not start: {error}",
                               error=scrub_text(str(exc)))) from exc
    _at_exit(runner)  # hand running jobs back on a normal exit (SIGTERM)
    log.info("job runner %s started", runner.owner, extra={"owner": runner.owner})
    return runner


def ensure_services(settings: Settings) -> JobRunner:
    """Set up the JSON log and start this process's job runner, once; return the runner.

    Cached per store and settings (``st.cache_resource``), so every session and every rerun
    gets the same runner. The local Dask cluster starts only when a job first needs it, so
    this returns in milliseconds. The runner stops, handing its running jobs back to the
    queue, when the process exits normally or the cache releases it.

    Raises
    ------
    AtalayaError
        The store cannot be opened or the runner cannot start (the caller shows it; the rest
        of the app works, and queued jobs wait for a runner).
    """
    where = _logging(str(settings.data_dir))
    try:
        return _runner(default_url(), repr(settings), settings)
    except AtalayaError as err:
        log.error("background jobs cannot run: %s", err, extra={"log": where})
        # said on the page: no password, in the reader's language
        raise JobError(scrub_message(message_of(err))) from err


# -- the page -----------------------------------------------------------------------------------

def _store() -> Store:
    return open_store_cached(default_url())


def render_jobs() -> None:
    """Draw the background jobs page: start a detection, the job list, the health report."""
    t = current_translator()
    st.title(t("Background jobs"))
    st.caption(t("Jobs run in the background: leave or reload the page, the job goes on and "
                 "stays listed."))
    session = current_session()
    if session is None:  # guard_page lets nobody in without one; never draw for nobody
        return
    settings = get_settings()
    try:
        store = _store()
    except AtalayaError as err:
        st.error(t("The job list could not be opened."))
        st.code(scrub_text(str(err)), language=None, wrap_lines=True)
        return
    if allowed(Action.RUN_DETECTION):
        _render_detection_form(store, settings, session, t)
    else:
        st.caption(t("Your role may follow the jobs here; running detection needs an analyst "
                     "or an administrator."))
    _render_list(store, session, t)
    _render_health(settings, t)


def _render_detection_form(store: Store, settings: Settings, session: Session,
                           t: Translator) -> None:
    st.subheader(t("Run runway detection"))
    try:
        refs = scene_refs(load_world(settings.data_dir)["scenes"], settings.data_dir)
    except AtalayaError as err:
        st.warning(t("The scene catalogue could not be read: {error}").format(
            error=_plain(localize_text(err, t))))
        return
    if not refs:
        st.info(t("The imagery catalogue is empty: import scenes first."))
        return
    by_id = {r.scene_id: r for r in refs}
    saved = saved_areas(settings.data_dir, t)
    areas = {str(i): (str(n), g)  # id: (name, polygon in EPSG:4326)
             for i, n, g in zip(saved["area_id"], saved["name"], saved.geometry, strict=True)}
    if st.session_state.get(state.JOBS_AREA, "") not in ("", *areas):
        st.session_state[state.JOBS_AREA] = ""  # an area deleted meanwhile
    with st.form(state.JOBS_DETECT_FORM):
        chosen = st.multiselect(t("Scenes"), options=list(by_id), default=list(by_id),
                                format_func=lambda s: f"{by_id[s].acquired_at:%Y-%m-%d} · {s}",
                                key=state.JOBS_SCENES,
                                **choice_texts(t, empty_means_all=False))
        area_id = st.selectbox(
            t("Area"), options=["", *areas], key=state.JOBS_AREA,
            format_func=lambda a: areas[a][0] if a else t("The whole scenes"),  # plain text
            help=t("Only the ground of a saved area: only the windows that reach it are read "
                   "(a small area of a large tile takes a fraction of the time), and only "
                   "the candidates centred in it are kept. A strip less than 2 km inside the "
                   "area's edge is not said to be gone when a scene misses it. Areas are "
                   "drawn and saved on the overview map."))
        rules_only = st.checkbox(t("Rules only (faster, without the learned scorer)"),
                                 key=state.JOBS_RULES_ONLY)
        aerodromes = st.checkbox(t("Compare with the registered aerodromes"), value=True,
                                 key=state.JOBS_AERODROMES)
        submitted = st.form_submit_button(t("Start detection"), type="primary",
                                          key=state.JOBS_SUBMIT)
    if submitted:
        _start_detection(store, [by_id[s] for s in chosen if s in by_id], session, t,
                         rules_only=rules_only, aerodromes=aerodromes,
                         area=areas.get(area_id or ""))


def _start_detection(store: Store, scenes: Sequence[SceneRef], session: Session,
                     t: Translator, *, rules_only: bool, aerodromes: bool,
                     area: tuple[str, BaseGeometry] | None = None) -> None:
    """Queue a detection (or find the same one unfinished), checking the role first."""
    if not allowed(Action.RUN_DETECTION):  # the role may have changed since the form
        _refuse(store, session, "start a detection job")
        st.error(t("Your role may not run runway detection."))
        return
    if not scenes:
        st.error(t("Choose at least one scene."))
        return
    try:
        params = detect_params([s.path for s in scenes], rules_only=rules_only,
                               aerodromes=aerodromes, area=area[1] if area else None,
                               area_name=area[0] if area else None)
        job, created = start_job(store, "detect", params, session.username,
                                 extra={"scenes": len(scenes)})
    except AtalayaError as err:
        st.error(t("The detection was not started: {reason}").format(reason=_plain(err)))
        return
    if created:
        st.success(t("Detection job {id} queued.").format(id=job.id))
    else:
        st.info(t("This detection is already {state}: job {id}, started by {user}.").format(
            state=_state_names(t).get(job.state, job.state).lower(), id=job.id,
            user=_plain(job.created_by)))
    _wake(t)


def start_job(store: Store, kind: str, params: Mapping[str, Any], user: str, *,
              extra: Mapping[str, Any] | None = None) -> tuple[Job, bool]:
    """Queue a job, or find the unfinished one with the same kind and parameters; log it.

    Returns the job and whether this call created it (see :func:`geo.jobs.submit_job`). The
    caller checks the role first, and wakes the runner (:func:`wake_runner`).

    Raises
    ------
    AtalayaError
        The parameters or the store refused it.
    """
    job_id, created = submit_job(store, kind, params, user)
    job = get_job(store, job_id)
    log.info("%s job %s %s by %s", kind, job_id, "queued" if created else "asked again", user,
             extra={"job_id": job_id, "user": user, "new_job": created, **(extra or {})})
    return job, created


def wake_runner() -> bool:
    """Tell this process's runner to look at the queue now; False when no runner works."""
    try:
        ensure_services(get_settings()).wake()
    except AtalayaError:
        return False
    return True


def _wake(t: Translator) -> None:
    """Tell this process's runner to look at the queue now (not at its next poll)."""
    if not wake_runner():
        st.warning(_no_runner_text(t))


def _no_runner_text(t: Translator) -> str:
    """Return what a page says when no runner works in this process."""
    return t("No job runner works in this app now: the job waits in the queue until one "
             "starts.")


def _refuse(store: Store, session: Session | None, what: str) -> None:
    """Write a refused action to the audit log (the refusal stands if that fails)."""
    try:
        record_refusal(store, session.username if session else None, f"jobs: {what}")
    except AtalayaError as err:
        log.warning("refusal of %r not recorded: %s", what, err)


# -- the job list -------------------------------------------------------------------------------

def _render_list(store: Store, session: Session, t: Translator) -> None:
    st.subheader(t("Jobs"))
    mine = st.toggle(t("Only my jobs"), key=state.JOBS_MINE)
    who = session.username if mine else None
    try:
        active = _any_active(store, who)
    except (AtalayaError, SQLAlchemyError) as err:
        st.error(t("The job list could not be read: {error}").format(error=_plain(err)))
        return
    # Refresh on a timer only while something can still change; the fragment asks for a
    # full run when that flips, which starts or stops the timer.
    refresh = REFRESH_S if active else None
    st.fragment(run_every=refresh)(_job_cards)(store, who, active, t)


def _any_active(store: Store, who: str | None) -> bool:
    return bool(list_jobs(store, states=sorted(ACTIVE_STATES), created_by=who, limit=1))


def _job_cards(store: Store, who: str | None, was_active: bool, t: Translator) -> None:
    try:
        active = _any_active(store, who)
        jobs = list_jobs(store, created_by=who, limit=SHOWN_JOBS)
    except (AtalayaError, SQLAlchemyError) as err:
        st.error(t("The job list could not be read: {error}").format(error=_plain(err)))
        return
    if active != was_active:
        st.rerun()  # start or stop the refresh timer
    _show_notice()
    st.button(t("Refresh"), key=state.JOBS_REFRESH, icon=":material/refresh:")
    if not jobs:
        st.info(t("No background job yet."))
        return
    session = current_session()
    for job in jobs:
        _job_card(job, session, t)


def _show_notice() -> None:
    """Show the outcome of the last cancel (set by the :func:`_cancel` callback), once."""
    notice = st.session_state.pop(state.JOBS_NOTICE, None)
    if notice:
        kind, message = notice
        st.toast(message, icon=":material/error:" if kind == "error" else
                 ":material/check_circle:")


# -- one job, in another page's panel -----------------------------------------------------------

def find_job(store: Store, kind: str, user: str, tracked: int | None = None) -> Job | None:
    """Return the job a panel follows: ``tracked`` (this session's), else the user's latest.

    The user's latest job of ``kind`` is followed while it is unfinished and for
    :data:`RECENT_S` seconds after it ended, so a reload finds the job (and its outcome) again.
    """
    if tracked is not None:
        try:
            return get_job(store, tracked)
        except JobNotFoundError:
            pass
    if not user:
        return None
    found = list_jobs(store, kinds=[kind], created_by=user, limit=1)
    if not found:
        return None
    job = found[0]
    ended = job.finished_at
    if job.finished and (ended is None or
                         (datetime.now(UTC) - ended).total_seconds() > RECENT_S):
        return None
    return job


def ask_job(kind: str, params: Mapping[str, Any], user: str) -> dict[str, Any]:
    """Queue a job (or find its unfinished twin) and wake the runner; for a page's panel.

    Returns what :func:`follow_job` needs: ``{"job": id, "created": bool, "runner": bool}``
    (``runner`` False: no runner works in this process, the job waits in the queue). The
    caller checks the role first.

    Raises
    ------
    AtalayaError
        The parameters or the store refused it.
    """
    job, created = start_job(_store(), kind, params, user)
    return {"job": job.id, "created": created, "runner": wake_runner()}


def follow_job(kind: str, user: str, asked: Mapping[str, Any], t: Translator) -> Job | None:
    """Show the job a panel follows (see :func:`find_job`) and return it; None: no job.

    ``asked`` is what :func:`ask_job` returned in this session (empty after a reload): a
    request that found its twin under way, or no runner, is said so above the job's card.
    """
    if not user and asked.get("job") is None:
        return None
    try:
        job = find_job(_store(), kind, user, asked.get("job"))
    except (AtalayaError, SQLAlchemyError) as err:
        st.error(t("The job list could not be read: {error}").format(error=_plain(err)))
        return None
    if job is None:
        return None
    if job.id == asked.get("job") and not job.finished:
        if not asked.get("created", True):
            st.info(t("The same request is already under way: job {id}, started by "
                      "{user}.").format(id=job.id, user=_plain(job.created_by)))
        if not asked.get("runner", True):
            st.warning(_no_runner_text(t))
    render_job_progress(job, t)
    return job


def render_job_progress(job: Job, t: Translator) -> None:
    """Show a job's card: state, progress, message, error, and Cancel for who may.

    The card is a fragment refreshed every :data:`REFRESH_S` seconds while the job is
    unfinished; when it ends, the whole page runs again, so the caller (which read ``job``)
    shows the outcome and the timer stops.
    """
    st.fragment(run_every=None if job.finished else REFRESH_S)(_follow)(job.id, job.finished, t)


def _follow(job_id: int, was_finished: bool, t: Translator) -> None:
    try:
        job = get_job(_store(), job_id)
    except (AtalayaError, SQLAlchemyError) as err:
        st.error(t("The job list could not be read: {error}").format(error=_plain(err)))
        return
    if job.finished != was_finished:
        st.rerun()  # show the outcome outside this fragment, and stop the timer
    _show_notice()
    _job_card(job, current_session(), t)


def _state_names(t: Translator) -> dict[str, str]:
    return {"queued": t("Queued"), "running": t("Running"), "cancelling": t("Cancelling"),
            "cancelled": t("Cancelled"), "succeeded": t("Succeeded"), "failed": t("Failed")}


def _kind_names(t: Translator) -> dict[str, str]:
    return {"detect": t("Runway detection"), "ingest": t("Imagery import"),
            "export": t("Export")}


_STATE_ICONS = {"queued": ":material/schedule:", "running": ":material/progress_activity:",
                "cancelling": ":material/block:", "cancelled": ":material/block:",
                "succeeded": ":material/check_circle:", "failed": ":material/error:"}


def _when(value: datetime | None, t: Translator) -> str:
    return "–" if value is None else t.datetime(value)


def _job_card(job: Job, session: Session | None, t: Translator) -> None:
    with st.container(border=True, key=f"{state.JOBS_CARD}:{job.id}"):
        head, side = st.columns([6, 1], vertical_alignment="center")
        head.markdown("{icon} **{kind}** · {label} · {state}".format(
            icon=_STATE_ICONS.get(job.state, ""), kind=_kind_names(t).get(job.kind, job.kind),
            label=t("job {id}").format(id=job.id),
            state=_state_names(t).get(job.state, job.state)))
        head.caption(t("Started by {user} · queued {created} · began {started} · ended "
                       "{finished} (UTC)").format(user=_plain(job.created_by),
                                            created=_when(job.created_at, t),
                                            started=_when(job.started_at, t),
                                            finished=_when(job.finished_at, t)))
        if not job.finished and session is not None and _may_cancel(job, session.username,
                                                                     session.role):
            side.button(t("Cancel"), key=f"{state.JOBS_CANCEL}:{job.id}", on_click=_cancel,
                        args=(job.id,), icon=":material/cancel:")
        summary = _summary(job, t)
        # a finished detection's summary says what its closing message does, and more
        text = localize(job.message, t, t.number) if job.message and not summary else ""
        st.progress(min(max(job.progress, 0.0), 1.0), text=_plain(text) or None)
        if job.error:
            st.error(_plain(localize_error(job.error, job.result, t)))
        if summary:
            st.caption(summary)
            _alert_links(job, session, t)


#: Alerts of each kind a detection's card links to; the others are in the queue.
LINKED_ALERTS = 8


def _alert_links(job: Job, session: Session | None, t: Translator) -> None:
    """Links to the alerts a finished detection created and those it found absent.

    In-app links (``st.page_link``): the alert opens in this session, still signed in. Drawn
    only for a role that may open the alert page.
    """
    result = job.result or {}
    if session is None or not can(session.role, PAGE_ACTIONS["alerts"]):
        return
    page = st.Page(_never_run, url_path="alerts", title=t("Runway alerts"))
    gone, not_yet = _absent(result)
    for title, ids in ((t("New alerts:"), result.get("created", [])),
                       (t("Not found on a clear scene:"), gone),
                       (t("Not there yet on an older clear scene:"), not_yet)):
        if not ids:
            continue
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            st.caption(title, width="content")
            for alert_id in ids[:LINKED_ALERTS]:
                st.page_link(page, label=f"#{int(alert_id)}",
                             query_params={"alert": str(int(alert_id))})
            if len(ids) > LINKED_ALERTS:
                more = len(ids) - LINKED_ALERTS
                st.page_link(page, label=t.n("{n} more in the queue", "{n} more in the queue",
                                             more).format(n=t.number(more)))


def _never_run() -> None:
    """Stand for the alert page in links (``app.py`` registers the page that runs)."""


def _summary(job: Job, t: Translator) -> str:
    """One line on what a finished detection found (empty for other jobs)."""
    result = job.result or {}
    if job.kind != "detect" or job.state != "succeeded" or "candidates" not in result:
        return ""
    took = ((job.finished_at - job.started_at).total_seconds()
            if job.finished_at and job.started_at else 0.0)
    found = int(result.get("candidates", 0))
    scenes = (int(result.get("scenes", 0)) - len(result.get("failures", []))  # those read
              - len(result.get("outside", [])))
    created = len(result.get("created", []))
    # a strip seen on several dates (or tiles) is several candidates and one alert
    strips = created + len(result.get("updated", [])) + len(result.get("unchanged", []))
    line = t("{candidates} in {scenes}, {strips}: {created}, {updated} updated, {unchanged} "
             "unchanged; ran {seconds} s.").format(
        candidates=t.n("{n} candidate", "{n} candidates", found).format(n=t.number(found)),
        scenes=t.n("{n} scene", "{n} scenes", scenes).format(n=t.number(scenes)),
        strips=t.n("{n} strip", "{n} strips", strips).format(n=t.number(strips)),
        created=t.n("{n} alert created", "{n} alerts created", created).format(
            n=t.number(created)),
        updated=t.number(len(result.get("updated", []))),
        unchanged=t.number(len(result.get("unchanged", []))),
        seconds=t.number(took, digits=1))
    line += _skipped(result.get("failures", []), t)
    if job.params.get("area_name") is not None:  # a detection in an area of interest
        outside = len(result.get("outside", []))
        line += " " + t("Only in the area {name}.").format(
            name=_plain(job.params["area_name"])) + _counted(outside, t, t.n(
                "{n} scene does not reach it and was not read.",
                "{n} scenes do not reach it and were not read.", outside))
    # alerts given an absence; jobs before 2026-12-05 kept the count of looks only
    gone, not_yet = _absent(result)
    absent = len(gone) if "absent" in result else int(result.get("absences", 0))
    blind = len(result.get("blind", []))  # scenes read whole, all nodata or cloud
    return line + _counted(absent, t, t.n(
        "{n} known strip was not found where a scene saw the ground clearly.",
        "{n} known strips were not found where a scene saw the ground clearly.", absent)) \
        + _counted(len(not_yet), t, t.n(
            "{n} known strip was not there yet on an older scene that saw its ground clearly "
            "(cleared since).",
            "{n} known strips were not there yet on an older scene that saw their ground "
            "clearly (cleared since).", len(not_yet))) \
        + _counted(blind, t, t.n(
            "{n} scene held only nodata or cloud: nothing could be found in it.",
            "{n} scenes held only nodata or cloud: nothing could be found in them.", blind))


def _absent(result: Mapping[str, Any]) -> tuple[list[int], list[int]]:
    """Split the alerts a detection gave an absence: not found since seen, and not there yet.

    ``not_yet`` (since 2026-12-07) are those whose absences are all on scenes older than the
    strip's first sighting (it was cleared since); results before it lump them in ``absent``.
    """
    not_yet = [int(a) for a in result.get("not_yet", [])]
    return [int(a) for a in result.get("absent", []) if a not in not_yet], not_yet


#: Skipped scenes named in a detection's summary (the job's result keeps them all).
SKIPPED_SHOWN = 3


def _skipped(failures: list[list[Any]], t: Translator) -> str:
    """Say which scenes a detection could not read, and why (the detector's words)."""
    if not failures:
        return ""
    why = "; ".join(_reason(entry, t) for entry in failures[:SKIPPED_SHOWN])
    if len(failures) > SKIPPED_SHOWN:
        why += " …"
    return " " + t.n("{n} scene could not be read and was skipped ({why}).",
                     "{n} scenes could not be read and were skipped ({why}).",
                     len(failures)).format(n=t.number(len(failures)), why=_plain(why))


def _reason(entry: list[Any], t: Translator, limit: int = 300) -> str:
    """Return a skipped scene's reason in ``t``'s language, led by its name once.

    ``entry`` is the job result's ``[name, English reason]``, with the reason's message
    after them when it had one (:func:`geo.jobs.handlers.failure_entry`, since 2026-12-07),
    from which the reason is written in the reader's language; a reason whose English
    starts with the name (the detector's often do) is not led by it again.
    """
    name, reason = str(entry[0]), str(entry[1])
    shown = stored_localized(entry[2], t) if len(entry) > 2 else None
    text = reason if shown is None else shown
    text = text if reason.startswith(name) else f"{name}: {text}"
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _counted(n: int, t: Translator, sentence: str) -> str:
    """Return " " and ``sentence`` (``t.n``'s form for ``n``) with ``n`` in it; "" when n is 0."""
    return " " + sentence.format(n=t.number(n)) if n > 0 else ""


def _may_cancel(job: Job, username: str, role: Role | str | None) -> bool:
    """Its creator may cancel a job (with ``RUN_JOBS``); ``CANCEL_ANY_JOB`` cancels any."""
    return can(role, Action.CANCEL_ANY_JOB) or (
        can(role, Action.RUN_JOBS) and job.created_by == username)


def _cancel(job_id: int) -> None:
    """Ask to cancel a job (button callback), checking on the server who may.

    The role is read from the store, not the session: a click inside the refreshing list
    reruns only the list, not the sign-in check that renews the session's role.
    """
    t = current_translator()
    session = current_session()
    ss = st.session_state
    try:
        store = _store()
        job = get_job(store, job_id)
        user = active_user(store, session.username) if session is not None else None
        if session is None or user is None or not _may_cancel(job, user.username, user.role):
            _refuse(store, session, f"cancel job {job_id}")
            ss[state.JOBS_NOTICE] = ("error", t(
                "Only the person who started a job, or an administrator, may cancel it."))
            return
        now = request_cancel(store, job_id, session.username)
    except JobStateError:
        ss[state.JOBS_NOTICE] = ("info", t("Job {id} had already ended.").format(id=job_id))
        return
    except AtalayaError as err:
        ss[state.JOBS_NOTICE] = ("error", scrub_text(str(err)))
        return
    log.info("job %s cancel asked by %s", job_id, session.username,
             extra={"job_id": job_id, "user": session.username, "state": now})
    ss[state.JOBS_NOTICE] = ("success", (
        t("Job {id} cancelled.") if now == "cancelled" else
        t("Job {id} stops at its next step.")).format(id=job_id))


# -- health -------------------------------------------------------------------------------------

@st.cache_data(ttl=HEALTH_TTL_S, show_spinner=False, max_entries=4)
def _health(url: str, settings_key: str, _settings: Settings) -> HealthReport:
    return check_health(_settings, url=url)


def _render_health(settings: Settings, t: Translator) -> None:
    report = _health(default_url(), repr(settings), settings)
    status = {"ok": t("all well"), "degraded": t("warnings"), "failing": t("errors")}
    icons = {"ok": ":material/check_circle:", "warning": ":material/warning:",
             "error": ":material/error:"}
    severities = {"ok": t("OK"), "warning": t("Warning"), "error": t("Error")}
    title = t("Health of the installation: {status}").format(
        status=status.get(report.status, report.status))
    worst = {"ok": "ok", "degraded": "warning", "failing": "error"}.get(report.status, "error")
    with st.expander(title, icon=icons[worst]):
        st.caption(t("Checked {when}; read only, checked again after {s} s.").format(
            when=t.datetime(report.checked_at), s=HEALTH_TTL_S))
        for item in report.items:  # findings in the reader's language, scrubbed, as typed
            st.markdown("{icon} **{severity}** · {check}: {message}".format(
                icon=icons.get(item.severity, ""),
                severity=severities.get(item.severity, item.severity),
                check=check_label(item.check, t), message=finding(item.message, t)))
            if item.fix:
                st.caption(t("Fix: {fix}").format(fix=finding(item.fix, t)))
