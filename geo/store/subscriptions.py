"""Follow saved areas: subscriptions, the in-app inbox, and delivery by e-mail or webhook.

A user subscribes to a saved area of interest (its geometry is copied, in EPSG:4326). From
then on a new alert or a state change inside it writes a notification to that user's inbox in
the *same transaction* as the change (:mod:`geo.store.notify`), plus one outbox row
(``deliveries``) per e-mail address or webhook of the subscription.

:func:`deliver_pending` sends what is due, outside any alert transaction:

- **e-mail** through SMTP (stdlib :mod:`smtplib`, settings from ``ATALAYA_SMTP_*``, see
  :meth:`SmtpConfig.from_env`), plain text in the subscription's language
  (:mod:`geo.store.emails`): one message per notification, or one *digest* when several are
  due at once for the same person at the same address (a detection run that creates or
  destroys hundreds of strips in a followed area sends one e-mail listing them, up to
  :data:`DIGEST_MAX` per message, not hundreds);
- **webhook**: an HTTP POST of JSON (stdlib :mod:`urllib`), http/https only, redirects not
  followed, short timeout; with ``ATALAYA_WEBHOOK_SECRET`` set, the header
  ``X-Atalaya-Signature: sha256=<hex HMAC-SHA256 of the body>`` lets the receiver check it.

A failed try is recorded (``status='failed'``, ``attempts``, ``last_error``) and tried again
after a growing pause (30 s, 1 min, 2 min, ... up to 1 h) until :data:`MAX_ATTEMPTS`; when the
SMTP server cannot be reached, the call's other e-mails wait as long without trying. Sending
never raises for a dead server or a refused message, so it cannot undo or block a verdict, and
``budget_s`` bounds how long one call may take.
Delivery is at least once: a receiver may see a message twice after a crash mid-send
(the ``X-Atalaya-Delivery`` header, the delivery ids of a message, and the JSON
``delivery_id`` let it drop repeats). A digest is one try for all its deliveries: sent,
failed and retried together.

Notes
-----
Rows being sent are claimed for :data:`CLAIM_S` seconds first (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so two processes calling :func:`deliver_pending` at once do not send twice.
Webhook URLs are given by signed-in users and the server POSTs to them, so they go only to
public addresses and to the internal networks or hosts an administrator lists in
``ATALAYA_WEBHOOK_ALLOW`` (:mod:`geo.store.webhook_guard`): checked when an area is followed
and again, address by address, when a webhook is sent.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import re
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, RowMapping, and_, func, insert, select, update

from geo.errors import ConfigError, SchemaError
from geo.filters import check_aoi
from geo.i18n import Message, Translator
from geo.settings import LANGUAGES
from geo.store import emails
from geo.store import tables as t
from geo.store.engine import Store, in_transaction, read_tx
from geo.store.notify import plain_line, with_account_language
from geo.store.webhook_guard import WebhookPolicy, check_webhook_target, guarded_opener

__all__ = ["DeliveryReport", "InboxGroup", "Notification", "SmtpConfig", "Subscription",
           "deliver_pending", "inbox", "inbox_groups", "list_subscriptions", "mark_read",
           "mark_read_group", "subscribe", "unread_count", "unsubscribe", "webhook_secret_from_env"]

MAX_ATTEMPTS = 8
FIRST_RETRY_S = 30.0
MAX_RETRY_S = 3600.0
CLAIM_S = 300.0  # a claimed delivery is free again after this long (a crash mid-send)
#: At most this many notifications in one e-mail digest; more, due at once, go in the next.
DIGEST_MAX = 50
ERROR_MAX = 500
_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_SEND_ERRORS = (OSError, smtplib.SMTPException, http.client.HTTPException, ValueError)
#: No connection to the server at all (refused, timed out, dropped): worth not retrying at once.
_UNREACHABLE = (ConnectionError, TimeoutError, smtplib.SMTPConnectError,
                smtplib.SMTPServerDisconnected, socket.gaierror)


@dataclass(frozen=True)
class Subscription:
    """One user following one saved area (geometry copied at subscribe time, EPSG:4326)."""

    id: int
    user: str
    area_name: str
    geometry: BaseGeometry
    email: str | None
    webhook_url: str | None
    created_at: datetime
    active: bool
    #: Of the e-mails; made before schema 10 (none of its own): its account's, else English.
    language: str = "en"


@dataclass(frozen=True)
class Notification:
    """One inbox entry: a new alert, a state change or a change on the imagery, in a followed area.

    ``old_state``/``new_state``: the review states of a ``state_change``; the states on the
    imagery (``detection_state``) of an ``imagery_change``; None for a ``new_alert``.
    """

    id: int
    user: str
    alert_id: int
    kind: str
    area_name: str
    old_state: str | None
    new_state: str | None
    actor: str
    summary: str
    created_at: datetime
    read_at: datetime | None


@dataclass(frozen=True)
class SmtpConfig:
    """Where e-mail goes: an SMTP server, the sender address, optional STARTTLS and login."""

    host: str
    port: int = 25
    sender: str = "atalaya@localhost"
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpConfig | None:
        """Read the SMTP settings from ``ATALAYA_SMTP_*``; None when no host is set.

        Variables: ``ATALAYA_SMTP_HOST`` (unset: no e-mail), ``ATALAYA_SMTP_PORT`` (25),
        ``ATALAYA_SMTP_FROM``, ``ATALAYA_SMTP_STARTTLS`` (yes/no), ``ATALAYA_SMTP_USER`` and
        ``ATALAYA_SMTP_PASSWORD``.

        Examples
        --------
        >>> SmtpConfig.from_env({}) is None
        True
        >>> SmtpConfig.from_env({"ATALAYA_SMTP_HOST": "mail", "ATALAYA_SMTP_PORT": "2525"})
        SmtpConfig(host='mail', port=2525, sender='atalaya@localhost', starttls=False,
                   username=None, timeout_s=10.0)
        """
        env = os.environ if environ is None else environ
        host = env.get("ATALAYA_SMTP_HOST", "").strip()
        if not host:
            return None
        raw_port = env.get("ATALAYA_SMTP_PORT", "25").strip()
        if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
            raise ConfigError(f"ATALAYA_SMTP_PORT={raw_port!r} is not a port; use 1 to 65535")
        starttls = env.get("ATALAYA_SMTP_STARTTLS", "0").strip().lower()
        if starttls not in {"0", "1", "true", "false", "yes", "no", "on", "off", ""}:
            raise ConfigError(f"ATALAYA_SMTP_STARTTLS={starttls!r} is not a yes/no value")
        sender = env.get("ATALAYA_SMTP_FROM", "atalaya@localhost").strip()
        check_email(sender, what="ATALAYA_SMTP_FROM")
        return cls(host=host, port=int(raw_port), sender=sender,
                   starttls=starttls in {"1", "true", "yes", "on"},
                   username=env.get("ATALAYA_SMTP_USER") or None,
                   password=env.get("ATALAYA_SMTP_PASSWORD") or None)


def webhook_secret_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """``ATALAYA_WEBHOOK_SECRET``, or None when unset (webhooks then go unsigned)."""
    env = os.environ if environ is None else environ
    return env.get("ATALAYA_WEBHOOK_SECRET") or None


@dataclass
class DeliveryReport:
    """Delivery ids sent, failed and put off (left for later) by one call."""

    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    put_off: list[int] = field(default_factory=list)


# -- checks --------------------------------------------------------------------------------------

def check_email(address: str, *, what: str = Message("e-mail address")) -> str:
    r"""Return the address if it is one plain ``local@domain``; raise otherwise.

    Examples
    --------
    >>> check_email("ana@example.org")
    'ana@example.org'
    >>> check_email("ana@example.org\r\nBcc: x@y.org")
    Traceback (most recent call last):
    ...
    geo.errors.SchemaError: e-mail address 'ana@example.org\r\nBcc: x@y.org' is not ...
    """
    if len(address) > 254 or not _EMAIL.fullmatch(address):
        raise SchemaError(Message("{what} {address} is not a plain address like "
                                  "name@example.org", what=what, address=repr(address)))
    return address


def check_webhook_url(url: str) -> str:
    """Return the URL if it is an absolute http(s) URL with a host; raise otherwise.

    Examples
    --------
    >>> check_webhook_url("https://hooks.example.org/atalaya")
    'https://hooks.example.org/atalaya'
    >>> check_webhook_url("file:///etc/passwd")
    Traceback (most recent call last):
    ...
    geo.errors.SchemaError: webhook URL 'file:///etc/passwd' must start with http:// or ...
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise SchemaError(Message("webhook URL {url} must start with http:// or https://",
                                  url=repr(url)))
    try:
        parts.port  # noqa: B018 -- raises for a port that is not a number or out of range
    except ValueError:
        raise SchemaError(Message("webhook URL {url} has a port that is not 1 to 65535",
                                  url=repr(url))) from None
    if not parts.hostname or len(url) > 2000 or re.search(r"[\s\x00-\x1f\x7f]", url):
        raise SchemaError(Message("webhook URL {url} needs a host name and no spaces",
                                  url=repr(url)))
    return url


