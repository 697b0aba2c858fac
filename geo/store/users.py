"""Local user accounts: create, change, list, and sign in with a growing lockout delay.

Passwords are hashed with scrypt (:mod:`geo.auth.passwords`) outside the write transaction,
so one slow hash never holds the store's write lock. Sign-ins, failed sign-ins and every change
to an account are written to the append-only audit log in the same transaction as the change,
with the user name as ``field`` for changes and the actor as ``actor``; no password or hash is
ever written there. :class:`User` leaves the hash out unless it is asked for explicitly.

Failed sign-ins
---------------
After :attr:`~geo.auth.lockout.LockoutPolicy.max_failures` wrong passwords in a row the
account waits 30 s, then twice as long after each further failure (15 min at most); a correct
password resets the count. An unknown user name costs the same hashing time as a wrong
password and gets the same answer. Its audit row does not repeat the name typed: people
sometimes type their password in the user name box.

Examples
--------
>>> import tempfile
>>> from geo.auth import Role, ScryptParams
>>> from geo.store import open_store
>>> fast = ScryptParams(ln=4)  # cheap hashes for the example only
>>> with tempfile.TemporaryDirectory() as folder:
...     with open_store(f"sqlite:///{folder}/users.sqlite3") as store:
...         first = has_users(store)
...         _ = create_first_admin(store, "Ana", "correct horse battery", params=fast)
...         result = authenticate(store, "ana", "correct horse battery", params=fast)
...         print(first, result.ok, result.user.role.value)
False True admin
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, TypeVar

from sqlalchemy import Connection, RowMapping, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from geo.auth.lockout import LockoutPolicy
from geo.auth.passwords import (
    DEFAULT_PARAMS,
    DEFAULT_POLICY,
    PasswordPolicy,
    ScryptParams,
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)
from geo.auth.permissions import Role, parse_role
from geo.errors import AccountNotFoundError, AuthError, ConfigError
from geo.message import Message
from geo.settings import LANGUAGES
from geo.store import tables as t
from geo.store.audit import AuditEntry, record
from geo.store.engine import Store, in_transaction, read_tx

USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
UNKNOWN_ACTOR = "(unknown user)"
#: Audit actions about accounts and sign-ins (``alert_id`` is None on all of them).
USER_ACTIONS: tuple[str, ...] = (
    "sign_in", "sign_in_failed", "sign_out", "user_created", "user_password_set",
    "user_role_set", "user_deactivated", "user_activated", "user_unlocked", "access_refused")
DEFAULT_LOCKOUT = LockoutPolicy()
SignInOutcome = Literal["ok", "invalid", "locked", "inactive"]
T = TypeVar("T")


@dataclass(frozen=True)
class User:
    """One account as the app sees it (no password hash unless asked for)."""

    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    created_at: datetime
    created_by: str
    password_changed_at: datetime | None
    failed_count: int
    locked_until: datetime | None
    last_sign_in_at: datetime | None
    has_password: bool
    #: The interface language the user last chose (``en``, ``es``, ``pt``); None until they
    #: choose one, and the deployment's default language applies.
    language: str | None = None
    #: Only filled by ``list_users(..., with_hashes=True)``; never shown by ``repr``.
    password_hash: str | None = field(default=None, repr=False, compare=False)

    def is_locked(self, now: datetime) -> bool:
        """Whether failed sign-ins make this account wait at ``now``."""
        return self.locked_until is not None and now < self.locked_until


@dataclass(frozen=True)
class SignInResult:
    """What a sign-in attempt gave.

    Attributes
    ----------
    outcome
        ``ok``; ``invalid`` (unknown user or wrong password: deliberately the same);
        ``locked`` (too many failures: wait ``retry_after_s``); ``inactive`` (right password,
        account disabled).
    user
        The account when ``ok``; None otherwise (nothing to reveal to a failed attempt).
    retry_after_s
        Seconds before the next attempt can succeed (0 unless locked).
    """

    outcome: SignInOutcome
    user: User | None = None
    retry_after_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the person is signed in."""
        return self.outcome == "ok"

    @property
    def message(self) -> str:
        """A sentence for the sign-in page (English; the UI translates it)."""
        if self.outcome == "ok":
            return Message("Signed in.")
        if self.outcome == "locked":
            return Message("Too many failed sign-ins: wait {s} s and try again.",
                           s=max(1, round(self.retry_after_s)))
        if self.outcome == "inactive":
            return Message("This account is disabled; ask an administrator.")
        return Message("Wrong user name or password.")


