"""Accounts in the store: creation, changes, sign-in with lockout, audit without secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import create_engine, insert, inspect, select

from geo.auth import Role, ScryptParams
from geo.auth.lockout import LockoutPolicy
from geo.errors import AccountNotFoundError, AuthError, PasswordPolicyError
from geo.store import open_store
from geo.store import tables as t
from geo.store import users as u
from geo.store.engine import read_tx
from geo.store.migrations import MIGRATIONS, latest_version
from tests.store.conftest import applied_versions, undo_migration

FAST = ScryptParams(ln=4)
SLOWER = ScryptParams(ln=5)
PASSWORD = "correct horse battery"
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def admin(store):
    return u.create_first_admin(store, "Root.Admin", PASSWORD, display_name="Root",
                                now=T0, params=FAST)


@pytest.fixture
def create(store):
    return partial(u.create_user, store, actor="root.admin", now=T0, params=FAST)


@pytest.fixture
def auth(store):
    return partial(u.authenticate, store, params=FAST)


def audit_text(store) -> str:
    """Every audit row as text, for searching."""
    with read_tx(store) as conn:
        return "\n".join(repr(tuple(r)) for r in conn.execute(select(t.audit_log)))


def stored_hashes(store) -> list[str]:
    return [x.password_hash for x in u.list_users(store, with_hashes=True) if x.password_hash]


# -- schema --------------------------------------------------------------------------------------

def test_migration_5_creates_the_users_table(store):
    with read_tx(store) as conn:
        versions = {r.version: r.name for r in conn.execute(select(t.schema_version))}
        columns = {c["name"] for c in inspect(conn).get_columns("users")}
    assert versions[5] == "users"
    assert latest_version() >= 5
    assert {"username", "display_name", "role", "password_hash", "active", "created_at",
            "password_changed_at", "failed_count", "locked_until"} <= columns


def _migrate_to_version_4(url: str) -> None:
    """Bring an empty database to schema version 4 only (as released before accounts)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        t.schema_version.create(conn, checkfirst=True)
        for step in (m for m in MIGRATIONS if m.version <= 4):
            step.apply(conn)
            conn.execute(insert(t.schema_version).values(
                version=step.version, name=step.name, applied_at=T0))
        assert not inspect(conn).has_table("users")
    engine.dispose()


def test_a_version_4_store_is_upgraded(store_url):
    _migrate_to_version_4(store_url)
    with open_store(store_url) as store:
        with read_tx(store) as conn:
            versions = [r.version for r in conn.execute(select(t.schema_version))]
        assert versions == list(range(1, latest_version() + 1))
        assert not u.has_users(store)
        u.create_user(store, "ana", PASSWORD, role="analyst", actor="test", params=FAST)
        assert [x.username for x in u.list_users(store)] == ["ana"]


# -- accounts ------------------------------------------------------------------------------------

def test_first_run_creates_one_admin(store):
    assert not u.has_users(store)
    first = u.create_first_admin(store, "Root.Admin", PASSWORD, now=T0, params=FAST)
    assert first.username == "root.admin"
    assert first.role is Role.ADMIN
    assert first.last_sign_in_at == T0  # the first-run page signs her straight in
    assert u.list_users(store)[0].last_sign_in_at == T0
    assert u.has_users(store)
    with pytest.raises(AuthError, match="first-run setup is closed"):
        u.create_first_admin(store, "other", PASSWORD, now=T0, params=FAST)


def test_create_and_list_never_show_hashes(store, admin, create):
    ana = create("Ana", PASSWORD, role="analyst", display_name="Ana López")
    assert (ana.username, ana.role, ana.display_name, ana.active) == (
        "ana", Role.ANALYST, "Ana López", True)
    assert ana.password_changed_at == T0
    assert ana.created_by == "root.admin"
    listed = u.list_users(store)
    assert [x.username for x in listed] == ["ana", "root.admin"]
    assert all(x.password_hash is None and x.has_password for x in listed)
    assert "$scrypt$" not in repr(listed)
    hashes = u.list_users(store, with_hashes=True)
    assert all(x.password_hash.startswith("$scrypt$ln=4,") for x in hashes)
    assert "$scrypt$" not in repr(hashes)  # not even when asked for: repr hides it
    assert u.get_user(store, " ANA ") == ana