def _check_area(name: str, geometry: BaseGeometry) -> str:
    """Return the area's name as stored, once the area passes the rule of any area of interest.

    :func:`geo.filters.check_aoi`: a (Multi)Polygon in degrees, its vertices capped.
    """
    label = plain_line(name, 200)
    if not label:
        raise SchemaError(Message("the area needs a name"))
    check_aoi(geometry)
    return label


def _check_user(user: str) -> str:
    name = user.strip()
    if not name or len(name) > 200:
        raise SchemaError("a subscription needs the user's name (1 to 200 characters)")
    return name


# -- subscriptions -------------------------------------------------------------------------------

def _subscription(row: RowMapping, default_language: str = "en") -> Subscription:
    return Subscription(id=row["id"], user=row["user_name"], area_name=row["area_name"],
                        geometry=row["geometry"], email=row["email"],
                        webhook_url=row["webhook_url"], created_at=row["created_at"],
                        active=bool(row["active"]),
                        language=(row["language"] or row.get("account_language")
                                  or default_language))


def subscribe(store: Store, *, user: str, area_name: str, geometry: BaseGeometry,
              email: str | None = None, webhook_url: str | None = None,
              language: str = "en", now: datetime | None = None,
              webhook_policy: WebhookPolicy | None = None) -> Subscription:
    """Follow an area: new alerts and state changes inside it reach ``user``'s inbox.

    Parameters
    ----------
    user
        The follower (the reviewer's name until accounts exist).
    area_name, geometry
        The saved area (Polygon/MultiPolygon, EPSG:4326); the geometry is copied now.
    email, webhook_url
        Optional: also send each notification there (see :func:`deliver_pending`).
    language
        Language of the e-mails (``en``, ``es``, ``pt``): the app passes its page's.
    webhook_policy
        Where webhooks may go (default: ``ATALAYA_WEBHOOK_ALLOW``,
        :meth:`~geo.store.webhook_guard.WebhookPolicy.from_env`).

    Raises
    ------
    SchemaError
        An empty name, a geometry that is not an area in degrees, a malformed address or URL,
        a webhook to an address the policy refuses (loopback, link-local, private...), or the
        same area already followed by ``user`` with the same e-mail and webhook.
    """
    who = _check_user(user)
    label = _check_area(area_name, geometry)
    mail = check_email(email.strip()) if email and email.strip() else None
    hook = check_webhook_url(webhook_url.strip()) if webhook_url and webhook_url.strip() else None
    if hook is not None:
        check_webhook_target(hook, webhook_policy or WebhookPolicy.from_env())
    if language not in LANGUAGES:
        raise SchemaError(f"the language of e-mails must be one of {', '.join(LANGUAGES)}, "
                          f"got {language!r}")
    x0, y0, x1, y1 = geometry.bounds
    values = {"user_name": who, "area_name": label, "geometry": geometry, "min_lon": x0,
              "min_lat": y0, "max_lon": x1, "max_lat": y1, "email": mail, "webhook_url": hook,
              "created_at": now or datetime.now(UTC), "active": True, "language": language}

    def work(conn: Connection) -> int:
        s = t.subscriptions.c
        same = conn.execute(select(s.id).where(
            s.user_name == who, s.area_name == label, s.active.is_(True),
            s.email.is_(None) if mail is None else s.email == mail,
            s.webhook_url.is_(None) if hook is None else s.webhook_url == hook)).first()
        if same is not None:
            raise SchemaError(Message("You already follow {area} with these addresses. To "
                                      "follow its new outline, stop following it first.",
                                      area=label))
        key = conn.execute(insert(t.subscriptions).values(**values)).inserted_primary_key
        assert key is not None
        return int(key[0])
    new_id = in_transaction(store, work)
    return Subscription(id=new_id, user=who, area_name=label, geometry=geometry, email=mail,
                        webhook_url=hook, created_at=values["created_at"], active=True,
                        language=language)


