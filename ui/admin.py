"""Administrators' page: accounts (add, role, password, disable, unlock) and the audit log.

Every change goes through ``geo.store.users``, which checks the rules (the last active
administrator stays one, names and passwords follow the policy) and writes the audit log.
Each action checks the administrator's role again on the server when it is asked for.
Password hashes never reach the page: the table is built from accounts read without them.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from geo.auth import Action
from geo.auth.permissions import ROLE_NAMES
from geo.errors import AtalayaError
from geo.i18n import LANGUAGE_NAMES, Translator, localize
from geo.store import Store, default_url
from geo.store.audit import AuditEntry, read_audit
from geo.store.users import (
    User,
    activate,
    create_user,
    deactivate,
    list_users,
    set_password,
    set_role,
    unlock,
)
from ui import state
from ui.auth import allowed, current_session
from ui.cache import open_store_cached
from ui.history import action_names, field_names, value_formats
from ui.sidebar import current_translator, relabelled
from ui.text import choice_texts, escape_markdown

__all__ = ["accounts_table", "render_admin"]

AUDIT_ROWS = 2000  # newest rows shown


def render_admin() -> None:
    """Show the accounts and the audit log (administrators only)."""
    t = current_translator()
    st.title(t("Accounts and audit"))
    try:
        store = open_store_cached(default_url())
        accounts, audit = st.tabs([t("Accounts"), t("Audit log")])
        with accounts:
            _render_accounts(store, t)
        with audit:
            if allowed(Action.VIEW_AUDIT_LOG):
                _render_audit(store, t)
    except AtalayaError as err:
        st.error(t("The account store could not be opened."))
        st.code(str(err), language=None, wrap_lines=True)


def _role_names(t: Translator) -> dict[str, str]:
    return {r.value: name.localized(t) for r, name in ROLE_NAMES.items()}


def accounts_table(users: list[User], t: Translator) -> pd.DataFrame:
    """Return the accounts as the administrator reads them, in ``t``'s language.

    A sign-in time is shown in UTC to the minute; an account that never signed in says so.
    The language is the one its user last chose for the pages, or "default":
    the deployment's.
    """
    names = _role_names(t)
    return pd.DataFrame({
        t("User name"): [u.username for u in users],
        t("Name"): [u.display_name for u in users],
        t("Role"): [names.get(u.role.value, u.role.value) for u in users],
        t("Active"): [u.active for u in users],
        t("Failed sign-ins"): [u.failed_count for u in users],
        t("Last sign-in"): [t("never") if u.last_sign_in_at is None
                            else f"{u.last_sign_in_at:%Y-%m-%d %H:%M} UTC" for u in users],
        t("Language"): [LANGUAGE_NAMES.get(u.language or "", t("default")) for u in users],
    })


def _render_accounts(store: Store, t: Translator) -> None:
    names = _role_names(t)
    done = st.session_state.pop(state.ADMIN_DONE, None)
    if done:
        st.success(done)
    users = list_users(store)
    st.dataframe(accounts_table(users, t), hide_index=True, width="stretch")
    _render_add(store, t, names)
    if users:
        _render_change(store, t, names, {u.username: str(u.role.value) for u in users})


def _render_add(store: Store, t: Translator, names: dict[str, str]) -> None:
    with st.form(state.ADMIN_ADD_FORM, clear_on_submit=True):
        st.subheader(t("Add an account"))
        username = st.text_input(t("User name"), max_chars=64, key=state.ADMIN_ADD_USER)
        display = st.text_input(t("Name"), max_chars=120, key=state.ADMIN_ADD_NAME)
        # Registered although in a form: after a language switch the role shows in the new
        # language, and an unsubmitted role choice (not the typed fields) goes back to the
        # last submitted one.
        role = st.selectbox(t("Role"), list(names), format_func=names.__getitem__,
                            key=relabelled(state.ADMIN_ADD_ROLE))
        password = st.text_input(t("Password"), type="password", max_chars=1024,
                                 key=state.ADMIN_ADD_PASSWORD,
                                 help=t("At least 12 characters; give it to the person "
                                        "through another channel."))
        submitted = st.form_submit_button(t("Add"))
    if submitted:
        _apply(lambda me: create_user(store, username, password, role=role, actor=me,
                                      display_name=display),
               t("Account {name} created.").format(name=username.strip().lower()), t)


def _render_change(store: Store, t: Translator, names: dict[str, str],
                   roles: dict[str, str]) -> None:
    """Show the account chosen and what may change about it; the role box shows its role."""
    st.subheader(t("Change an account"))
    ss = st.session_state
    who = st.selectbox(t("Account"), list(roles), key=state.ADMIN_PICK)
    # Set from the account each time another is chosen (or its role changed): the box showed
    # "Analyst" for a planner, and "Set role", pressed to check, demoted them.
    if ss.get(state.ADMIN_ROLE_OF) != (who, roles.get(who)):
        ss[state.ADMIN_ROLE_OF] = (who, roles.get(who))
        ss[state.ADMIN_ROLE] = roles.get(who, next(iter(names)))
    left, right = st.columns(2)
    with left:
        role = st.selectbox(t("Role"), list(names), format_func=names.__getitem__,
                            key=relabelled(state.ADMIN_ROLE))
        if st.button(t("Set role"), key=state.ADMIN_SET_ROLE):
            _apply(lambda me: set_role(store, who, role, actor=me),
                   t("Role changed."), t)
        password = st.text_input(t("New password"), type="password", max_chars=1024,
                                 key=state.ADMIN_PASSWORD)
        if st.button(t("Set password"), key=state.ADMIN_SET_PASSWORD):
            _apply(lambda me: set_password(store, who, password, actor=me),
                   t("Password changed."), t)
    with right:
        if st.button(t("Disable"), key=state.ADMIN_DISABLE):
            _apply(lambda me: deactivate(store, who, actor=me), t("Account disabled."), t)
        if st.button(t("Enable"), key=state.ADMIN_ENABLE):
            _apply(lambda me: activate(store, who, actor=me), t("Account enabled."), t)
        if st.button(t("Unlock"), key=state.ADMIN_UNLOCK,
                      help=t("Clears the wait after failed sign-ins.")):
            _apply(lambda me: unlock(store, who, actor=me), t("Account unlocked."), t)


def _apply(change: object, done: str, t: Translator) -> None:
    """Run ``change(actor)`` if the signed-in user still manages accounts; say how it went."""
    session = current_session()
    if session is None or not allowed(Action.MANAGE_USERS):
        st.error(t("Your role may not {what}.").format(what=t("manage user accounts")))
        return
    try:
        change(session.username)  # type: ignore[operator]
    except AtalayaError as err:  # the rules of geo.store.users, said as they are
        st.error(escape_markdown(localize(err, t)))
        return
    # Run again so that the table and the account list above show the change at once.
    st.session_state[state.ADMIN_DONE] = done
    st.rerun()


def _render_audit(store: Store, t: Translator) -> None:
    entries = read_audit(store)[-AUDIT_ROWS:][::-1]
    names = action_names(t)
    actions = sorted({e.action for e in entries}, key=lambda a: names.get(a, a))
    chosen = st.multiselect(t("Actions"), actions, key=state.ADMIN_AUDIT_ACTIONS,
                            format_func=lambda a: names.get(a, a),
                            **choice_texts(t, empty_means_all=True))
    actor = st.text_input(t("Who"), key=state.ADMIN_AUDIT_ACTOR, max_chars=64).strip().lower()
    shown = [e for e in entries if (not chosen or e.action in chosen)
             and (not actor or actor in e.actor.lower())]
    st.caption(t("The newest {n} entries; the log is append-only.").format(
        n=t.number(len(shown))))
    # Values shown as text by st.dataframe (never markup); the store never holds a secret.
    fields, formats = field_names(t), value_formats(t)
    roles = _role_names(t)

    words = {**roles, **_detail_words(t)}

    def value(e: AuditEntry, v: object) -> str:
        if v is None:
            return ""
        if e.alert_id is not None and e.field in formats:  # an alert's field, as on its page
            return formats[e.field](v)[:200]
        return _text(v, words, t)

    st.dataframe(pd.DataFrame({
        t("When (UTC)"): [f"{e.at:%Y-%m-%d %H:%M:%S}" for e in shown],
        t("Who"): [e.actor for e in shown],
        t("Action"): [names.get(e.action, e.action) for e in shown],
        t("Alert"): ["" if e.alert_id is None else str(e.alert_id) for e in shown],
        # an alert's field by its name; for accounts, the account the action was about
        t("Field"): [fields.get(e.field or "", e.field or "") if e.alert_id is not None
                     else e.field or "" for e in shown],
        t("Before"): [value(e, e.old_value) for e in shown],
        t("After"): [value(e, e.new_value) for e in shown],
    }), hide_index=True, width="stretch", height=420)


def _detail_words(t: Translator) -> dict[str, str]:
    """Name the stored keys and codes of account entries (``geo.store.users``) in words."""
    return {
        # keys
        "reason": t("reason"), "purpose": t("purpose"), "client": t("client"),
        "failed_count": t("failed attempts"), "locked_until": t("locked until"),
        "role": t("role"), "display_name": t("display name"),
        "local_password": t("local password"), "first_run": t("first run"),
        # why a sign-in went as it did, or a session ended
        "ok": t("accepted"), "wrong_password": t("wrong password"), "locked": t("locked"),
        "inactive": t("account disabled"), "unknown_user": t("unknown user"),
        "no_local_password": t("no local password"), "no_role": t("no role"),
        "signed_out": t("signed out"), "idle_timeout": t("idle too long"),
        "account_disabled": t("account disabled"),
        # what the password was asked for
        "sign_in": t("sign-in"), "password_change": t("password change"),
        "oidc": t("single sign-on"),
        # a snapshot exported (geo.store.snapshots), a scene registered (geo.store.scenes)
        "manifest_sha256": t("manifest SHA-256"), "folder": t("folder"),
        "scene_id": t("scene"), "path": t("path"), "sha256": "SHA-256", "change": t("change"),
        "added": t("added"), "updated": t("updated"),
    }


def _text(value: object, words: dict[str, str], t: Translator) -> str:
    """Write an account entry's value as words: codes named, yes/no, ``key: value`` pairs.

    ``words`` names roles, keys and codes (:func:`_detail_words`); a free text (a client's
    address, a display name) is shown as stored.

    Examples
    --------
    >>> _text({"role": "planner", "active": True}, {"planner": "Planner"}, Translator("en"))
    'role: Planner, active: yes'
    >>> _text({"reason": "wrong_password", "failed_count": 1, "locked_until": None},
    ...       _detail_words(Translator("en")), Translator("en"))
    'reason: wrong password, failed attempts: 1'
    """
    if isinstance(value, bool):
        return t("yes") if value else t("no")
    if isinstance(value, str):
        return words.get(value, value)[:200]
    if isinstance(value, dict):
        return ", ".join(f"{words.get(k, k)}: {_text(v, words, t) if k not in _FREE else v}"
                         for k, v in value.items() if v is not None)[:200]
    return str(value)[:200]


#: Keys of account entries whose values are free text, never looked up as codes.
_FREE = frozenset({"client", "display_name", "locked_until"})
