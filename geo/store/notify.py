"""Write inbox notifications and outbox deliveries inside the transaction of an alert change.

Called by :func:`geo.store.merge.merge_candidates` (a new alert; a strip destroyed or reopened
on the imagery) and :func:`geo.store.alerts.apply_change` (a state change) on *their*
connection, so a change and its notifications are committed together or not at all: a
refused or rolled-back change notifies nobody, and a committed one cannot lose its
notifications. Sending happens later, outside that transaction
(:func:`geo.store.subscriptions.deliver_pending`).

Who is told: every user with an active subscription whose area intersects the alert's
geometry (bounding-box prefilter in SQL, exact test with shapely), except the person who made
the change (nobody needs to hear about their own verdict). A user following several matching
areas gets one inbox entry, and one delivery per distinct e-mail address or webhook.

Texts are plain, one line, with control characters (CR, LF, Unicode line separators) turned
into spaces: they end up in e-mail subjects and must not be able to add headers.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, insert, select

from geo.i18n import marked as _
from geo.store import tables as t

if TYPE_CHECKING:
    from geo.store.alerts import Alert

SUMMARY_MAX = 500  # characters of a notification's summary
#: Changes of an alert's state on the imagery that its followers hear of: the strip was seen
#: gone where its ground was clear, or seen again after that (a field team's signal).
IMAGERY_NEWS: tuple[str, ...] = ("destroyed", "reopened")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def plain_line(text: object, limit: int = SUMMARY_MAX) -> str:
    r"""One line of plain text: control characters become spaces, runs of spaces one space.

    Examples
    --------
    >>> plain_line("ok\r\nBcc: evil@example.org\u2028x")
    'ok Bcc: evil@example.org x'
    >>> plain_line("a" * 10, limit=5)
    'aaaa…'
    """
    line = " ".join(_CONTROL.sub(" ", str(text)).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def with_account_language(query: Select[Any]) -> Select[Any]:
    """Add the follower's account language (``account_language``) to a subscriptions query.

    A subscription made before schema version 10 has no language of its own; its e-mails
    follow the language its account chose for its pages (``users.language``), else English.
    """
    u = t.users.c
    return (query.add_columns(u.language.label("account_language"))
            .outerjoin(t.users, u.username == t.subscriptions.c.user_name))


def _followers(conn: Connection, alert: Alert) -> list[Any]:
    """Active subscriptions whose area intersects the alert, oldest first."""
    x0, y0, x1, y1 = alert.geometry.bounds
    s = t.subscriptions.c
    rows = conn.execute(
        with_account_language(select(s.id, s.user_name, s.area_name, s.geometry, s.email,
                                     s.webhook_url, s.language))
        .where(s.active.is_(True), s.max_lon >= x0, s.min_lon <= x1, s.max_lat >= y0,
               s.min_lat <= y1)
        .order_by(s.id)).all()
    return [r for r in rows if r.geometry.intersects(alert.geometry)]


#: A notification's summary, stored in English; e-mails in another language are written from
#: it again (:func:`geo.store.emails.localize_summary`).
SUMMARIES = {
    "new_alert": _("New runway alert #{id} {where}: score {score}, {priority} priority, "
                   "{length} m long. {reason}"),
    "imagery_change": _("Runway alert #{id} {where} is {new} on the imagery (was {old}), "
                        "from {actor}."),
    "state_change": _("Runway alert #{id} {where} moved from {old} to {new} by {actor}."),
}
WHERE = _("in {areas}")
WHERE_COUNTRY = _("in {areas} ({country})")
UNKNOWN = _("unknown")  # no state on the imagery before


def _summary(alert: Alert, kind: str, areas: str, *, actor: str,
             old_state: str | None) -> str:
    where = (WHERE_COUNTRY.format(areas=areas, country=alert.country) if alert.country
             else WHERE.format(areas=areas))
    if kind == "new_alert":
        text = SUMMARIES[kind].format(id=alert.id, where=where, score=f"{alert.score:.2f}",
                                      priority=alert.priority, length=f"{alert.length_m:.0f}",
                                      reason=alert.reason)
    elif kind == "imagery_change":
        text = SUMMARIES[kind].format(id=alert.id, where=where, new=alert.detection_state,
                                      old=old_state or UNKNOWN, actor=actor)
    else:
        text = SUMMARIES["state_change"].format(id=alert.id, where=where, old=old_state,
                                                new=alert.state, actor=actor)
    return plain_line(text)


def notify(conn: Connection, alert: Alert, kind: str, *, actor: str, at: datetime,
           old_state: str | None = None) -> list[int]:
    """Write the notifications (and their deliveries) of one alert event; return their ids.

    Parameters
    ----------
    alert
        The alert as it is after the change (its geometry decides who follows it).
    kind
        ``"new_alert"``, ``"state_change"`` (then ``old_state`` is the review state before)
        or ``"imagery_change"`` (``old_state`` is the state on the imagery before:
        ``detection_state``, see :data:`IMAGERY_NEWS`).
    actor
        Who made the change; they are not notified of it.
    """
    by_user: dict[str, list[Any]] = defaultdict(list)
    for row in _followers(conn, alert):
        if row.user_name != actor:
            by_user[row.user_name].append(row)
    made = []
    new_state = {"state_change": alert.state, "imagery_change": alert.detection_state}.get(kind)
    for user, subs in sorted(by_user.items()):
        areas = plain_line(", ".join(dict.fromkeys(s.area_name for s in subs)), 200)
        key = conn.execute(insert(t.notifications).values(
            user_name=user, alert_id=alert.id, kind=kind, area_name=areas,
            old_state=old_state, new_state=new_state,
            actor=actor, summary=_summary(alert, kind, areas, actor=actor, old_state=old_state),
            created_at=at)).inserted_primary_key
        assert key is not None
        made.append(int(key[0]))
        _queue_deliveries(conn, int(key[0]), subs, at)
    return made


def _queue_deliveries(conn: Connection, notification_id: int, subs: Sequence[Any],
                      at: datetime) -> None:
    # One delivery per address, in the language of the first subscription that gave it (one
    # made before schema 10 has none: its account's, else the deployment's when sent).
    targets: dict[tuple[str, str], str | None] = {}
    for channel, field in (("email", "email"), ("webhook", "webhook_url")):
        for s in subs:
            if getattr(s, field):
                targets.setdefault((channel, getattr(s, field)),
                                   s.language or s.account_language)
    if targets:
        conn.execute(insert(t.deliveries), [
            {"notification_id": notification_id, "channel": channel, "target": target,
             "status": "pending", "attempts": 0, "next_attempt_at": at, "created_at": at,
             "language": language}
            for (channel, target), language in targets.items()])