def unsubscribe(store: Store, subscription_id: int, *, user: str,
                now: datetime | None = None) -> None:
    """Stop following (the row is kept, inactive); only the subscriber may do it.

    Raises
    ------
    SchemaError
        No active subscription ``subscription_id`` belongs to ``user``.
    """
    s = t.subscriptions.c
    stmt = (update(t.subscriptions)
            .where(s.id == subscription_id, s.user_name == user.strip(), s.active.is_(True))
            .values(active=False, ended_at=now or datetime.now(UTC)))
    if in_transaction(store, lambda conn: conn.execute(stmt).rowcount) != 1:
        raise SchemaError(f"{user!r} has no active subscription {subscription_id}")


def list_subscriptions(store: Store, *, user: str | None = None, active_only: bool = True,
                       default_language: str = "en") -> list[Subscription]:
    """Subscriptions, oldest first; those of ``user`` when given.

    A subscription made before languages were stored (schema 10) has the follower's account
    language, else ``default_language`` (the deployment's, ``ATALAYA_LANGUAGE``).
    """
    s = t.subscriptions.c
    query = with_account_language(select(t.subscriptions)).order_by(s.id)
    if user is not None:
        query = query.where(s.user_name == user.strip())
    if active_only:
        query = query.where(s.active.is_(True))
    with read_tx(store) as conn:
        return [_subscription(r, default_language) for r in conn.execute(query).mappings()]