def _now(now: datetime | None) -> datetime:
    return datetime.now(UTC) if now is None else now


def normalise_username(text: str) -> str:
    """Return the canonical user name: stripped, lower case, checked against the pattern.

    Raises
    ------
    AuthError
        The name is empty, too long or has characters other than letters, digits, ``.``,
        ``_``, ``@`` and ``-``.

    Examples
    --------
    >>> normalise_username("  Ana.Lopez ")
    'ana.lopez'
    """
    name = text.strip().lower()
    if not USERNAME_PATTERN.fullmatch(name):
        raise AuthError(Message("user name {name} is not usable; use 1 to 64 letters, digits, "
                                "'.', '_', '@' or '-', starting with a letter or digit",
                                name=repr(text.strip()[:80])))
    return name


def _user(row: RowMapping, *, with_hash: bool = False) -> User:
    return User(
        id=row["id"], username=row["username"], display_name=row["display_name"],
        role=Role(row["role"]), active=bool(row["active"]), created_at=row["created_at"],
        created_by=row["created_by"], password_changed_at=row["password_changed_at"],
        failed_count=int(row["failed_count"]), locked_until=row["locked_until"],
        last_sign_in_at=row["last_sign_in_at"], has_password=row["password_hash"] is not None,
        language=row["language"] if row["language"] in LANGUAGES else None,
        password_hash=row["password_hash"] if with_hash else None)


def _load(conn: Connection, username: str, *, lock: bool) -> RowMapping | None:
    query = select(t.users).where(t.users.c.username == username)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def _require(conn: Connection, username: str) -> RowMapping:
    row = _load(conn, username, lock=True)
    if row is None:
        raise AccountNotFoundError(f"no account is called {username!r}; "
                                   "see `python -m geo.users list`")
    return row


def _audit(conn: Connection, action: str, *, actor: str, at: datetime, subject: str | None,
           old: object = None, new: object = None) -> None:
    row: dict[str, object] = {"alert_id": None, "action": action, "field": subject}
    if old is not None:
        row["old"] = old
    if new is not None:
        row["new"] = new
    record(conn, [row], at=at, actor=actor)


# -- reading -------------------------------------------------------------------------------------

def has_users(store: Store) -> bool:
    """Whether any account exists (else the app asks for a first administrator)."""
    with read_tx(store) as conn:
        return conn.execute(select(t.users.c.id).limit(1)).first() is not None


def get_user(store: Store, username: str) -> User:
    """One account, by user name; :class:`~geo.errors.AccountNotFoundError` if none."""
    name = normalise_username(username)
    with read_tx(store) as conn:
        row = _load(conn, name, lock=False)
    if row is None:
        raise AccountNotFoundError(f"no account is called {name!r}")
    return _user(row)


def active_user(store: Store, username: str) -> User | None:
    """Return the account if it exists and is active, else None (checked on every run)."""
    try:
        user = get_user(store, username)
    except AuthError:
        return None
    return user if user.active else None


def list_users(store: Store, *, include_inactive: bool = True,
               with_hashes: bool = False) -> list[User]:
    """Every account, by user name.

    Parameters
    ----------
    include_inactive
        Also list disabled accounts (default).
    with_hashes
        Fill :attr:`User.password_hash` (for a backup or a migration; never for display).
    """
    query = select(t.users).order_by(t.users.c.username)
    if not include_inactive:
        query = query.where(t.users.c.active.is_(True))
    with read_tx(store) as conn:
        return [_user(r, with_hash=with_hashes) for r in conn.execute(query).mappings()]


def read_user_audit(store: Store, *, username: str | None = None,
                    limit: int | None = None) -> list[AuditEntry]:
    """Audit rows about accounts and sign-ins, newest first; those of one user if given.

    A user's rows are those they did (``actor``) and those done to their account (``field``).
    """
    a = t.audit_log.c
    query = (select(t.audit_log).where(a.alert_id.is_(None), a.action.in_(USER_ACTIONS))
             .order_by(a.id.desc()).limit(limit))
    if username is not None:
        name = username.strip().lower()
        query = query.where((a.actor == name) | (a.field == name))
    with read_tx(store) as conn:
        rows = conn.execute(query).mappings().all()
    return [AuditEntry(
        id=r["id"], at=r["at"], actor=r["actor"], alert_id=None, action=r["action"],
        field=r["field"],
        old_value=None if r["old_value"] is None else json.loads(r["old_value"]),
        new_value=None if r["new_value"] is None else json.loads(r["new_value"]),
        request_id=r["request_id"]) for r in rows]


