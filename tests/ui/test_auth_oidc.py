"""Sign-in through an OIDC provider: its groups give the role, the store keeps the account.

The provider itself cannot run offline; ``st.user`` is replaced by what Streamlit gives a page
after ``st.login`` (a mapping with ``is_logged_in``), and ``[auth]`` is taken as configured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import streamlit
from streamlit.testing.v1 import AppTest

from geo.store import default_url, open_store
from geo.store.audit import read_audit
from geo.store.users import get_user
from tests.conftest import ROOT
from ui import state


class _User(dict[str, Any]):
    """What ``st.user`` looks like after a sign-in with the provider."""

    @property
    def is_logged_in(self) -> bool:
        return bool(self.get("email"))


def _gate() -> None:
    from ui.auth import render_gate
    from ui.cache import get_settings
    from ui.sidebar import current_translator

    render_gate(get_settings(), current_translator())


@pytest.fixture
def oidc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("ATALAYA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ATALAYA_DATABASE_URL", "")
    monkeypatch.setenv("ATALAYA_OIDC_GROUP_ROLES", "unit-analysts=analyst,unit-field=field")
    monkeypatch.setattr("ui.auth._oidc_configured", lambda: True)
    with open_store(default_url({"ATALAYA_DATA_DIR": str(tmp_path)})) as store:
        from geo.store.users import create_first_admin

        create_first_admin(store, "jefa", "a long enough passphrase")
    return tmp_path


def _run(monkeypatch: pytest.MonkeyPatch, user: _User) -> AppTest:
    monkeypatch.setattr(streamlit, "user", user)
    at = AppTest.from_function(_gate, default_timeout=60)
    at.session_state[state.LANGUAGE] = "en"
    at.run()
    assert not at.exception
    return at


def test_before_the_provider_signs_in_the_page_offers_it(oidc, monkeypatch):
    at = _run(monkeypatch, _User())
    assert at.button(key=state.OIDC_SIGN_IN).label == "Sign in with your organisation"
    assert state.SESSION not in at.session_state


def test_the_provider_groups_give_the_role_and_the_store_keeps_the_account(oidc, monkeypatch):
    at = _run(monkeypatch, _User(email="Rosa@unit.example", name="Rosa",
                                 groups=["staff", "unit-field"]))
    session = at.session_state[state.SESSION]
    assert (session.username, session.role.value) == ("rosa@unit.example", "field")
    with open_store(default_url({"ATALAYA_DATA_DIR": str(oidc)})) as store:
        assert get_user(store, "rosa@unit.example").role.value == "field"
        assert any(e.action == "sign_in" and e.actor == "rosa@unit.example"
                   for e in read_audit(store))


def test_a_provider_user_without_a_mapped_group_is_refused_and_audited(oidc, monkeypatch):
    at = _run(monkeypatch, _User(email="visitor@elsewhere.example", groups=["guests"]))
    assert state.SESSION not in at.session_state
    assert "has no role in Atalaya" in at.error[0].value
    with open_store(default_url({"ATALAYA_DATA_DIR": str(oidc)})) as store:
        assert any(e.action == "sign_in_failed" and e.actor == "visitor@elsewhere.example"
                   for e in read_audit(store))


def test_a_provider_account_gets_back_the_language_it_chose(oidc, monkeypatch):
    from geo.store.users import set_language

    rosa = _User(email="rosa@unit.example", name="Rosa", groups=["unit-field"])
    _run(monkeypatch, rosa)  # her first sign-in makes the account
    with open_store(default_url({"ATALAYA_DATA_DIR": str(oidc)})) as store:
        set_language(store, "rosa@unit.example", "pt")  # chosen in the sidebar since
    at = _run(monkeypatch, rosa)  # a new session: the sidebar applies it before drawing
    assert at.session_state[state.SESSION].username == "rosa@unit.example"
    assert at.session_state[state.PENDING_LANGUAGE] == "pt"