# -- inbox ---------------------------------------------------------------------------------------

def inbox(store: Store, user: str, *, unread_only: bool = False,
          limit: int = 200) -> list[Notification]:
    """Return the user's notifications, newest first."""
    n = t.notifications.c
    query = (select(t.notifications).where(n.user_name == user.strip())
             .order_by(n.id.desc()).limit(limit))
    if unread_only:
        query = query.where(n.read_at.is_(None))
    with read_tx(store) as conn:
        rows = conn.execute(query).mappings().all()
    return [_notification(r) for r in rows]


def _notification(r: RowMapping) -> Notification:
    return Notification(user=r["user_name"], **{k: r[k] for k in (
        "id", "alert_id", "kind", "area_name", "old_state", "new_state", "actor", "summary",
        "created_at", "read_at")})


@dataclass(frozen=True)
class InboxGroup:
    """Notifications of one event for one user (same kind, actor, areas, time and states).

    A detection run's new alerts in an area, one batch of verdicts, one run's strips
    destroyed on the imagery. ``count``/``unread``: how many in all and unread; ``notes``:
    the newest of them (at most the ``members`` asked of :func:`inbox_groups`), newest
    first.
    """

    kind: str
    actor: str
    area_name: str
    created_at: datetime
    old_state: str | None
    new_state: str | None
    count: int
    unread: int
    notes: tuple[Notification, ...]
    newest_id: int  # of its newest notification: the group's identity in the inbox