@pytest.mark.parametrize(("name", "password", "role", "error", "match"), [
    ("ana", PASSWORD, "boss", AuthError, "unknown role 'boss'"),
    ("ana lopez", PASSWORD, "field", AuthError, "user name 'ana lopez' is not usable"),
    ("", PASSWORD, "field", AuthError, "is not usable"),
    ("ana", "short", "field", PasswordPolicyError, "at least 12"),
    ("ana.lopez.1234", "Ana.Lopez.1234", "field", PasswordPolicyError, "is the user name"),
], ids=["role", "space", "empty", "short", "same-as-name"])
def test_bad_accounts_are_refused(store, admin, create, name, password, role, error, match):
    with pytest.raises(error, match=match):
        create(name, password, role=role)
    assert [x.username for x in u.list_users(store)] == ["root.admin"]


def test_duplicate_names_are_refused_whatever_the_case(create, admin):
    create("ana", PASSWORD, role="field")
    with pytest.raises(AuthError, match="already exists"):
        create("ANA", "another good password", role="planner")


def test_role_changes_and_the_last_admin(store, admin, create):
    create("ana", PASSWORD, role="analyst")
    assert u.set_role(store, "ana", Role.PLANNER, actor="root.admin").role is Role.PLANNER
    with pytest.raises(AuthError, match=r"root\.admin is the last active admin"):
        u.set_role(store, "root.admin", "analyst", actor="root.admin")
    with pytest.raises(AuthError, match="last active admin"):
        u.deactivate(store, "root.admin", actor="root.admin")
    u.set_role(store, "ana", "admin", actor="root.admin")
    assert not u.deactivate(store, "root.admin", actor="ana").active
    # Now ana is the only active admin.
    with pytest.raises(AuthError, match="ana is the last active admin"):
        u.set_role(store, "ana", "field", actor="ana")
    with pytest.raises(AccountNotFoundError, match="no account is called 'nobody'"):
        u.set_role(store, "nobody", "field", actor="ana")


def test_deactivated_accounts_cannot_sign_in(store, admin, create, auth):
    create("juan", PASSWORD, role="field")
    u.deactivate(store, "juan", actor="root.admin", now=at(1))
    assert u.active_user(store, "juan") is None
    assert [x.username for x in u.list_users(store, include_inactive=False)] == ["root.admin"]
    assert len(u.list_users(store)) == 2
    assert auth("juan", PASSWORD, now=at(2)).outcome == "inactive"
    assert auth("juan", "wrong password!!", now=at(3)).outcome == "invalid"
    u.activate(store, "juan", actor="root.admin", now=at(4))
    assert auth("juan", PASSWORD, now=at(5)).ok
    assert u.active_user(store, "juan").username == "juan"


def test_passwords_set_and_changed(store, admin, create, auth):
    create("ana", PASSWORD, role="analyst")
    u.set_password(store, "ana", "a brand new passphrase", actor="root.admin", params=FAST)
    assert not auth("ana", PASSWORD).ok
    assert auth("ana", "a brand new passphrase").ok
    u.change_own_password(store, "ana", "a brand new passphrase", "my own secret phrase",
                          params=FAST)
    assert auth("ana", "my own secret phrase").ok
    with pytest.raises(AuthError, match="current password was refused"):
        u.change_own_password(store, "ana", "not my password", "whatever comes next",
                              params=FAST)
    with pytest.raises(PasswordPolicyError):
        u.change_own_password(store, "ana", "my own secret phrase", "short", params=FAST)


# -- signing in ----------------------------------------------------------------------------------

def test_sign_in(store, admin, auth):
    result = auth("ROOT.ADMIN", PASSWORD, now=at(10))
    assert result.ok
    assert result.user.username == "root.admin"
    assert result.user.last_sign_in_at == at(10)
    assert result.message == "Signed in."
    wrong = auth("root.admin", PASSWORD + "!", now=at(11))
    assert (wrong.outcome, wrong.user, wrong.message) == (
        "invalid", None, "Wrong user name or password.")


