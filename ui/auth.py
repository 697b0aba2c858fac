"""Sign-in, the first administrator, sign-out, idle timeout, and the role check of every page.

Accounts live in the store (``geo.store.users``; passwords hashed with scrypt). A browser
session signs in once: the signed-in :class:`geo.auth.Session` is kept in that session's state
and checked against the store on every run (an account disabled or given another role takes
effect at the next click), and it ends after ``ATALAYA_IDLE_TIMEOUT_MIN`` minutes without a
click. Nothing here trusts the browser: every page runs :func:`guard_page` before it draws, and
actions call :func:`allowed` on the server when they are asked for, not only when a button is
drawn. A new browser tab is a new session and asks again (no cookie is set).

Each account keeps the interface language its user last chose (``users.language``): a switch
in the sidebar while signed in is saved on the account, and signing in brings it back, on any
device. A language chosen on the sign-in page itself is the latest choice, so it wins and is
saved; an account that never chose keeps the deployment's default.

Nothing secret reaches the page or the log: passwords go from the form to
``authenticate`` and are dropped; refusals say which action was refused, never a hash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError
from streamlit.errors import StreamlitSecretNotFoundError

from geo.auth import DESCRIPTIONS, PAGE_ACTIONS, Action, Role, Session, SessionPolicy, can
from geo.auth.oidc import role_for_groups
from geo.auth.permissions import ROLE_NAMES
from geo.auth.precision import DEFAULT_CELL_DEG
from geo.errors import AtalayaError
from geo.i18n import Translator, localize
from geo.settings import LANGUAGES, Settings
from geo.store import Store, default_url
from geo.store.users import (
    User,
    active_user,
    authenticate,
    create_first_admin,
    has_users,
    record_refusal,
    record_sign_out,
    set_language,
    sign_in_oidc,
)
from ui import state
from ui.cache import open_store_cached
from ui.text import escape_markdown

__all__ = ["allowed", "current_session", "guard_page", "remember_language", "render_gate",
           "render_user_box"]

log = logging.getLogger(__name__)


def _store() -> Store:
    return open_store_cached(default_url())


def current_session() -> Session | None:
    """Return the signed-in session of this browser tab, or None."""
    found = st.session_state.get(state.SESSION)
    return found if isinstance(found, Session) else None


def acting_role() -> Role | str:
    """Return the signed-in user's role, for the store's own checks.

    "" when nobody is signed in: a name no role has, so the store refuses everything rather
    than checking nothing.
    """
    session = current_session()
    return "" if session is None else session.role


def allowed(action: Action) -> bool:
    """Whether the signed-in user's role may do ``action`` (False when nobody is signed in)."""
    session = current_session()
    return session is not None and can(session.role, action)


def location_cell_deg() -> float | None:
    """Return the signed-in role's event precision: None (exact) or the cell side (degrees).

    What the role's snapshots are made at and which earlier ones it may open
    (:mod:`geo.auth.precision`).
    """
    return None if allowed(Action.SEE_PRECISE_LOCATIONS) else DEFAULT_CELL_DEG


def render_gate(settings: Settings, t: Translator) -> Session | None:
    """Return the signed-in session, or draw the sign-in (or first administrator) form.

    Called on every run before any page: it renews the session (a click is activity), ends it
    after the idle timeout, and signs out an account that was disabled meanwhile.
    """
    try:
        store = _store()
        if not has_users(store):
            _render_first_admin(store, t)
            return None
        session = _renewed(store, settings, t)
    except AtalayaError as err:
        st.error(t("The account store could not be opened."))
        st.code(str(err), language=None, wrap_lines=True)
        return None
    if session is None and _oidc_configured():
        session = _oidc_session(store, settings, t)
    if session is None:
        _render_sign_in(store, t)
    return session


def recheck_in_fragment(settings: Settings, t: Translator) -> None:
    """Renew the session in a fragment's own rerun; rerun the whole app if it changed.

    A fragment (the explorer's map and tables) reruns alone when the map is panned or a row
    is chosen, without :func:`render_gate`: without this, an account made a planner, disabled
    or idle past the timeout would keep what its old session showed until a full rerun. Any
    change of role, or the end of the session, reruns the app, whose gate then draws the
    page for the account as it is now.
    """
    before = current_session()
    try:
        after = _renewed(_store(), settings, t)
    except AtalayaError:
        after = None
    if before is None or after is None or after.role != before.role:
        st.rerun(scope="app")


def _oidc_configured() -> bool:
    """Whether ``.streamlit/secrets.toml`` has an ``[auth]`` section (then ``st.login``)."""
    try:
        return "auth" in st.secrets
    except (StreamlitSecretNotFoundError, FileNotFoundError):  # no secrets file: local only
        return False