def inbox_groups(store: Store, user: str, *, limit: int = 50,
                 members: int = 100) -> list[InboxGroup]:
    """Return the user's notifications grouped by event, the newest ``limit`` groups first.

    A run that creates 300 alerts in a followed area is one group of 300, not 300 lines that
    push everything else out of sight. Two queries whatever the sizes: the groups (GROUP BY,
    NULL states grouped together on both backends), then their newest ``members`` each.
    """
    n = t.notifications.c
    who = user.strip()
    keys = (n.kind, n.actor, n.area_name, n.created_at, n.old_state, n.new_state)
    newest = func.max(n.id).label("newest")
    grouped = (select(*keys, func.count().label("count"),
                      func.count(n.read_at).label("read"), newest)
               .where(n.user_name == who).group_by(*keys).order_by(newest.desc()).limit(limit))
    # Each group's newest ``members`` only, ranked in SQL: a run of 5,000 alerts does not
    # bring 5,000 rows to every refresh of the inbox. Only the listed groups' times are ranked
    # (the time is one of the group's keys, so filtering first ranks the same rows).
    rank = func.row_number().over(partition_by=keys, order_by=n.id.desc()).label("rank")
    with read_tx(store) as conn:
        heads = conn.execute(grouped).mappings().all()
        times = sorted({h["created_at"] for h in heads})
        ranked = select(t.notifications, rank).where(
            n.user_name == who, n.created_at.in_(times)).subquery()
        rows = conn.execute(select(ranked).where(ranked.c.rank <= members)
                            .order_by(ranked.c.id.desc())).mappings().all() if times else []
    by_key: dict[tuple[Any, ...], list[Notification]] = {}
    for r in rows:
        by_key.setdefault(_group_key(r), []).append(_notification(r))
    return [InboxGroup(kind=h["kind"], actor=h["actor"], area_name=h["area_name"],
                       created_at=h["created_at"], old_state=h["old_state"],
                       new_state=h["new_state"], count=int(h["count"]),
                       unread=int(h["count"]) - int(h["read"]),
                       notes=tuple(by_key.get(_group_key(h), ())),
                       newest_id=int(h["newest"]))
            for h in heads]


def unread_count(store: Store, user: str) -> int:
    """How many of the user's notifications are unread."""
    n = t.notifications.c
    with read_tx(store) as conn:
        return int(conn.execute(select(func.count()).where(
            n.user_name == user.strip(), n.read_at.is_(None))).scalar() or 0)


def mark_read(store: Store, user: str, notification_ids: Sequence[int] | None = None, *,
              now: datetime | None = None) -> int:
    """Mark the user's notifications read (all unread ones when no ids); return how many."""
    n = t.notifications.c
    stmt = (update(t.notifications).where(n.user_name == user.strip(), n.read_at.is_(None))
            .values(read_at=now or datetime.now(UTC)))
    if notification_ids is not None:
        if not notification_ids:
            return 0
        stmt = stmt.where(n.id.in_([int(i) for i in notification_ids]))
    return int(in_transaction(store, lambda conn: conn.execute(stmt).rowcount))


def _group_key(row: RowMapping) -> tuple[Any, ...]:
    return tuple(row[k] for k in ("kind", "actor", "area_name", "created_at", "old_state",
                                  "new_state"))


def mark_read_group(store: Store, user: str, group: InboxGroup, *,
                    now: datetime | None = None) -> int:
    """Mark every notification of ``group`` read, listed in it or not; return how many."""
    n = t.notifications.c

    def same(column: Any, value: Any) -> Any:
        return column.is_(None) if value is None else column == value
    stmt = (update(t.notifications)
            .where(n.user_name == user.strip(), n.read_at.is_(None), n.kind == group.kind,
                   n.actor == group.actor, n.area_name == group.area_name,
                   n.created_at == group.created_at, same(n.old_state, group.old_state),
                   same(n.new_state, group.new_state))
            .values(read_at=now or datetime.now(UTC)))
    return int(in_transaction(store, lambda conn: conn.execute(stmt).rowcount))


