"""The accounts table the administrator reads (ui.admin.accounts_table)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from geo.auth import Role
from geo.i18n import Translator
from geo.store.users import User
from ui.admin import accounts_table


def _user(name: str, last: datetime | None, language: str | None = None) -> User:
    at = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    return User(id=1, username=name, display_name=name.title(), role=Role.PLANNER, active=True,
                created_at=at, created_by="admin", password_changed_at=at, failed_count=0,
                locked_until=None, last_sign_in_at=last, has_password=True, language=language)


def test_sign_in_times_are_shown_in_utc_and_a_missing_one_says_never():
    users = [_user("ana", datetime(2026, 12, 1, 14, 5, 59, tzinfo=UTC)), _user("luis", None)]
    table = accounts_table(users, Translator("es"))
    assert table["Último inicio de sesión"].tolist() == ["2026-12-01 14:05 UTC", "nunca"]
    assert table["Rol"].tolist() == ["Planificador", "Planificador"]
    assert accounts_table(users, Translator("en"))["Last sign-in"].tolist()[1] == "never"


def test_the_language_each_user_chose_or_the_default():
    users = [_user("ana", None, "pt"), _user("luis", None)]
    assert accounts_table(users, Translator("es"))["Idioma"].tolist() == ["Português",
                                                                            "predeterminado"]
    assert accounts_table(users, Translator("en"))["Language"].tolist() == ["Português",
                                                                             "default"]


def _admin_page() -> None:
    from ui.admin import render_admin

    render_admin()


def test_an_added_account_is_listed_at_once(tmp_path, monkeypatch):
    """The table and the account list showed a new account only on the next visit."""
    from streamlit.testing.v1 import AppTest

    from geo.auth import Session
    from geo.store import open_store
    from geo.store.users import create_user
    from ui import state

    monkeypatch.setenv("ATALAYA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ATALAYA_DATABASE_URL", "")
    with open_store(f"sqlite:///{tmp_path / 'atalaya.sqlite3'}") as store:
        create_user(store, "jefa", "a long enough passphrase", role=Role.ADMIN, actor="setup")
    at = AppTest.from_function(_admin_page, default_timeout=60)
    at.session_state[state.LANGUAGE] = "en"
    at.session_state[state.SESSION] = Session.start("jefa", Role.ADMIN, datetime.now(UTC))
    at.run()
    assert not at.exception
    at.text_input(key=state.ADMIN_ADD_USER).input("pablo")
    at.text_input(key=state.ADMIN_ADD_PASSWORD).input("another long passphrase")
    at.button[0].click().run()  # the form's "Add"
    assert not at.exception
    assert [s.value for s in at.success] == ["Account pablo created."]
    assert "pablo" in at.dataframe[0].value.iloc[:, 0].tolist()
    assert "pablo" in at.selectbox(key=state.ADMIN_PICK).options


def _gate() -> None:
    from ui.auth import render_gate
    from ui.cache import get_settings
    from ui.sidebar import current_translator

    render_gate(get_settings(), current_translator())


def test_a_refused_first_password_keeps_the_user_name(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from geo.store import open_store
    from geo.store.users import list_users
    from ui import state

    monkeypatch.setenv("ATALAYA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ATALAYA_DATABASE_URL", "")
    at = AppTest.from_function(_gate, default_timeout=60)
    at.session_state[state.LANGUAGE] = "en"
    at.run()
    at.text_input(key=state.FIRST_ADMIN_USER).input("jefa")
    at.text_input(key=state.FIRST_ADMIN_PASSWORD).input("short")
    at.text_input(key=state.FIRST_ADMIN_AGAIN).input("short")
    at.button[0].click().run()
    assert at.error  # too short
    assert at.text_input(key=state.FIRST_ADMIN_USER).value == "jefa"
    at.text_input(key=state.FIRST_ADMIN_PASSWORD).input("a long enough passphrase")
    at.text_input(key=state.FIRST_ADMIN_AGAIN).input("a long enough passphrase")
    at.button[0].click().run()
    assert not at.exception
    with open_store(f"sqlite:///{tmp_path / 'atalaya.sqlite3'}") as store:
        assert [u.username for u in list_users(store)] == ["jefa"]


def test_the_audit_log_reads_in_the_readers_language(tmp_path, monkeypatch):
    """Action codes, states, roles and empty alerts are words, not the store's codes."""
    from streamlit.testing.v1 import AppTest

    from geo.auth import Session
    from geo.store import AlertChange, get_alert, merge_candidates, open_store, update_alert
    from geo.store.users import create_user
    from tests.store.conftest import candidates
    from ui import state

    monkeypatch.setenv("ATALAYA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ATALAYA_DATABASE_URL", "")
    with open_store(f"sqlite:///{tmp_path / 'atalaya.sqlite3'}") as store:
        create_user(store, "jefa", "a long enough passphrase", role=Role.ADMIN, actor="setup")
        create_user(store, "pablo", "another long passphrase", role=Role.PLANNER, actor="jefa")
        from geo.store.users import authenticate

        authenticate(store, "pablo", "another long passphrase")
        authenticate(store, "pablo", "not the passphrase", client="10.0.0.7")
        frame = candidates([{"lon": -60.0, "lat": -12.0, "scene_id": "s1", "date": "2024-05-01"}])
        (alert_id,) = merge_candidates(store, frame, actor="detector").created
        alert = get_alert(store, alert_id)
        update_alert(store, AlertChange(alert_id, alert.version, state="under_review"),
                     actor="jefa")
        from geo.store.snapshots import record_snapshot

        record_snapshot(store, {"snapshot_id": "0a1b2c3d", "created_by": "pablo"},
                        folder="snapshots/0a1b2c3d", created_at=datetime.now(UTC))
    at = AppTest.from_function(_admin_page, default_timeout=60)
    at.session_state[state.LANGUAGE] = "es"
    at.session_state[state.SESSION] = Session.start("jefa", Role.ADMIN, datetime.now(UTC))
    at.run()
    assert not at.exception
    log = next(d.value for d in at.dataframe if "Acción" in d.value.columns)
    created = log[(log["Acción"] == "Cuenta creada") & (log["Campo"] == "pablo")].iloc[0]
    assert created["Alerta"] == ""
    assert "Planificador" in created["Después"]
    assert "planner" not in created["Después"]
    change = log[(log["Acción"] == "Modificado") & (log["Alerta"] == str(alert_id))]
    line = change[change["Campo"] == "Estado"].iloc[0]
    assert (line["Antes"], line["Después"]) == ("Nueva", "En revisión")
    when = change[change["Campo"] == "Estado cambiado el"].iloc[0]["Después"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", when), when
    assert not set(log["Acción"]) & {"user_created", "update", "create"}
    assert "None" not in set(log["Alerta"])
    # a sign-in's details in words too ("reason: ok" stayed English); an address as stored
    signed = log[log["Acción"] == "Inició sesión"].iloc[0]["Después"]
    assert signed == "motivo: aceptado", signed
    refused = log[log["Acción"] == "Inicio de sesión rechazado"].iloc[0]["Después"]
    assert refused.startswith("motivo: contraseña incorrecta, intentos fallidos: 1"), refused
    assert "cliente: 10.0.0.7" in refused
    # a snapshot's export: named, its manifest's hash and folder in words
    export = log[log["Acción"] == "Instantánea exportada"].iloc[0]
    assert export["Después"].startswith("SHA-256 del manifiesto: "), export["Después"]
    assert "carpeta: snapshots/0a1b2c3d" in export["Después"]
    assert "None" not in refused  # not locked: no "locked until: None"


def test_the_role_box_shows_the_chosen_accounts_role(tmp_path, monkeypatch):
    """It said "Analyst" for a planner, and "Set role", pressed to check, demoted them."""
    from streamlit.testing.v1 import AppTest

    from geo.auth import Session
    from geo.store import open_store
    from geo.store.users import create_user, list_users
    from ui import state

    monkeypatch.setenv("ATALAYA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ATALAYA_DATABASE_URL", "")
    url = f"sqlite:///{tmp_path / 'atalaya.sqlite3'}"
    with open_store(url) as store:
        create_user(store, "jefa", "a long enough passphrase", role=Role.ADMIN, actor="setup")
        create_user(store, "pablo", "another long passphrase", role=Role.PLANNER,
                    actor="setup")
    at = AppTest.from_function(_admin_page, default_timeout=60)
    at.session_state[state.LANGUAGE] = "en"
    at.session_state[state.SESSION] = Session.start("jefa", Role.ADMIN, datetime.now(UTC))
    at.run()
    for name, role in (("pablo", "planner"), ("jefa", "admin"), ("pablo", "planner")):
        at.selectbox(key=state.ADMIN_PICK).select(name).run()
        assert at.selectbox(key=state.ADMIN_ROLE).value == role
    at.button(key=state.ADMIN_SET_ROLE).click().run()  # pressed to check: nothing changes
    assert not at.exception
    with open_store(url) as store:
        assert {u.username: u.role for u in list_users(store)}["pablo"] == Role.PLANNER
    at.selectbox(key=state.ADMIN_ROLE).select("field").run()  # a choice stays until set
    assert at.selectbox(key=state.ADMIN_ROLE).value == "field"
    at.button(key=state.ADMIN_SET_ROLE).click().run()
    with open_store(url) as store:
        assert {u.username: u.role for u in list_users(store)}["pablo"] == Role.FIELD
    assert at.selectbox(key=state.ADMIN_ROLE).value == "field"