def _provider_logout() -> None:
    """End the provider's sign-in too (its cookie is this app's only trace of it)."""
    if _oidc_configured() and getattr(st.user, "is_logged_in", False):
        st.logout()


def _oidc_session(store: Store, settings: Settings, t: Translator) -> Session | None:
    """Sign in through the OIDC provider: its groups give the role, the store keeps the user.

    The provider's cookie cannot be revoked here, so the account is checked against the store
    on every run (``_renewed``) like a local one, and a provider user whose groups give no role
    is refused (and audited).
    """
    user = st.user
    if not getattr(user, "is_logged_in", False):
        st.button(t("Sign in with your organisation"), key=state.OIDC_SIGN_IN,
                  on_click=st.login, type="primary")
        return None
    name = str(user.get("preferred_username") or user.get("email") or "")
    found = user.get("groups")
    groups: list[str] = [str(g) for g in found] if isinstance(found, list) else []
    role = role_for_groups(groups, settings.oidc_group_roles)
    result = sign_in_oidc(store, name, role, display_name=str(user.get("name") or ""),
                          client=_client())
    if not result.ok or result.user is None:
        st.error(t("Your organisation's account has no role in Atalaya; ask an administrator."))
        return None
    session = Session.start(result.user.username, result.user.role, datetime.now(UTC))
    st.session_state[state.SESSION] = session
    st.session_state[state.REVIEWER] = session.username
    if _settle_language(store, result.user):
        st.rerun()  # this run's sidebar is drawn: the account's language applies from the next
    return session


#: What a tab keeps when its session ends: the language its sign-in form is in, and the
#: basemap switch (the main script's own widgets).
KEPT_AT_SIGN_OUT = frozenset({state.LANGUAGE, state.PENDING_LANGUAGE, state.ONLINE_TILES})


def end_session(ss: MutableMapping[Any, Any]) -> None:
    """Forget everything the tab held for the user who signed out (or timed out).

    Only the session and the reviewer's name were dropped: filters, a field package built
    for download, an upload being checked, drawn areas stayed in the tab for whoever signed
    in next on the same browser (access review, 2026-12-05).
    """
    for key in list(ss.keys()):
        if key not in KEPT_AT_SIGN_OUT:
            del ss[key]


def _renewed(store: Store, settings: Settings, t: Translator) -> Session | None:
    ss = st.session_state
    session = current_session()
    if session is None:
        return None
    now = datetime.now(UTC)
    if session.is_expired(SessionPolicy.from_settings(settings), now):
        record_sign_out(store, session.username, reason="idle_timeout")
        end_session(ss)
        ss[state.SIGN_IN_NOTICE] = t.n(
            "You were signed out after {n} minute without activity.",
            "You were signed out after {n} minutes without activity.",
            1 if settings.idle_timeout_min == 1 else 2,  # minutes may have decimals
        ).format(n=t.number(settings.idle_timeout_min))
        _provider_logout()  # else the provider's cookie would sign the user straight back in
        return None
    user = active_user(store, session.username)
    if user is None:
        record_sign_out(store, session.username, reason="account_disabled")
        end_session(ss)
        ss[state.SIGN_IN_NOTICE] = t("This account is disabled; ask an administrator.")
        return None
    renewed = session.touched(now, role=user.role)
    ss[state.SESSION] = renewed
    ss[state.REVIEWER] = renewed.username  # the name recorded with verdicts and comments
    return renewed


def _render_sign_in(store: Store, t: Translator) -> None:
    st.title(t("Sign in"))
    notice = st.session_state.pop(state.SIGN_IN_NOTICE, None)
    if notice:
        st.info(notice)
    with st.form(state.SIGN_IN_FORM, clear_on_submit=True):
        username = st.text_input(t("User name"), key=state.SIGN_IN_USER, max_chars=64)
        password = st.text_input(t("Password"), type="password", key=state.SIGN_IN_PASSWORD,
                                 max_chars=1024)
        submitted = st.form_submit_button(t("Sign in"), type="primary")
    if not submitted:
        return
    result = authenticate(store, username, password, client=_client())
    if not result.ok or result.user is None:
        messages = {"locked": t("Too many failed sign-ins: wait {s} s and try again.").format(
                        s=t.number(max(1, round(result.retry_after_s)))),
                    "inactive": t("This account is disabled; ask an administrator.")}
        st.error(messages.get(result.outcome, t("Wrong user name or password.")))
        return
    _start(store, result.user)