def test_unknown_users_get_the_same_answer(store, admin, auth):
    for name in ("nobody", "not a valid name!", ""):
        result = auth(name, PASSWORD, now=at(1))
        assert (result.outcome, result.user, result.retry_after_s) == ("invalid", None, 0.0)
    # Unknown names never lock anything, and never create accounts.
    assert [x.username for x in u.list_users(store)] == ["root.admin"]


def test_lockout_timeline(store, admin, create, auth):
    create("ana", PASSWORD, role="analyst")
    for k in range(4):
        assert auth("ana", f"wrong guess {k}", now=at(k)).outcome == "invalid"
    fifth = auth("ana", "wrong guess 4", now=at(4))
    assert (fifth.outcome, fifth.retry_after_s) == ("locked", 30.0)
    assert "wait 30 s" in fifth.message
    # While waiting even the right password is refused, and the wait does not grow.
    during = auth("ana", PASSWORD, now=at(20))
    assert (during.outcome, during.retry_after_s) == ("locked", 14.0)
    assert u.get_user(store, "ana").failed_count == 5
    assert u.get_user(store, "ana").is_locked(at(33))
    # After the wait, one more wrong guess doubles it ...
    sixth = auth("ana", "wrong guess 5", now=at(34))
    assert (sixth.outcome, sixth.retry_after_s) == ("locked", 60.0)
    seventh = auth("ana", "wrong guess 6", now=at(94))
    assert seventh.retry_after_s == 120.0
    # ... and the right password after it signs in and starts over.
    assert auth("ana", PASSWORD, now=at(214)).ok
    after = u.get_user(store, "ana")
    assert (after.failed_count, after.locked_until) == (0, None)
    assert auth("ana", "wrong again", now=at(215)).outcome == "invalid"


def test_lockout_is_capped_and_an_admin_can_unlock(store, admin, create):
    create("ana", PASSWORD, role="analyst")
    policy = LockoutPolicy(max_failures=2, base_delay_s=30, max_delay_s=60)
    now = T0
    for _ in range(6):
        result = u.authenticate(store, "ana", "nope nope nope", now=now, lockout=policy,
                                params=FAST)
        now += timedelta(seconds=result.retry_after_s)
    assert result.retry_after_s == 60.0  # capped
    unlocked = u.unlock(store, "ana", actor="root.admin", now=now - timedelta(seconds=30))
    assert (unlocked.failed_count, unlocked.locked_until) == (0, None)
    assert u.authenticate(store, "ana", PASSWORD, now=now - timedelta(seconds=29),
                          params=FAST).ok


def test_a_password_reset_unlocks(store, admin, create, auth):
    create("ana", PASSWORD, role="analyst")
    for k in range(5):
        auth("ana", f"wrong guess {k}", now=at(k))
    u.set_password(store, "ana", "a fresh passphrase", actor="root.admin", now=at(6),
                   params=FAST)
    assert auth("ana", "a fresh passphrase", now=at(7)).ok


def test_outdated_hashes_are_replaced_at_sign_in(store, admin):
    before = stored_hashes(store)[0]
    assert u.authenticate(store, "root.admin", PASSWORD, params=SLOWER).ok
    after = stored_hashes(store)[0]
    assert before.startswith("$scrypt$ln=4,")
    assert after.startswith("$scrypt$ln=5,")
    assert u.authenticate(store, "root.admin", PASSWORD, params=SLOWER).ok
    assert stored_hashes(store)[0] == after  # up to date: left alone


def test_oidc_accounts(store, admin, auth):
    first = u.sign_in_oidc(store, "Maria@Unit.Example", Role.PLANNER, display_name="María",
                           now=at(1))
    assert first.ok
    assert first.user.role is Role.PLANNER
    assert not first.user.has_password
    again = u.sign_in_oidc(store, "maria@unit.example", Role.FIELD, now=at(2))
    assert again.user.role is Role.FIELD  # the provider's groups decide
    assert u.sign_in_oidc(store, "maria@unit.example", None, now=at(3)).outcome == "invalid"
    # No local password: a password sign-in is refused like an unknown user.
    assert auth("maria@unit.example", "", now=at(4)).outcome == "invalid"
    u.deactivate(store, "maria@unit.example", actor="root.admin")
    assert u.sign_in_oidc(store, "maria@unit.example", Role.FIELD).outcome == "inactive"