# -- delivery ------------------------------------------------------------------------------------

def _due(now: datetime, channels: Sequence[str]) -> Any:
    d = t.deliveries.c
    return and_(d.status.in_(["pending", "failed"]), d.next_attempt_at.is_not(None),
                d.next_attempt_at <= now, d.attempts < MAX_ATTEMPTS,
                d.channel.in_(list(channels)))


def _claim(store: Store, now: datetime, channels: Sequence[str],
           limit: int) -> list[dict[str, Any]]:
    """Take up to ``limit`` due deliveries for :data:`CLAIM_S` seconds; return them.

    With each e-mail taken come the other e-mails due to the same address for the same user
    (up to :data:`DIGEST_MAX` of them), so that they can go out as one digest.
    """
    d, n = t.deliveries.c, t.notifications.c
    with read_tx(store) as conn:  # cheap look first: most page loads find nothing to send
        if conn.execute(select(d.id).where(_due(now, channels)).limit(1)).first() is None:
            return []

    def locked(query: Any, conn: Connection) -> Any:
        if conn.dialect.name == "postgresql":
            return query.with_for_update(skip_locked=True, of=t.deliveries)
        return query

    def work(conn: Connection) -> list[dict[str, Any]]:
        ids = select(d.id).where(_due(now, channels)).order_by(d.id).limit(limit)
        taken = [int(i) for i in conn.execute(locked(ids, conn)).scalars()]
        if not taken:
            return []
        inboxes = conn.execute(
            select(d.target, n.user_name).distinct()
            .join(t.notifications, n.id == d.notification_id)
            .where(d.id.in_(taken), d.channel == "email")).all()
        for target, user in inboxes:
            same = (select(d.id).join(t.notifications, n.id == d.notification_id)
                    .where(_due(now, ["email"]), d.target == target, n.user_name == user,
                           d.id.not_in(taken))
                    .order_by(d.id).limit(DIGEST_MAX))
            taken += [int(i) for i in conn.execute(locked(same, conn)).scalars()]
        conn.execute(update(t.deliveries).where(d.id.in_(taken))
                     .values(next_attempt_at=now + timedelta(seconds=CLAIM_S)))
        rows = conn.execute(
            select(d.id, d.channel, d.target, d.attempts, d.language,
                   n.id.label("notification_id"),
                   n.user_name, n.alert_id, n.kind, n.area_name, n.old_state, n.new_state,
                   n.actor, n.summary, n.created_at)
            .join(t.notifications, n.id == d.notification_id)
            .where(d.id.in_(taken)).order_by(d.id)).mappings().all()
        return [dict(r) for r in rows]
    return in_transaction(store, work)


def _batches(items: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """One send per batch: a webhook call per delivery, an e-mail per address and user.

    E-mails to the same address for the same user in the same language are batched in the
    order of their first delivery, at most :data:`DIGEST_MAX` per batch.

    Examples
    --------
    >>> items = [{"id": 1, "channel": "email", "target": "a@x.org", "user_name": "ana"},
    ...          {"id": 2, "channel": "webhook", "target": "http://h/", "user_name": "ana"},
    ...          {"id": 3, "channel": "email", "target": "a@x.org", "user_name": "ana"}]
    >>> [[i["id"] for i in b] for b in _batches(items)]
    [[1, 3], [2]]
    """
    groups: dict[tuple[str, str, str | int, str], list[dict[str, Any]]] = {}
    for item in items:
        key: str | int = item["user_name"] if item["channel"] == "email" else item["id"]
        language = item.get("language") or "en"
        groups.setdefault((item["channel"], item["target"], key, language), []).append(item)
    return [group[k:k + DIGEST_MAX] for group in groups.values()
            for k in range(0, len(group), DIGEST_MAX)]


def _retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(FIRST_RETRY_S * 2 ** max(attempts - 1, 0), MAX_RETRY_S))


