"""The accounts table the administrator reads (ui.admin.accounts_table)."""

from __future__ import annotations

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
