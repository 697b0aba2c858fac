"""Each account keeps the language its user chose, on every device it signs in from."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from geo.errors import AccountNotFoundError
from geo.store import default_url, open_store
from geo.store.users import create_user, get_user
from tests.conftest import ROOT
from tools.serve import TEST_PASSWORD
from ui import state

USER = "lucia"  # her own account: the tests' shared accounts keep no language


@pytest.fixture
def store(small_world: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ATALAYA_DATA_DIR", str(small_world))
    monkeypatch.setenv("ATALAYA_LANGUAGE", "en")
    monkeypatch.chdir(ROOT)
    opened = open_store(default_url())
    try:
        get_user(opened, USER)
    except AccountNotFoundError:
        create_user(opened, USER, TEST_PASSWORD, role="field", actor="test setup")
    yield opened
    from geo.store.users import set_language

    set_language(opened, USER, None)
    opened.engine.dispose()


def _new_session() -> AppTest:
    """Open a new browser session (another tab or device): the sign-in page."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    return at


def _sign_in(at: AppTest) -> None:
    at.text_input(key=state.SIGN_IN_USER).input(USER)
    at.text_input(key=state.SIGN_IN_PASSWORD).input(TEST_PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert state.SESSION in at.session_state


def _language(at: AppTest) -> str:
    return str(at.sidebar.selectbox(key=state.LANGUAGE).value)


def test_a_switch_is_saved_on_the_account_and_comes_back_at_the_next_sign_in(store):
    at = _new_session()
    _sign_in(at)
    assert _language(at) == "en"  # never chose: the deployment's
    assert at.sidebar.button(key=state.SIGN_OUT).label == "Sign out"
    at.sidebar.selectbox(key=state.LANGUAGE).set_value("es").run()
    assert not at.exception
    assert get_user(store, USER).language == "es"
    other = _new_session()  # her phone: the sign-in page is the deployment's language
    assert other.button[0].label == "Sign in"
    _sign_in(other)
    assert _language(other) == "es"
    assert other.sidebar.button(key=state.SIGN_OUT).label == "Cerrar sesión"
    assert other.title[0].value == "Alertas de pistas"


def test_a_language_chosen_before_signing_in_wins_and_is_saved(store):
    from geo.store.users import set_language

    set_language(store, USER, "es")
    at = _new_session()
    at.sidebar.selectbox(key=state.LANGUAGE).set_value("pt").run()
    _sign_in(at)
    assert _language(at) == "pt"
    assert get_user(store, USER).language == "pt"
    at.sidebar.button(key=state.SIGN_OUT).click().run()
    assert _language(at) == "pt"  # the tab keeps it after signing out
    set_language(store, USER, "es")  # meanwhile she chose Spanish on her phone
    _sign_in(at)  # nothing was chosen on this tab since: the account's choice applies
    assert _language(at) == "es"


def test_signing_out_leaves_the_next_person_nothing_but_the_language(store):
    """A built field package, a typed comment, the reviewer's name: all gone at sign-out."""
    at = _new_session()
    _sign_in(at)
    at.sidebar.selectbox(key=state.LANGUAGE).set_value("es").run()
    at.session_state[state.ALERT_COMMENT] = "half-typed notes on alert 12"
    at.session_state["field_package_result"] = {"name": "lucia.zip", "data": b"PK"}
    at.run()
    at.sidebar.button(key=state.SIGN_OUT).click().run()
    assert not at.exception
    assert at.button[0].label == "Iniciar sesión"  # the sign-in form, in her language
    for key in (state.SESSION, state.REVIEWER, "field_package_result", state.ALERT_COMMENT):
        assert key not in at.session_state, key
    assert at.session_state[state.LANGUAGE] == "es"