def _render_first_admin(store: Store, t: Translator) -> None:
    st.title(t("Create the administrator account"))
    st.info(t("No account exists yet. The first account administers the others; choose a "
              "password of at least 12 characters. Atalaya ships no default password."))
    # Not cleared on submit: a refused password must not also empty the user name (the next
    # try then failed on an empty name); once the account exists the form is gone.
    with st.form(state.FIRST_ADMIN_FORM, clear_on_submit=False):
        username = st.text_input(t("User name"), key=state.FIRST_ADMIN_USER, max_chars=64)
        password = st.text_input(t("Password"), type="password", key=state.FIRST_ADMIN_PASSWORD,
                                 max_chars=1024)
        again = st.text_input(t("Password again"), type="password",
                              key=state.FIRST_ADMIN_AGAIN, max_chars=1024)
        submitted = st.form_submit_button(t("Create and sign in"), type="primary")
    if not submitted:
        return
    if password != again:
        st.error(t("The two passwords differ."))
        return
    try:
        user = create_first_admin(store, username, password)
    except AtalayaError as err:  # policy or name problems: the message says which
        st.error(escape_markdown(localize(err, t)))
        return
    _start(store, user)


def _start(store: Store, user: User) -> None:
    ss = st.session_state
    ss[state.SESSION] = Session.start(user.username, user.role, datetime.now(UTC))
    ss[state.REVIEWER] = user.username
    _settle_language(store, user)
    st.rerun()


def _settle_language(store: Store, user: User) -> bool:
    """Apply the account's language at sign-in, or save the one chosen before it.

    Returns whether the page's language changes on the next run (the account's is left in
    :data:`ui.state.PENDING_LANGUAGE`: this run's sidebar is already drawn).
    """
    ss = st.session_state
    current = ss.get(state.LANGUAGE)
    if ss.pop(state.LANGUAGE_CHOSEN, False):  # chosen on the sign-in page: the latest choice
        if current in LANGUAGES and current != user.language:
            _save_language(store, user.username, str(current))
        return False
    if user.language is not None and user.language != current:
        ss[state.PENDING_LANGUAGE] = user.language
        return True
    return False


def _save_language(store: Store | None, username: str, language: str) -> None:
    """Save an account's language (``store`` None: the app's); a failure only logs.

    A store that cannot be opened or written costs only the next sign-in's language.
    """
    try:
        set_language(store or _store(), username, language)
    except (AtalayaError, SQLAlchemyError) as err:  # read-only, locked or unreachable store
        log.warning("the language of %s was not saved: %s", username, err)


def remember_language(language: str) -> None:
    """Keep a language chosen in the sidebar: on the signed-in account, else until sign-in."""
    session = current_session()
    if session is None:
        st.session_state[state.LANGUAGE_CHOSEN] = True
        return
    _save_language(None, session.username, language)


def _client() -> str | None:
    """Return the browser's address as the server saw it (for the audit of sign-ins)."""
    try:
        ip = st.context.ip_address
    except (AttributeError, RuntimeError):
        return None
    return str(ip) if ip else None


def render_user_box(session: Session, t: Translator) -> None:
    """Who is signed in, their role, and the sign-out button (sidebar)."""
    with st.sidebar:
        st.caption(t("Signed in as {user} ({role})").format(
            user=session.username, role=ROLE_NAMES[session.role].localized(t)))
        if st.button(t("Sign out"), key=state.SIGN_OUT, icon=":material/logout:"):
            record_sign_out(_store(), session.username, reason="signed_out")
            end_session(st.session_state)
            _provider_logout()
            st.rerun()


def guard_page(url_path: str, render: Callable[[], None],
               translator_of: Callable[[], Translator]) -> Callable[[], None]:
    """Wrap a page so that it checks the role on the server before drawing anything.

    A refused page says which action the role lacks and records the refusal in the audit log;
    reaching it by its URL changes nothing.
    """
    action = PAGE_ACTIONS[url_path]

    def run() -> None:
        session = current_session()
        if session is not None and can(session.role, action):
            render()
            return
        t = translator_of()
        try:
            record_refusal(_store(), session.username if session else None,
                           f"page {url_path} ({action.value})")
        except AtalayaError as err:  # the refusal stands even if it cannot be written down
            st.caption(t("The refusal could not be recorded: {error}").format(error=err))
        st.title(t("Not for your role"))
        st.error(t("Your role may not {what}.").format(what=t(DESCRIPTIONS[action])))
        st.caption(t("The menu (the arrow at the top left on a phone) lists the pages your "
                     "role may open."))

    run.__name__ = f"guarded_{url_path}"
    return run