# -- changes -------------------------------------------------------------------------------------

#: PostgreSQL advisory lock serialising account changes (the last-admin check, the first admin).
PG_USERS_LOCK = 0x41_54_41_4C_05  # "ATAL" 5


def _lock_accounts(conn: Connection) -> None:
    """Serialise account changes (SQLite already does: every write starts BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(PG_USERS_LOCK)))


def _new_hash(password: str, *, username: str, policy: PasswordPolicy,
              params: ScryptParams) -> str:
    policy.check(password, username=username)
    return hash_password(password, params=params)


def _insert(conn: Connection, name: str, role: Role, display_name: str, hashed: str | None, *,
            actor: str, at: datetime, first_run: bool = False) -> User:
    if _load(conn, name, lock=False) is not None:
        raise AuthError(Message("an account called {name} already exists; choose another name "
                                "or change that account instead", name=repr(name)))
    display = display_name.strip()[:200] or name
    conn.execute(insert(t.users).values(
        username=name, display_name=display, role=role.value, password_hash=hashed,
        active=True, created_at=at, created_by=actor,
        password_changed_at=at if hashed is not None else None, failed_count=0))
    details: dict[str, object] = {"role": role.value, "display_name": display,
                                  "local_password": hashed is not None}
    if first_run:
        details["first_run"] = True
    _audit(conn, "user_created", actor=actor, at=at, subject=name, new=details)
    row = _load(conn, name, lock=False)
    assert row is not None
    return _user(row)


def _run(store: Store, work: Callable[[Connection], T]) -> T:
    """Run an account change; a concurrent insert of the same name becomes an AuthError."""
    try:
        return in_transaction(store, work)
    except IntegrityError as exc:
        raise AuthError(Message("an account with that name was created at the same time; "
                                "choose another name")) from exc


def create_user(store: Store, username: str, password: str | None, *, role: Role | str,
                actor: str, display_name: str = "", now: datetime | None = None,
                policy: PasswordPolicy = DEFAULT_POLICY,
                params: ScryptParams = DEFAULT_PARAMS) -> User:
    """Create an active account.

    Parameters
    ----------
    username
        Normalised by :func:`normalise_username` (``Ana`` becomes ``ana``).
    password
        Checked against ``policy`` and hashed; None for an account that signs in only through
        the OIDC provider.
    role
        A :class:`~geo.auth.permissions.Role` or its name.
    actor
        Who creates it (recorded in the audit log).

    Raises
    ------
    AuthError
        Unusable name, unknown role, or the name is taken.
    PasswordPolicyError
        The password breaks the policy (the message says how).
    """
    name, parsed = normalise_username(username), parse_role(str(role))
    hashed = None if password is None else _new_hash(password, username=name, policy=policy,
                                                     params=params)
    at = _now(now)

    def work(conn: Connection) -> User:
        _lock_accounts(conn)
        return _insert(conn, name, parsed, display_name, hashed, actor=actor, at=at)

    return _run(store, work)


def create_first_admin(store: Store, username: str, password: str, *, display_name: str = "",
                       now: datetime | None = None, policy: PasswordPolicy = DEFAULT_POLICY,
                       params: ScryptParams = DEFAULT_PARAMS) -> User:
    """Create the first account, an admin, only while the store has no account at all.

    The first-run page calls this instead of shipping a default password, and signs the new
    admin in with it: the creation is recorded as the account's last sign-in. Two browsers
    racing through it get one admin, the other an :class:`~geo.errors.AuthError`.
    """
    name = normalise_username(username)
    hashed = _new_hash(password, username=name, policy=policy, params=params)
    at = _now(now)

    def work(conn: Connection) -> User:
        _lock_accounts(conn)
        if conn.execute(select(t.users.c.id).limit(1)).first() is not None:
            raise AuthError(Message("accounts already exist, so the first-run setup is closed; "
                                    "sign in, or ask an administrator for an account"))
        _insert(conn, name, Role.ADMIN, display_name, hashed, actor=name, at=at, first_run=True)
        return _update(conn, name, last_sign_in_at=at)

    return _run(store, work)


def _update(conn: Connection, name: str, **values: object) -> User:
    conn.execute(update(t.users).where(t.users.c.username == name).values(**values))
    row = _load(conn, name, lock=False)
    assert row is not None
    return _user(row)


def set_language(store: Store, username: str, language: str | None) -> User:
    """Remember the interface language an account chose (None: back to the deployment's).

    A preference, not a change of rights: it is not audited and takes no account lock.

    Raises
    ------
    AuthError
        When ``language`` is not one of :data:`geo.settings.LANGUAGES` (nor None).
    AccountNotFoundError
        When no account has that name.
    """
    if language is not None and language not in LANGUAGES:
        raise AuthError(Message("the language of an account must be one of {known}, not "
                                "{language}", known=", ".join(LANGUAGES),
                                language=repr(language)[:40]))
    name = normalise_username(username)

    def work(conn: Connection) -> User:
        if conn.execute(update(t.users).where(t.users.c.username == name)
                        .values(language=language)).rowcount != 1:
            raise AccountNotFoundError(f"no account is called {name!r}")
        row = _load(conn, name, lock=False)
        assert row is not None
        return _user(row)

    return in_transaction(store, work)


def set_password(store: Store, username: str, password: str, *, actor: str,
                 now: datetime | None = None, policy: PasswordPolicy = DEFAULT_POLICY,
                 params: ScryptParams = DEFAULT_PARAMS) -> User:
    """Set a new password (an administrator's reset, or after :func:`change_own_password`).

    Also clears the failed sign-ins, so a reset unlocks the account.
    """
    name = normalise_username(username)
    hashed = _new_hash(password, username=name, policy=policy, params=params)
    at = _now(now)

    def work(conn: Connection) -> User:
        _lock_accounts(conn)
        _require(conn, name)
        _audit(conn, "user_password_set", actor=actor, at=at, subject=name)
        return _update(conn, name, password_hash=hashed, password_changed_at=at,
                       failed_count=0, locked_until=None)

    return _run(store, work)


def change_own_password(store: Store, username: str, current_password: str,
                        new_password: str, *, now: datetime | None = None,
                        policy: PasswordPolicy = DEFAULT_POLICY,
                        params: ScryptParams = DEFAULT_PARAMS,
                        lockout: LockoutPolicy = DEFAULT_LOCKOUT) -> User:
    """Change one's own password after checking the current one.

    A wrong current password counts as a failed sign-in (same lockout), so a session left
    open cannot be used to guess it.

    Raises
    ------
    AuthError
        The current password is wrong, or the account is locked or disabled.
    PasswordPolicyError
        The new password breaks the policy.
    """
    name = normalise_username(username)
    policy.check(new_password, username=name)
    check = authenticate(store, name, current_password, now=now, lockout=lockout,
                         params=params, purpose="password_change")
    if not check.ok:
        raise AuthError(Message("the current password was refused: {reason}",
                                reason=check.message))
    return set_password(store, name, new_password, actor=name, now=now, policy=policy,
                        params=params)


def _ensure_other_admin(conn: Connection, name: str) -> None:
    u = t.users.c
    others = conn.execute(select(func.count()).select_from(t.users).where(
        u.role == Role.ADMIN.value, u.active.is_(True), u.username != name)).scalar_one()
    if not others:
        raise AuthError(Message("{name} is the last active admin; make another account admin "
                                "first, or nobody could manage accounts", name=name))


def set_role(store: Store, username: str, role: Role | str, *, actor: str,
             now: datetime | None = None) -> User:
    """Give an account another role; the last active admin cannot lose theirs."""
    name, parsed = normalise_username(username), parse_role(str(role))
    at = _now(now)

    def work(conn: Connection) -> User:
        _lock_accounts(conn)
        row = _require(conn, name)
        if row["role"] == parsed.value:
            return _user(row)
        if row["role"] == Role.ADMIN.value and row["active"]:
            _ensure_other_admin(conn, name)
        _audit(conn, "user_role_set", actor=actor, at=at, subject=name, old=row["role"],
               new=parsed.value)
        return _update(conn, name, role=parsed.value)

    return _run(store, work)


def _set_active(store: Store, username: str, active: bool, *, actor: str,
                now: datetime | None) -> User:
    name, at = normalise_username(username), _now(now)

    def work(conn: Connection) -> User:
        _lock_accounts(conn)
        row = _require(conn, name)
        if bool(row["active"]) == active:
            return _user(row)
        if not active and row["role"] == Role.ADMIN.value:
            _ensure_other_admin(conn, name)
        action = "user_activated" if active else "user_deactivated"
        _audit(conn, action, actor=actor, at=at, subject=name, old=not active, new=active)
        return _update(conn, name, active=active)

    return _run(store, work)


def deactivate(store: Store, username: str, *, actor: str, now: datetime | None = None) -> User:
    """Disable an account: it can no longer sign in, and open sessions end at their next run.

    Accounts are never deleted: the audit log keeps naming them. The last active admin cannot
    be disabled.
    """
    return _set_active(store, username, False, actor=actor, now=now)


def activate(store: Store, username: str, *, actor: str, now: datetime | None = None) -> User:
    """Enable a disabled account again."""
    return _set_active(store, username, True, actor=actor, now=now)


def unlock(store: Store, username: str, *, actor: str, now: datetime | None = None) -> User:
    """Clear an account's failed sign-ins and its waiting time."""
    name, at = normalise_username(username), _now(now)

    def work(conn: Connection) -> User:
        _lock_accounts(conn)
        row = _require(conn, name)
        _audit(conn, "user_unlocked", actor=actor, at=at, subject=name,
               old={"failed_count": row["failed_count"]})
        return _update(conn, name, failed_count=0, locked_until=None)

    return _run(store, work)


# -- signing in ----------------------------------------------------------------------------------

def _details(reason: str, client: str | None, purpose: str, **extra: object) -> dict[str, object]:
    found: dict[str, object] = {"reason": reason, **extra}
    if purpose != "sign_in":
        found["purpose"] = purpose
    if client:
        found["client"] = client[:200]
    return found


def _refuse_unknown(store: Store, password: str, *, at: datetime, reason: str,
                    actor: str, client: str | None, purpose: str,
                    params: ScryptParams) -> SignInResult:
    """Refuse an unknown name or an account without a local password: same work, answer."""
    verify_password(password, dummy_hash(params))

    def work(conn: Connection) -> None:
        _audit(conn, "sign_in_failed", actor=actor, at=at, subject=None,
               new=_details(reason, client, purpose))

    in_transaction(store, work)
    return SignInResult("invalid")


def _check(row: RowMapping, password: str, params: ScryptParams) -> tuple[bool, str | None]:
    """Whether the password matches, and a fresh hash when the stored one is outdated."""
    try:
        matches = verify_password(password, row["password_hash"])
    except ConfigError:  # a damaged hash: the account cannot sign in until an admin resets it
        return False, None
    stale = matches and needs_rehash(row["password_hash"], params=params)
    return matches, hash_password(password, params=params) if stale else None


def _record_attempt(conn: Connection, name: str, matches: bool, rehash: str | None, *,
                    at: datetime, lockout: LockoutPolicy, client: str | None,
                    purpose: str) -> SignInResult:
    row = _require(conn, name)  # again, locked: failures of other sessions count too
    locked_until = row["locked_until"]
    if locked_until is not None and at < locked_until:
        _audit(conn, "sign_in_failed", actor=name, at=at, subject=None,
               new=_details("locked", client, purpose))
        return SignInResult("locked", retry_after_s=(locked_until - at).total_seconds())
    if matches and not row["active"]:
        _audit(conn, "sign_in_failed", actor=name, at=at, subject=None,
               new=_details("inactive", client, purpose))
        return SignInResult("inactive")
    if matches:
        values: dict[str, object] = {"failed_count": 0, "locked_until": None,
                                     "last_sign_in_at": at}
        if rehash is not None:
            values["password_hash"] = rehash
        _audit(conn, "sign_in", actor=name, at=at, subject=None,
               new=_details("ok", client, purpose))
        return SignInResult("ok", user=_update(conn, name, **values))
    count = int(row["failed_count"]) + 1
    until = lockout.locked_until(count, at)
    _audit(conn, "sign_in_failed", actor=name, at=at, subject=None,
           new=_details("wrong_password", client, purpose, failed_count=count,
                        locked_until=None if until is None else until.isoformat()))
    _update(conn, name, failed_count=count, locked_until=until)
    if until is None:
        return SignInResult("invalid")
    return SignInResult("locked", retry_after_s=(until - at).total_seconds())


def authenticate(store: Store, username: str, password: str, *, now: datetime | None = None,
                 lockout: LockoutPolicy = DEFAULT_LOCKOUT, params: ScryptParams = DEFAULT_PARAMS,
                 client: str | None = None, purpose: str = "sign_in") -> SignInResult:
    """Check a user name and password; record the attempt; apply the lockout.

    Parameters
    ----------
    username, password
        As typed. An unusable or unknown name is refused like a wrong password, after the
        same hashing work.
    now
        The time of the attempt (UTC-aware; default: the clock). Tests pass their own.
    lockout
        How many failures are allowed and how the wait grows.
    params
        Current hashing parameters: a correct password whose hash used others is re-hashed.
    client
        Optional note of where the attempt came from (a session id), kept in the audit row.
    purpose
        Recorded in the audit row when not a plain sign-in (``password_change``).

    Returns
    -------
    SignInResult
        ``ok`` with the :class:`User`, or ``invalid`` / ``locked`` (with the wait) /
        ``inactive``.
    """
    at = _now(now)
    try:
        name: str | None = normalise_username(username)
    except AuthError:
        name = None
    row = None
    if name is not None:
        with read_tx(store) as conn:
            row = _load(conn, name, lock=False)
    if row is None or row["password_hash"] is None:
        reason = "unknown_user" if row is None else "no_local_password"
        # The name typed is not recorded for an unknown user: it may be a password.
        actor = UNKNOWN_ACTOR if row is None or name is None else name
        return _refuse_unknown(store, password, at=at, reason=reason, actor=actor,
                               client=client, purpose=purpose, params=params)
    if row["locked_until"] is not None and at < row["locked_until"]:
        verify_password(password, dummy_hash(params))  # same time as a real check
        matches, rehash = False, None
    else:
        matches, rehash = _check(row, password, params)
    found = row["username"]

    def work(conn: Connection) -> SignInResult:
        return _record_attempt(conn, found, matches, rehash, at=at, lockout=lockout,
                               client=client, purpose=purpose)

    return in_transaction(store, work)


def record_sign_out(store: Store, username: str, *, reason: str = "signed_out",
                    now: datetime | None = None) -> None:
    """Write the end of a session to the audit log (``signed_out``, ``idle_timeout`` ...)."""
    name, at = normalise_username(username), _now(now)

    def work(conn: Connection) -> None:
        _audit(conn, "sign_out", actor=name, at=at, subject=None, new={"reason": reason[:64]})

    in_transaction(store, work)


def record_refusal(store: Store, username: str | None, what: str, *,
                   now: datetime | None = None) -> None:
    """Write a refused page or action to the audit log (``access_refused``, ``field`` = what).

    ``username`` None (nobody signed in) is recorded as the unknown actor.
    """
    name = normalise_username(username) if username else UNKNOWN_ACTOR
    at = _now(now)

    def work(conn: Connection) -> None:
        _audit(conn, "access_refused", actor=name, at=at, subject=what[:120])

    in_transaction(store, work)


def sign_in_oidc(store: Store, username: str, role: Role | None, *, display_name: str = "",
                 now: datetime | None = None, client: str | None = None) -> SignInResult:
    """Record a sign-in done by the OIDC provider; create or update the account to match.

    Parameters
    ----------
    username
        The provider's user name (or e-mail), normalised.
    role
        From the provider's groups (:func:`geo.auth.oidc.role_for_groups`); None refuses.

    Notes
    -----
    The provider is the source of roles: an account whose groups changed gets the new role
    (audited with actor ``oidc``). A disabled account stays disabled whatever the provider
    says, so an administrator can shut someone out of this app alone.
    """
    name, at = normalise_username(username), _now(now)

    def work(conn: Connection) -> SignInResult:
        _lock_accounts(conn)
        if role is None:
            _audit(conn, "sign_in_failed", actor=name, at=at, subject=None,
                   new=_details("no_role", client, "oidc"))
            return SignInResult("invalid")
        row = _load(conn, name, lock=True)
        if row is None:
            _insert(conn, name, role, display_name, None, actor="oidc", at=at)
        elif not row["active"]:
            _audit(conn, "sign_in_failed", actor=name, at=at, subject=None,
                   new=_details("inactive", client, "oidc"))
            return SignInResult("inactive")
        elif row["role"] != role.value:
            _audit(conn, "user_role_set", actor="oidc", at=at, subject=name,
                   old=row["role"], new=role.value)
        _audit(conn, "sign_in", actor=name, at=at, subject=None,
               new=_details("ok", client, "oidc"))
        return SignInResult("ok", user=_update(conn, name, role=role.value,
                                                last_sign_in_at=at))

    return _run(store, work)
