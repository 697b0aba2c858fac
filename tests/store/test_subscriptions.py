"""Following areas: the inbox written with each change, and delivery by SMTP and webhook.

SMTP is a real aiosmtpd server on 127.0.0.1 (a free port); the webhook receiver is
``http.server`` in a thread on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from shapely.geometry import box
from sqlalchemy import create_engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from geo.auth import ScryptParams
from geo.errors import SchemaError, StaleVersionError, TransitionError
from geo.i18n import Translator, localize
from geo.store import (
    AlertChange,
    SmtpConfig,
    apply_changes,
    deliver_pending,
    get_alert,
    inbox,
    inbox_groups,
    list_subscriptions,
    mark_read,
    mark_read_group,
    merge_candidates,
    migrations,
    open_store,
    subscribe,
    unread_count,
    unsubscribe,
    update_alert,
)
from geo.store import tables as t
from geo.store.engine import read_tx
from geo.store.merge import Look
from geo.store.subscriptions import (
    DIGEST_MAX,
    FIRST_RETRY_S,
    MAX_ATTEMPTS,
    webhook_secret_from_env,
)
from geo.store.users import create_user, set_language
from tests.store.conftest import SmtpSink, candidates, free_port

AREA = box(-75.0, -13.0, -74.0, -12.0)  # around the VRAEM, Peru
INSIDE = {"lon": -74.5, "lat": -12.5}
OUTSIDE = {"lon": -65.1, "lat": -16.9}  # Bolivia
HOSTILE = '<script>alert(1)</script>\r\nBcc: evil@example.org\r\n\r\n<b>injected</b>'


def _merge(store, *places: dict[str, float], reason: str = "1.0 km long, 25 m wide",
           scene: str = "s1") -> list[int]:
    """Merge one strip per place; return the created alert ids in the order of ``places``."""
    rows = [{**p, "scene_id": scene, "date": "2024-05-01", "reason": reason} for p in places]
    created = merge_candidates(store, candidates(rows)).created
    at = {(round(a.centroid_lon, 3), round(a.centroid_lat, 3)): a.id
          for a in (get_alert(store, i) for i in created)}
    return [at[(round(p["lon"], 3), round(p["lat"], 3))] for p in places]


def _deliveries(store) -> list[dict[str, Any]]:
    with read_tx(store) as conn:
        return [dict(r) for r in conn.execute(
            select(t.deliveries).order_by(t.deliveries.c.id)).mappings()]


# -- inbox ---------------------------------------------------------------------------------------

def test_a_new_alert_inside_a_followed_area_reaches_the_inbox(store):
    sub = subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA)
    assert list_subscriptions(store, user="Ana") == [sub]
    inside, outside = _merge(store, INSIDE, OUTSIDE)
    got = inbox(store, "Ana")
    assert [(n.alert_id, n.kind, n.area_name) for n in got] == [(inside, "new_alert", "VRAEM")]
    assert f"#{inside}" in got[0].summary
    assert "(PE)" in got[0].summary
    assert unread_count(store, "Ana") == 1
    assert inbox(store, "Luis") == []
    assert _deliveries(store) == []  # no e-mail, no webhook: the inbox only
    assert outside not in [n.alert_id for n in got]


def test_a_state_change_reaches_followers_but_not_its_author(store):
    (alert_id,) = _merge(store, INSIDE)
    subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA)
    subscribe(store, user="Luis", area_name="Peru south", geometry=box(-76, -14, -73, -11))
    alert = get_alert(store, alert_id)
    update_alert(store, AlertChange(alert_id, alert.version, state="under_review"),
                 actor="Luis")
    (note,) = inbox(store, "Ana")
    assert (note.kind, note.old_state, note.new_state, note.actor) == (
        "state_change", "new", "under_review", "Luis")
    assert "moved from new to under_review by Luis" in note.summary
    assert inbox(store, "Luis") == []  # nobody is told about their own verdict
    # A comment or an assignment is not a state change.
    alert = get_alert(store, alert_id)
    update_alert(store, AlertChange(alert_id, alert.version, assignee="Luis", comment="mine"),
                 actor="Luis")
    assert len(inbox(store, "Ana")) == 1


def _gone(alert_id: int, scene: str, date: str) -> Look:
    """Return a clear look of a scene that did not find the strip."""
    return Look(scene_id=scene, observed_at=datetime.fromisoformat(f"{date}T15:00:00+00:00"),
                geometry=None, clear_share=0.95, alert_id=alert_id)


def test_a_strip_destroyed_or_reopened_on_the_imagery_reaches_followers(store, smtp_server):
    smtp, sink = smtp_server
    site = {**INSIDE, "scene_id": "s1", "date": "2024-05-01", "state": "active"}
    (alert_id,) = merge_candidates(store, candidates([site])).created
    subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA, email="ana@example.org")
    # seen again: active, which nobody needs to hear of
    merge_candidates(store, candidates([{**site, "scene_id": "s2", "date": "2024-06-01"}]))
    assert inbox(store, "Ana") == []
    # a clear scene without it: destroyed, told in the detector run's transaction
    merge_candidates(store, candidates([]), looks=[_gone(alert_id, "s3", "2024-07-01")],
                     actor="detector (job 7 of ana)")
    (note,) = inbox(store, "Ana")
    assert (note.kind, note.alert_id, note.old_state, note.new_state) == (
        "imagery_change", alert_id, "active", "destroyed")
    assert note.summary == (f"Runway alert #{alert_id} in VRAEM (PE) is destroyed on the "
                            "imagery (was active), from detector (job 7 of ana).")
    assert get_alert(store, alert_id).state == "new"  # the review state is the people's
    assert len(deliver_pending(store, smtp=smtp).sent) == 1
    # the same look again changes nothing and tells nobody
    merge_candidates(store, candidates([]), looks=[_gone(alert_id, "s3", "2024-07-01")])
    assert len(inbox(store, "Ana")) == 1
    # found again later: reopened, the signal a field team waits for
    merge_candidates(store, candidates([{**site, "scene_id": "s4", "date": "2024-08-01"}]))
    news = [(n.old_state, n.new_state) for n in inbox(store, "Ana")]
    assert news == [("destroyed", "reopened"), ("active", "destroyed")]  # newest first
    assert len(deliver_pending(store, smtp=smtp).sent) == 1
    bodies = [message_from_bytes(e.content, policy=default_policy) for e in sink.envelopes]
    assert [m["Subject"] for m in bodies] == [
        f"[Atalaya] Runway alert #{alert_id} in VRAEM (PE) is destroyed on the imagery (was "
        "active), from detector (job 7 of ana).",
        f"[Atalaya] Runway alert #{alert_id} in VRAEM (PE) is reopened on the imagery (was "
        "destroyed), from detector."]
    assert "On the imagery: active -> destroyed (from detector (job 7 of ana))" in (
        bodies[0].get_content())


def test_a_new_alert_already_destroyed_on_the_imagery_is_told_once(store):
    """Created by a run that also saw its ground bare later: one new-alert notification."""
    subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA)
    frame = candidates([{**INSIDE, "scene_id": "s1", "date": "2024-05-01"}])
    look = Look(scene_id="s2", observed_at=datetime(2024, 6, 1, tzinfo=UTC),
                geometry=frame.geometry.iloc[0], clear_share=0.9)
    (alert_id,) = merge_candidates(store, frame, looks=[look]).created
    assert get_alert(store, alert_id).detection_state == "destroyed"
    assert [n.kind for n in inbox(store, "Ana")] == ["new_alert"]


def _insert_note(engine: Any, kind: str, alert_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(insert(t.notifications).values(
            user_name="Ana", alert_id=alert_id, kind=kind, area_name="VRAEM", actor="x",
            summary="s", created_at=datetime(2024, 5, 1, tzinfo=UTC)))


def test_a_version_8_store_learns_the_imagery_notifications(store_url, monkeypatch):
    """Migration 9 widens notifications.kind and keeps every notification and delivery."""
    with open_store(store_url) as store:
        subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA, email="ana@example.org")
        (alert_id,) = _merge(store, INSIDE)
        before = [n.summary for n in inbox(store, "Ana")]
        sent = _deliveries(store)
    engine = create_engine(store_url)
    with engine.begin() as conn:  # back to version 8, as released before this change
        with monkeypatch.context() as m:
            m.setattr(t, "NOTIFICATION_KINDS", ("new_alert", "state_change"))
            migrations._notification_kinds(conn)
        conn.execute(delete(t.schema_version).where(t.schema_version.c.version == 9))
    with pytest.raises(IntegrityError, match="ck_kind_allowed"):
        _insert_note(engine, "imagery_change", alert_id)
    engine.dispose()
    with open_store(store_url) as store:  # start-up migrates it
        assert [n.summary for n in inbox(store, "Ana")] == before
        assert _deliveries(store) == sent
        with read_tx(store) as conn:
            assert 9 in set(conn.execute(select(t.schema_version.c.version)).scalars())
        engine = create_engine(store_url)
        _insert_note(engine, "imagery_change", alert_id)
        with pytest.raises(IntegrityError, match="ck_kind_allowed"):
            _insert_note(engine, "gossip", alert_id)
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        engine.dispose()
        assert [n.kind for n in inbox(store, "Ana")] == ["imagery_change", "new_alert"]


def test_a_version_9_store_learns_the_language_of_emails(store_url, smtp_server):
    """Migration 10 adds the language; what was followed before keeps English e-mails."""
    smtp, sink = smtp_server
    with open_store(store_url) as store:
        subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA, email="ana@example.org")
        _merge(store, INSIDE)
    engine = create_engine(store_url)
    with engine.begin() as conn:  # back to version 9, as released before this change
        for table in ("subscriptions", "deliveries"):
            conn.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN language")
        conn.execute(delete(t.schema_version).where(t.schema_version.c.version == 10))
    engine.dispose()
    with open_store(store_url) as store:  # start-up migrates it
        with read_tx(store) as conn:
            assert 10 in set(conn.execute(select(t.schema_version.c.version)).scalars())
        assert [r["language"] for r in _deliveries(store)] == [None]
        (sub,) = list_subscriptions(store, user="Ana")
        assert sub.language == "en"
        assert len(deliver_pending(store, smtp=smtp).sent) == 1
        (mail,) = _mails(sink)["ana@example.org"]
        assert mail["Subject"].startswith("[Atalaya] New runway alert #")
        subscribe(store, user="Ana", area_name="Sur", geometry=box(-76, -14, -73, -11),
                  email="ana@ejemplo.pe", language="es")
        _merge(store, {"lon": -74.2, "lat": -12.2})
        assert len(deliver_pending(store, smtp=smtp).sent) == 2
        assert _mails(sink)["ana@ejemplo.pe"][0]["Subject"].startswith("[Atalaya] Nueva alerta")



def test_an_area_followed_before_languages_writes_in_its_accounts_language(store, smtp_server):
    """Made before schema 10 (no language of its own): the account's language for its pages.

    A subscription that names a language keeps it; a follower without an account language
    gets the deployment's, the language his pages were in (English unless one is given).
    """
    smtp, sink = smtp_server
    create_user(store, "ana", "a long enough pass phrase 42", role="analyst", actor="test",
                params=ScryptParams(ln=4))
    set_language(store, "ana", "pt")
    for user in ("ana", "luis"):  # luis has no account: the deployment's language
        subscribe(store, user=user, area_name="VRAEM", geometry=AREA,
                  email=f"{user}@example.org")
    subscribe(store, user="ana", area_name="Sur", geometry=box(-76, -14, -73, -11),
              email="ana@ejemplo.pe", language="es")
    with store.engine.begin() as conn:  # as migration 10 left the rows made before it
        conn.execute(update(t.subscriptions).where(t.subscriptions.c.area_name == "VRAEM")
                     .values(language=None))
    assert [(s.user, s.area_name, s.language) for s in list_subscriptions(store)] == [
        ("ana", "VRAEM", "pt"), ("luis", "VRAEM", "en"), ("ana", "Sur", "es")]
    assert [s.language for s in list_subscriptions(store, default_language="es")] == [
        "pt", "es", "es"]
    (alert_id,) = _merge(store, INSIDE)
    assert sorted((r["target"], r["language"]) for r in _deliveries(store)) == [
        ("ana@ejemplo.pe", "es"), ("ana@example.org", "pt"), ("luis@example.org", None)]
    assert len(deliver_pending(store, smtp=smtp, default_language="es").sent) == 3
    mails = _mails(sink)
    assert mails["ana@example.org"][0]["Subject"].startswith(
        f"[Atalaya] Novo alerta de pista #{alert_id} em VRAEM")
    assert mails["ana@ejemplo.pe"][0]["Subject"].startswith(
        f"[Atalaya] Nueva alerta de pista #{alert_id} en ")
    assert mails["luis@example.org"][0]["Subject"].startswith(
        f"[Atalaya] Nueva alerta de pista #{alert_id} en VRAEM")
    (_other,) = _merge(store, {"lon": -74.3, "lat": -12.3})  # no language given: English
    assert len(deliver_pending(store, smtp=smtp).sent) == 3
    assert _mails(sink)["luis@example.org"][1]["Subject"].startswith(
        f"[Atalaya] New runway alert #{_other} in VRAEM")


def test_refused_or_rolled_back_changes_notify_nobody(store):
    first, second = _merge(store, INSIDE, {"lon": -74.2, "lat": -12.2})
    subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA)
    stale = get_alert(store, first).version
    update_alert(store, AlertChange(first, stale, state="under_review"), actor="Luis")
    assert len(inbox(store, "Ana")) == 1
    with pytest.raises(StaleVersionError):
        update_alert(store, AlertChange(first, stale, state="dismissed"), actor="Marta")
    with pytest.raises(TransitionError):
        update_alert(store, AlertChange(second, 1, state="destroyed"), actor="Marta")
    # A batch whose second change fails rolls back the first one's notification too.
    with pytest.raises(StaleVersionError):
        apply_changes(store, [AlertChange(second, 1, state="dismissed"),
                              AlertChange(first, stale, state="confirmed")], actor="Marta")
    assert len(inbox(store, "Ana")) == 1
    assert get_alert(store, second).state == "new"


def test_mark_read_and_unsubscribe(store):
    sub = subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA)
    _merge(store, INSIDE, {"lon": -74.2, "lat": -12.2})
    first, second = inbox(store, "Ana")
    assert mark_read(store, "Luis", [first.id]) == 0  # not Luis's
    assert mark_read(store, "Ana", [first.id]) == 1
    assert [n.id for n in inbox(store, "Ana", unread_only=True)] == [second.id]
    assert mark_read(store, "Ana") == 1
    assert unread_count(store, "Ana") == 0
    with pytest.raises(SchemaError):
        unsubscribe(store, sub.id, user="Luis")
    unsubscribe(store, sub.id, user="Ana")
    assert list_subscriptions(store, user="Ana") == []
    _merge(store, {"lon": -74.8, "lat": -12.8}, scene="s2")
    assert len(inbox(store, "Ana")) == 2


@pytest.mark.parametrize(("field", "value"), [
    pytest.param("email", "ana@example.org\r\nBcc: evil@example.org", id="crlf-email"),
    pytest.param("email", "not an address", id="no-at"),
    pytest.param("webhook_url", "file:///etc/passwd", id="file-url"),
    pytest.param("webhook_url", "javascript:alert(1)", id="javascript-url"),
    pytest.param("webhook_url", "http://exa mple.org/x", id="space-url"),
    pytest.param("webhook_url", "http:///nohost", id="no-host"),
])
def test_bad_targets_are_refused_at_subscribe_time(store, field, value):
    with pytest.raises(SchemaError):
        subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA, **{field: value})
    assert list_subscriptions(store) == []


def test_an_area_must_be_a_polygon_in_degrees(store):
    with pytest.raises(SchemaError, match="degrees"):
        subscribe(store, user="Ana", area_name="metres", geometry=box(500000, 8600000,
                                                                        510000, 8610000))
    with pytest.raises(SchemaError, match="Polygon"):
        subscribe(store, user="Ana", area_name="line", geometry=AREA.exterior)
    # the rule of every area of interest, in words the app shows in the reader's language
    with pytest.raises(SchemaError) as info:
        subscribe(store, user="Ana", area_name="metres", geometry=box(500000, 8600000,
                                                                        510000, 8610000))
    assert "latitud y longitud" in localize(info.value, Translator("es"))
    with pytest.raises(SchemaError) as info:
        subscribe(store, user="Ana", area_name=" ", geometry=AREA)
    assert localize(info.value, Translator("es")) == "el área necesita un nombre"


# -- delivery ------------------------------------------------------------------------------------

def test_an_email_arrives_with_the_right_subject_and_body(store, smtp_server):
    smtp, sink = smtp_server
    subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA, email="ana@example.org")
    (alert_id,) = _merge(store, INSIDE)
    report = deliver_pending(store, smtp=smtp)
    assert len(report.sent) == 1
    assert report.failed == []
    (envelope,) = sink.envelopes
    assert envelope.mail_from == "atalaya@example.org"
    assert envelope.rcpt_tos == ["ana@example.org"]
    msg = message_from_bytes(envelope.content, policy=default_policy)
    assert msg["Subject"].startswith(f"[Atalaya] New runway alert #{alert_id} in VRAEM (PE)")
    assert msg.get_content_type() == "text/plain"
    body = msg.get_content()
    assert f"Alert: #{alert_id}" in body
    assert "Area you follow: VRAEM" in body
    (row,) = _deliveries(store)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("sent", 1, None)
    assert deliver_pending(store, smtp=smtp).sent == []  # sent once, not again
    assert len(sink.envelopes) == 1


def _mails(sink: SmtpSink) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for e in sink.envelopes:
        out.setdefault(e.rcpt_tos[0], []).append(message_from_bytes(e.content,
                                                                     policy=default_policy))
    return out


def test_emails_come_in_the_language_the_area_was_followed_in(store, smtp_server):
    smtp, sink = smtp_server
    subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA, email="ana@example.org",
              language="es")
    subscribe(store, user="Bia", area_name="VRAEM", geometry=AREA, email="bia@example.org",
              language="pt")
    subscribe(store, user="Luis", area_name="VRAEM", geometry=AREA, email="luis@example.org")
    (alert_id,) = _merge(store, INSIDE, reason="1.1 km long, 25 m wide")
    assert len(deliver_pending(store, smtp=smtp).sent) == 3
    mails = _mails(sink)
    (ana,), (bia,), (luis,) = (mails[f"{u}@example.org"] for u in ("ana", "bia", "luis"))
    assert ana["Subject"].startswith(
        f"[Atalaya] Nueva alerta de pista #{alert_id} en VRAEM (PE): puntuación 0,")
    body = ana.get_content().replace("\r\n", "\n")
    assert ", prioridad " in body
    assert " m de largo. 1,1 km de largo, 25 m de ancho\n" in body
    assert f"Alerta: #{alert_id}\n" in body
    assert "Área que sigue: VRAEM\n" in body
    assert "Recibe este mensaje porque sigue esta área en Atalaya" in body
    assert not any(w in body for w in ("runway", "priority", "Area you follow", "long"))
    assert bia["Subject"].startswith(f"[Atalaya] Novo alerta de pista #{alert_id} em VRAEM (PE)")
    assert "1,1 km de comprimento" in bia.get_content()
    # English is what it always was: the stored summary
    assert luis["Subject"].startswith(f"[Atalaya] New runway alert #{alert_id} in VRAEM (PE)")
    assert luis.get_content().startswith(inbox(store, "Luis")[0].summary + "\r\n")

    alert = get_alert(store, alert_id)
    update_alert(store, AlertChange(alert_id, alert.version, state="under_review"),
                 actor="Luis")
    more = _merge(store, {"lon": -74.4, "lat": -12.4}, {"lon": -74.3, "lat": -12.3})
    assert len(deliver_pending(store, smtp=smtp).sent) == 3 + 3 + 2  # Luis: not his verdict
    (_, ana), (_, bia) = _mails(sink)["ana@example.org"], _mails(sink)["bia@example.org"]
    assert ana["Subject"] == "[Atalaya] 3 avisos: 2 alertas nuevas, 1 cambio de estado"
    assert bia["Subject"] == "[Atalaya] 3 avisos: 2 novos alertas, 1 mudança de estado"
    body = ana.get_content().replace("\r\n", "\n")
    assert body.startswith("3 avisos en áreas que sigue (VRAEM), ")
    assert "Alertas nuevas (2)\n" in body
    assert "Cambios de estado (1)\n" in body
    assert (f"- La alerta de pista #{alert_id} en VRAEM (PE) pasó de nueva a en revisión "
            "por Luis.\n") in body
    for new_id in more:
        assert f"- Nueva alerta de pista #{new_id} en VRAEM (PE): puntuación " in body
    assert "estas áreas" in body


def test_the_inbox_groups_each_event_and_keeps_the_rest_in_sight(store):
    subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA)
    subscribe(store, user="Ana", area_name="Peru south", geometry=box(-76, -14, -73, -11))
    first = _merge(store, INSIDE)  # an earlier run: one alert
    run = _merge(store, *({"lon": -74.9 + 0.05 * k, "lat": -12.7} for k in range(12)))
    verdicts = [AlertChange(i, get_alert(store, i).version, state="dismissed") for i in run[:3]]
    apply_changes(store, verdicts, actor="Luis")  # one batch of verdicts
    mark_read(store, "Ana", [inbox(store, "Ana")[-1].id])  # the oldest: the first run's
    groups = inbox_groups(store, "Ana", members=5)
    assert [(g.kind, g.count, g.unread) for g in groups] == [
        ("state_change", 3, 3), ("new_alert", 12, 12), ("new_alert", 1, 0)]
    verdict, created, old = groups
    assert (verdict.actor, verdict.old_state, verdict.new_state) == ("Luis", "new", "dismissed")
    assert verdict.area_name == created.area_name == "VRAEM, Peru south"
    assert sorted(n.alert_id for n in verdict.notes) == sorted(run[:3])
    assert len(created.notes) == 5  # the newest five of twelve
    assert [n.alert_id for n in created.notes] == sorted(run, reverse=True)[:5]
    assert [n.alert_id for n in old.notes] == first
    assert inbox_groups(store, "Ana", limit=1) == groups[:1]
    assert inbox_groups(store, "Nobody") == []
    assert mark_read_group(store, "Ana", created) == 12  # all, not only the five listed
    assert mark_read_group(store, "Luis", verdict) == 0  # only one's own
    assert [(g.count, g.unread) for g in inbox_groups(store, "Ana")] == [(3, 3), (12, 0),
                                                                          (1, 0)]
    assert unread_count(store, "Ana") == 3


def test_a_followed_area_must_name_a_known_language(store):
    with pytest.raises(SchemaError, match="language of e-mails"):
        subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA, language="fr")


def test_notifications_due_together_go_as_one_digest_per_person_and_address(
        store, smtp_server, webhook):
    smtp, sink = smtp_server
    url, receiver = webhook
    subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA, email="ana@example.org",
              webhook_url=url)
    subscribe(store, user="Ana", area_name="Peru south", geometry=box(-76, -14, -73, -11),
              email="ana@example.org")
    subscribe(store, user="Luis", area_name="VRAEM", geometry=AREA, email="luis@example.org")
    places = [{"lon": -74.9 + 0.1 * k, "lat": -12.5} for k in range(5)]
    ids = _merge(store, *places)  # a detection run: five new alerts at once
    alert = get_alert(store, ids[0])
    update_alert(store, AlertChange(ids[0], alert.version, state="under_review"), actor="Luis")
    report = deliver_pending(store, smtp=smtp, limit=3)
    # The first three deliveries are Ana's e-mail and webhook and Luis's e-mail of the first
    # alert. With each e-mail come the others due to that person at that address: Ana's 6
    # (5 new, 1 state change) in one message, Luis's 5 in another (he is not told of his own
    # verdict). Webhooks stay one call per notification: the others wait for the next call.
    assert len(report.sent) == 6 + 5 + 1
    assert report.failed == report.put_off == []
    assert len(receiver.received) == 1
    assert len(deliver_pending(store, smtp=smtp).sent) == 5
    assert len(receiver.received) == 6
    mails = {e.rcpt_tos[0]: message_from_bytes(e.content, policy=default_policy)
             for e in sink.envelopes}
    assert len(sink.envelopes) == 2
    ana, luis = mails["ana@example.org"], mails["luis@example.org"]
    assert ana["Subject"] == "[Atalaya] 6 notifications: 5 new alerts, 1 state change"
    assert luis["Subject"] == "[Atalaya] 5 notifications: 5 new alerts"
    body = ana.get_content().replace("\r\n", "\n")
    assert body.startswith("6 notifications in areas you follow (VRAEM, Peru south), 20")
    assert body.count(" UTC.") == 1
    assert "New alerts (5)\n" in body
    assert "State changes (1)\n" in body
    for alert_id in ids:
        assert f"- New runway alert #{alert_id} in VRAEM, Peru south (PE)" in body
    assert (f"- Runway alert #{ids[0]} in VRAEM, Peru south (PE) moved from new to "
            "under_review by Luis.") in body
    assert body.index("New alerts") < body.index("State changes")
    sent = [r for r in _deliveries(store) if r["target"] == "ana@example.org"]
    assert {r["status"] for r in sent} == {"sent"}
    assert ana["X-Atalaya-Delivery"] == ",".join(str(r["id"]) for r in sent)
    assert deliver_pending(store, smtp=smtp).sent == []  # nothing twice
    assert len(sink.envelopes) == 2
    assert {r["status"] for r in _deliveries(store)} == {"sent"}


def test_a_digest_holds_at_most_digest_max_notifications(store, smtp_server):
    smtp, sink = smtp_server
    subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA, email="ana@example.org")
    places = [{"lon": -74.95 + 0.9 * k / (DIGEST_MAX + 2), "lat": -12.5}
              for k in range(DIGEST_MAX + 3)]
    _merge(store, *places)
    report = deliver_pending(store, smtp=smtp)
    assert len(report.sent) == DIGEST_MAX + 3
    sizes = sorted(len(message_from_bytes(e.content, policy=default_policy)
                       ["X-Atalaya-Delivery"].split(",")) for e in sink.envelopes)
    assert sizes == [3, DIGEST_MAX]


def test_hostile_text_cannot_add_headers_or_recipients(store, smtp_server):
    smtp, sink = smtp_server
    subscribe(store, user="Ana", area_name="VRAEM\r\nX-Evil: 1", geometry=AREA,
              email="ana@example.org")
    _merge(store, INSIDE, reason=HOSTILE)
    assert deliver_pending(store, smtp=smtp).failed == []
    (envelope,) = sink.envelopes
    assert envelope.rcpt_tos == ["ana@example.org"]
    msg = message_from_bytes(envelope.content, policy=default_policy)
    assert msg["Bcc"] is None
    assert msg["X-Evil"] is None
    assert "\n" not in msg["Subject"]
    assert "\r" not in msg["Subject"]
    assert msg.get_content_type() == "text/plain"  # the <script> is text, never markup
    assert not msg.is_multipart()
    assert "<script>alert(1)</script> Bcc: evil@example.org <b>injected</b>" in msg.get_content()
    headers = envelope.content.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    assert "\nBcc:" not in headers
    assert "\nX-Evil:" not in headers


def test_smtp_down_marks_failed_retries_later_and_never_blocks_a_verdict(store):
    port = free_port()  # nothing listens here yet
    smtp = SmtpConfig(host="127.0.0.1", port=port, sender="atalaya@example.org", timeout_s=2)
    subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA, email="ana@example.org")
    subscribe(store, user="Bea", area_name="Peru", geometry=AREA, email="bea@example.org")
    (alert_id,) = _merge(store, INSIDE)
    alert = get_alert(store, alert_id)
    done = update_alert(store, AlertChange(alert_id, alert.version, state="under_review"),
                        actor="Luis")
    t0 = datetime.now(UTC)
    report = deliver_pending(store, smtp=smtp, now=t0)  # does not raise
    # Ana's digest (new alert, state change) finds the server down; Bea's is not tried: it
    # waits as long, without using up a try.
    assert get_alert(store, alert_id).state == "under_review" == done.state
    rows = {r["id"]: r for r in _deliveries(store)}
    ana = [i for i, r in rows.items() if r["target"] == "ana@example.org"]
    bea = [i for i, r in rows.items() if r["target"] == "bea@example.org"]
    assert (report.sent, sorted(report.failed), sorted(report.put_off)) == ([], ana, bea)
    for i in ana:
        assert (rows[i]["status"], rows[i]["attempts"]) == ("failed", 1)
        assert rows[i]["last_error"].startswith("unreachable: ConnectionRefusedError")
    for i in bea:
        assert (rows[i]["status"], rows[i]["attempts"], rows[i]["last_error"]) == (
            "pending", 0, None)
    retry_at = t0 + timedelta(seconds=FIRST_RETRY_S)
    assert {r["next_attempt_at"] for r in rows.values()} == {retry_at}
    # Not due yet: nothing is tried.
    assert deliver_pending(store, smtp=smtp, now=t0 + timedelta(seconds=5)).failed == []
    # The server comes up; the retry goes out, one digest per person.
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        later = deliver_pending(store, smtp=smtp, now=t0 + timedelta(seconds=FIRST_RETRY_S + 1))
    finally:
        controller.stop()
    assert len(later.sent) == 4
    assert sorted(e.rcpt_tos[0] for e in sink.envelopes) == ["ana@example.org",
                                                             "bea@example.org"]
    got = {r["id"]: (r["status"], r["attempts"]) for r in _deliveries(store)}
    assert got == dict.fromkeys(ana, ("sent", 2)) | dict.fromkeys(bea, ("sent", 1))


def test_failures_back_off_and_stop_after_max_attempts(store):
    smtp = SmtpConfig(host="127.0.0.1", port=free_port(), sender="a@example.org", timeout_s=2)
    subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA, email="ana@example.org")
    _merge(store, INSIDE)
    at, waits = datetime.now(UTC), []
    for _ in range(MAX_ATTEMPTS):
        assert len(deliver_pending(store, smtp=smtp, now=at).failed) == 1
        (row,) = _deliveries(store)
        if row["next_attempt_at"] is None:
            break
        waits.append((row["next_attempt_at"] - at).total_seconds())
        at = row["next_attempt_at"]
    assert waits == [30, 60, 120, 240, 480, 960, 1920]
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("failed", 8, None)
    assert deliver_pending(store, smtp=smtp, now=at + timedelta(days=1)).failed == []


def test_a_time_budget_puts_the_rest_off(store, webhook):
    url, receiver = webhook
    subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA, webhook_url=url)
    _merge(store, INSIDE, {"lon": -74.2, "lat": -12.2})
    report = deliver_pending(store, smtp=None, budget_s=-1.0)  # already spent
    assert (report.sent, report.failed, len(report.put_off)) == ([], [], 2)
    assert receiver.received == []
    assert len(deliver_pending(store, smtp=None).sent) == 2  # still due, sent next time


def test_email_waits_while_no_smtp_server_is_configured(store, smtp_server):
    smtp, _sink = smtp_server
    subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA, email="ana@example.org")
    _merge(store, INSIDE)
    assert deliver_pending(store, smtp=None).sent == []
    assert [r["status"] for r in _deliveries(store)] == ["pending"]
    assert len(deliver_pending(store, smtp=smtp).sent) == 1


def test_a_webhook_gets_the_json_and_its_signature(store, webhook, monkeypatch):
    url, receiver = webhook
    monkeypatch.setenv("ATALAYA_WEBHOOK_SECRET", "s3cret")
    secret = webhook_secret_from_env()
    subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA, webhook_url=url)
    (alert_id,) = _merge(store, INSIDE, reason=HOSTILE)
    report = deliver_pending(store, smtp=None, webhook_secret=secret, http_timeout=5)
    assert len(report.sent) == 1
    ((headers, body, path),) = receiver.received
    assert path == "/hook"
    doc = json.loads(body)
    assert (doc["kind"], doc["alert_id"], doc["user"], doc["area"]) == (
        "new_alert", alert_id, "Ana", "VRAEM")
    assert "\n" not in doc["summary"]
    assert "<script>" in doc["summary"]
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Atalaya-Signature"] == f"sha256={expected}"
    assert headers["X-Atalaya-Delivery"] == str(doc["delivery_id"])
    assert headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("status", [500, 302], ids=["server-error", "redirect"])
def test_a_webhook_error_or_redirect_is_a_failed_try(store, webhook, status):
    url, receiver = webhook
    receiver.status = status
    subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA, webhook_url=url)
    _merge(store, INSIDE)
    report = deliver_pending(store, smtp=None, http_timeout=5)
    assert report.sent == []
    assert len(report.failed) == 1
    (row,) = _deliveries(store)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert str(status) in row["last_error"]
    assert len(receiver.received) == 1  # the redirect was not followed