# -- audit ---------------------------------------------------------------------------------------

def test_every_sign_in_and_change_is_audited_without_secrets(store, create, auth):
    u.create_first_admin(store, "root.admin", PASSWORD, now=T0, params=FAST)
    create("ana", "ana's first passphrase", role="analyst")
    auth("ana", "ana's first passphrase", now=at(1), client="session-1")
    auth("ana", "a wrong passphrase", now=at(2))
    auth("ana's first passphrase", "typed into the wrong box", now=at(3))  # unknown user
    u.set_password(store, "ana", "ana's second passphrase", actor="root.admin", params=FAST)
    u.set_role(store, "ana", "planner", actor="root.admin")
    u.deactivate(store, "ana", actor="root.admin")
    u.activate(store, "ana", actor="root.admin")
    u.unlock(store, "ana", actor="root.admin")
    u.record_sign_out(store, "ana", reason="idle_timeout")

    actions = [(e.actor, e.action, e.field) for e in reversed(u.read_user_audit(store))]
    assert actions == [
        ("root.admin", "user_created", "root.admin"),
        ("root.admin", "user_created", "ana"),
        ("ana", "sign_in", None),
        ("ana", "sign_in_failed", None),
        ("(unknown user)", "sign_in_failed", None),
        ("root.admin", "user_password_set", "ana"),
        ("root.admin", "user_role_set", "ana"),
        ("root.admin", "user_deactivated", "ana"),
        ("root.admin", "user_activated", "ana"),
        ("root.admin", "user_unlocked", "ana"),
        ("ana", "sign_out", None),
    ]
    entries = {e.action: e for e in u.read_user_audit(store, username="ana")}
    assert entries["sign_in"].new_value == {"reason": "ok", "client": "session-1"}
    assert entries["sign_in_failed"].new_value == {
        "reason": "wrong_password", "failed_count": 1, "locked_until": None}
    assert (entries["user_role_set"].old_value, entries["user_role_set"].new_value) == (
        "analyst", "planner")

    text = audit_text(store)
    hashes = stored_hashes(store)
    secrets = [PASSWORD, "ana's first passphrase", "a wrong passphrase",
               "typed into the wrong box", "ana's second passphrase", *hashes]
    secrets += [part for h in hashes for part in h.split("$")[3:]]  # salt and key alone
    for secret in secrets:
        assert secret not in text
    assert "$scrypt$" not in text


# -- the interface language each account chose ---------------------------------------------------

def test_an_account_remembers_its_language(store, admin, create, auth):
    create("ana", PASSWORD, role="field")
    assert u.get_user(store, "ana").language is None  # the deployment's default applies
    assert u.set_language(store, "Ana", "es").language == "es"
    assert u.get_user(store, "ana").language == "es"
    assert auth("ana", PASSWORD, now=at(1)).user.language == "es"  # what sign-in hands the page
    assert u.get_user(store, "root.admin").language is None  # only hers
    assert u.set_language(store, "ana", None).language is None
    with pytest.raises(AuthError, match="must be one of en, es, pt"):
        u.set_language(store, "ana", "fr")
    with pytest.raises(AccountNotFoundError):
        u.set_language(store, "nobody", "pt")
    assert "language" not in audit_text(store)  # a preference, not a change of rights


def test_a_version_10_store_learns_the_language_of_accounts(store_url):
    with open_store(store_url) as store:
        u.create_user(store, "ana", PASSWORD, role="analyst", actor="test", params=FAST)
    undo_migration(store_url, 11, "ALTER TABLE users DROP COLUMN language")
    with open_store(store_url) as store:  # start-up migrates it
        assert 11 in applied_versions(store)
        assert u.get_user(store, "ana").language is None
        assert u.set_language(store, "ana", "pt").language == "pt"