def _record_outcome(store: Store, batch: Sequence[Mapping[str, Any]], error: str | None,
                    now: datetime) -> datetime | None:
    """Write the outcome of one try of a batch; return when it is tried again (None: never).

    Each delivery counts the try; a failed one waits by its own count of tries (a digest
    may hold deliveries tried before), and the latest of those times is returned.
    """
    d = t.deliveries.c
    retries: list[datetime] = []
    statements = []
    for item in batch:
        attempts = int(item["attempts"]) + 1
        if error is None:
            values: dict[str, Any] = {"status": "sent", "attempts": attempts, "sent_at": now,
                                      "last_error": None, "next_attempt_at": None}
        else:
            retry = now + _retry_delay(attempts) if attempts < MAX_ATTEMPTS else None
            retries += [retry] if retry is not None else []
            values = {"status": "failed", "attempts": attempts,
                      "last_error": error[:ERROR_MAX], "next_attempt_at": retry}
        statements.append(update(t.deliveries).where(d.id == item["id"]).values(**values))

    def work(conn: Connection) -> None:
        for stmt in statements:
            conn.execute(stmt)
    in_transaction(store, work)
    return max(retries, default=None)


def deliver_pending(store: Store, *, smtp: SmtpConfig | None,
                    webhook_secret: str | None = None, now: datetime | None = None,
                    http_timeout: float = 5.0, limit: int = 20,
                    budget_s: float | None = None,
                    default_language: str = "en",
                    webhook_policy: WebhookPolicy | None = None) -> DeliveryReport:
    """Send the deliveries that are due; record each outcome; never raise for a send failure.

    Parameters
    ----------
    smtp
        SMTP settings (:meth:`SmtpConfig.from_env`); ``None`` leaves e-mail deliveries
        pending, to go once a server is configured.
    webhook_secret
        Key of the ``X-Atalaya-Signature`` HMAC (:func:`webhook_secret_from_env`).
    now
        The current time (UTC); a parameter so tests can step through the retry schedule.
    http_timeout
        Seconds to wait for a webhook receiver.
    limit
        At most this many deliveries taken per call, and with each e-mail the others due to
        the same address for the same user, sent with it as one digest.
    budget_s
        Stop starting new sends after this many seconds (what is left stays due), so a page
        that delivers on its way is never held up for long.
    default_language
        Language of a delivery that has none: one queued for a subscription made before
        languages were stored (schema 10) whose follower has no account language. Pass the
        deployment's (``ATALAYA_LANGUAGE``), the language that follower's pages were in.
    webhook_policy
        Where webhooks may go (default: ``ATALAYA_WEBHOOK_ALLOW``): a receiver whose address
        it refuses is a failed try, and the connection goes to the address that was checked.

    Returns
    -------
    DeliveryReport
        The delivery ids sent, failed, and put off by this call (every id of a digest).

    Raises
    ------
    StoreError
        Only when the store itself cannot be used (then nothing was sent).

    Notes
    -----
    Once the SMTP server cannot be reached, the other e-mails of the call are not tried: they
    wait for the failed one's retry time, without using up an attempt.
    """
    at = now or datetime.now(UTC)
    policy = webhook_policy or WebhookPolicy.from_env()
    started = time.monotonic()
    channels = ["webhook"] + (["email"] if smtp is not None else [])
    report = DeliveryReport()
    smtp_down: datetime | None = None  # retry time of the e-mail that found the server down
    claimed = _claim(store, at, channels, limit)
    for item in claimed:
        item["language"] = item.get("language") or default_language
    for batch in _batches(claimed):
        ids = [int(item["id"]) for item in batch]
        email = batch[0]["channel"] == "email"
        if budget_s is not None and time.monotonic() - started > budget_s:
            _put_off(store, ids, at)
        elif email and smtp_down is not None:
            _put_off(store, ids, smtp_down)
        else:
            error = _send(batch, smtp=smtp, secret=webhook_secret, timeout=http_timeout, at=at,
                          policy=policy)
            retry = _record_outcome(store, batch, error, at)
            (report.sent if error is None else report.failed).extend(ids)
            if email and (error or "").startswith("unreachable"):
                smtp_down = retry or at + timedelta(seconds=MAX_RETRY_S)
            continue
        report.put_off.extend(ids)
    return report


def _send(batch: Sequence[Mapping[str, Any]], *, smtp: SmtpConfig | None,
          secret: str | None, timeout: float, at: datetime,
          policy: WebhookPolicy) -> str | None:
    """Send one batch; return None, or why it failed (``unreachable: ...``: no connection)."""
    try:
        if batch[0]["channel"] == "email":
            assert smtp is not None
            _send_email(smtp, batch)
        else:
            (item,) = batch
            _post_webhook(item, secret=secret, timeout=timeout, at=at, policy=policy)
    except _UNREACHABLE as exc:
        return f"unreachable: {exc.__class__.__name__}: {exc}"
    except _SEND_ERRORS as exc:
        return f"{exc.__class__.__name__}: {exc}"
    return None


def _put_off(store: Store, ids: Sequence[int], until: datetime) -> None:
    """Give claimed deliveries back, due at ``until``, without counting an attempt."""
    stmt = (update(t.deliveries).where(t.deliveries.c.id.in_(list(ids)))
            .values(next_attempt_at=until))
    in_transaction(store, lambda conn: conn.execute(stmt))


def _send_email(smtp: SmtpConfig, batch: Sequence[Mapping[str, Any]]) -> None:
    """One plain-text message (a digest for several notifications) to the batch's address.

    Written in the batch's language (:mod:`geo.store.emails`).

    Header values are single lines (CR/LF cannot add headers).
    """
    target = batch[0]["target"]
    t = Translator(batch[0]["language"] or "en")
    msg = EmailMessage()
    msg["Subject"] = emails.subject(batch[0], t) if len(batch) == 1 else (
        emails.digest_subject(batch, t))
    msg["From"] = smtp.sender
    msg["To"] = check_email(target)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain="atalaya.invalid")
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Atalaya-Delivery"] = ",".join(str(int(item["id"])) for item in batch)
    body = emails.body(batch[0], t) if len(batch) == 1 else emails.digest_body(batch, t)
    msg.set_content(body, subtype="plain", charset="utf-8")
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        client.send_message(msg, from_addr=smtp.sender, to_addrs=[target])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Treat a redirect as a failure: the receiver is the URL the user gave, nothing else."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def webhook_payload(item: Mapping[str, Any], *, at: datetime) -> bytes:
    """Build the JSON body POSTed to a webhook (UTF-8)."""
    doc = {"delivery_id": item["id"], "notification_id": item["notification_id"],
           "kind": item["kind"], "alert_id": item["alert_id"], "user": item["user_name"],
           "area": item["area_name"], "old_state": item["old_state"],
           "new_state": item["new_state"], "actor": item["actor"], "summary": item["summary"],
           "created_at": item["created_at"].isoformat(), "sent_at": at.isoformat()}
    return json.dumps(doc, ensure_ascii=False, sort_keys=True).encode("utf-8")


def sign(body: bytes, secret: str) -> str:
    """``sha256=<hex>`` HMAC of the body, as sent in ``X-Atalaya-Signature``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _post_webhook(item: Mapping[str, Any], *, secret: str | None, timeout: float,
                  at: datetime, policy: WebhookPolicy) -> None:
    url = check_webhook_url(item["target"])
    body = webhook_payload(item, at=at)
    headers = {"Content-Type": "application/json; charset=utf-8",
               "User-Agent": "Atalaya-webhook/1", "X-Atalaya-Delivery": str(item["id"])}
    if secret:
        headers["X-Atalaya-Signature"] = sign(body, secret)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    opener = guarded_opener(policy, extra=(_NoRedirect(),))
    with opener.open(request, timeout=timeout) as response:  # 4xx/5xx raise HTTPError
        response.read(1024)
        if not 200 <= response.status < 300:
            raise http.client.HTTPException(f"webhook answered HTTP {response.status}")
