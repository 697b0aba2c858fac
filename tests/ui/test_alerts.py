"""The alert queue page under Streamlit's test harness: filters, following an area, the inbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from shapely.geometry import box
from streamlit.testing.v1 import AppTest

from geo.areas import delete_area, read_areas, save_area
from geo.auth import Role, Session
from geo.store import (
    AlertChange,
    get_alert,
    inbox,
    list_alerts,
    list_subscriptions,
    merge_candidates,
    open_store,
    update_alert,
)
from geo.store.merge import Look
from tests.store.conftest import candidates as candidates_frame
from ui import state


def _page() -> None:
    from ui.alerts import render_alerts

    render_alerts()


@pytest.fixture
def world(own_world: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Use a copy of the sample world with its own SQLite store, no mail or webhook set."""
    for name in ("ATALAYA_SMTP_HOST", "ATALAYA_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return own_world


def _app(reviewer: str = "") -> AppTest:
    at = AppTest.from_function(_page, default_timeout=90)
    at.session_state[state.LANGUAGE] = "en"
    at.session_state[state.REVIEWER] = reviewer
    if reviewer:
        at.session_state[state.SESSION] = Session.start(reviewer, Role.ANALYST, datetime.now(UTC))
    return at.run()


def _caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if "alerts, those awaiting a verdict" in c.value)


def test_an_area_followed_from_the_spanish_page_sends_spanish_emails(world):
    url = f"sqlite:///{world / 'atalaya.sqlite3'}"
    save_area(world, "Zona", box(-80, -20, -60, 0))
    at = AppTest.from_function(_page, default_timeout=90)
    at.session_state[state.LANGUAGE] = "es"
    at.session_state[state.REVIEWER] = "Ana"
    at.session_state[state.SESSION] = Session.start("Ana", Role.ANALYST, datetime.now(UTC))
    at.run()
    email = at.text_input(key=state.FOLLOW_EMAIL)
    assert email.help == "Los correos se escriben en Español, el idioma de esta página."
    at.selectbox(key=state.FOLLOW_AREA).set_value("Zona")
    email.set_value("ana@ejemplo.pe")
    next(b for b in at.button if b.label == "Seguir esta área").click()
    at.run()
    assert not at.exception
    with open_store(url) as store:
        (sub,) = list_subscriptions(store, user="Ana")
    assert (sub.email, sub.language) == ("ana@ejemplo.pe", "es")
    assert any(x.value == "Zona → ana@ejemplo.pe (Español)" for x in at.text)


def test_an_area_followed_before_languages_lists_the_deployments_language(world, monkeypatch):
    """No language of its own (schema < 10) nor on the account: the deployment's, as sent."""
    from sqlalchemy import update

    from geo.store import subscribe
    from geo.store import tables as t

    url = f"sqlite:///{world / 'atalaya.sqlite3'}"
    with open_store(url) as store:
        subscribe(store, user="Ana", area_name="Zona", geometry=box(-80, -20, -60, 0),
                  email="ana@example.org")
        with store.engine.begin() as conn:
            conn.execute(update(t.subscriptions).values(language=None))
    monkeypatch.setenv("ATALAYA_LANGUAGE", "pt")
    at = _app("Ana")  # the page itself in English
    assert not at.exception
    assert any(x.value == "Zona → ana@example.org (Português)" for x in at.text)


def test_follow_an_area_then_a_verdict_there_reaches_the_inbox(world):
    at = _app()
    assert not at.exception
    assert [e.label for e in at.expander][:2] == ["Inbox", "Follow an area"]
    url = f"sqlite:///{world / 'atalaya.sqlite3'}"
    with open_store(url) as store:
        target = list_alerts(store)[0]
    x, y = target.centroid_lon, target.centroid_lat
    save_area(world, "Strip area", box(x - 0.01, y - 0.01, x + 0.01, y + 0.01))

    at = _app("Ana")
    assert not at.exception
    at.selectbox(key=state.FOLLOW_AREA).set_value("Strip area")
    next(b for b in at.button if b.label == "Follow this area").click()
    at.run()
    assert not at.exception
    assert any("You follow Strip area now." in s.value.replace("\\", "") for s in at.success)
    with open_store(url) as store:
        (sub,) = list_subscriptions(store, user="Ana")
        update_alert(store, AlertChange(target.id, target.version, state="under_review"),
                     actor="Luis")
    at.run()
    assert at.expander[0].label == "Inbox (1 unread)"
    assert any(f"Alert #{target.id} in Strip area: New → Under review, by Luis" in x.value
               for x in at.text)
    assert (sub.area_name, sub.language) == ("Strip area", "en")
    # Open it from the inbox: the alert opens and the entry is read.
    with open_store(url) as store:
        (note,) = inbox(store, "Ana")
    at.button(key=f"{state.INBOX_OPEN}:{note.id}").click()
    at.run()
    assert not at.exception
    assert at.query_params["alert"] == str(target.id)
    with open_store(url) as store:
        assert inbox(store, "Ana", unread_only=True) == []
    # A detection run later sees its ground clear and the strip gone: the inbox says so.
    gone = Look(scene_id="later", observed_at=datetime(2030, 1, 1, tzinfo=UTC), geometry=None,
                clear_share=1.0, alert_id=target.id)
    with open_store(url) as store:
        merge_candidates(store, candidates_frame([]), looks=[gone], actor="detector")
        assert get_alert(store, target.id).detection_state == "destroyed"
    at = _app("Ana")  # back at the queue, where the inbox is
    assert not at.exception
    assert at.expander[0].label == "Inbox (1 unread)"
    assert any(x.value.startswith(f"● Alert #{target.id} in Strip area: ")
               and x.value.endswith(" → Destroyed on the imagery") for x in at.text)


def test_a_detection_runs_new_alerts_are_one_inbox_line(world):
    url = f"sqlite:///{world / 'atalaya.sqlite3'}"
    save_area(world, "Chaco", box(-61.0, -21.0, -59.0, -19.0))
    at = _app("Ana")
    at.selectbox(key=state.FOLLOW_AREA).set_value("Chaco")
    next(b for b in at.button if b.label == "Follow this area").click()
    at.run()
    run = [{"lon": -60.5 + 0.05 * k, "lat": -20.0, "scene_id": "run7", "date": "2024-05-01"}
           for k in range(25)]
    with open_store(url) as store:
        created = merge_candidates(store, candidates_frame(run), actor="detector (job 7)").created
    at.run()
    assert not at.exception
    assert at.expander[0].label == "Inbox (25 unread)"
    assert [x.value for x in at.text if "new alert" in x.value] == ["● 25 new alerts in Chaco"]
    assert any(c.value.endswith(" UTC · detector (job 7)") for c in at.caption)
    newest = max(created)
    with open_store(url) as store:
        note = next(n for n in inbox(store, "Ana") if n.alert_id == newest)
    listed = [b for b in at.button if b.key and b.key.startswith(f"{state.INBOX_OPEN}:")]
    assert len(listed) == 20  # the newest twenty, the rest through the queue's Area filter
    assert any("The newest 20 of 25" in c.value for c in at.caption)
    at.button(key=f"{state.INBOX_OPEN}:{note.id}").click().run()
    assert at.query_params["alert"] == str(newest)
    at = _app("Ana")
    assert at.expander[0].label == "Inbox (24 unread)"
    at.button(key=next(b.key for b in at.button
                       if b.key and b.key.startswith(state.INBOX_READ_GROUP))).click().run()
    assert not at.exception
    assert at.expander[0].label == "Inbox"  # all 25, listed or not
    assert [x.value for x in at.text if "new alert" in x.value] == ["25 new alerts in Chaco"]


def test_country_and_area_filters_narrow_the_queue(world):
    url = f"sqlite:///{world / 'atalaya.sqlite3'}"
    at = _app("Ana")
    with open_store(url) as store:
        every = list_alerts(store)
        target = every[0]
    assert _caption(at).startswith(f"{len(every)} of {len(every)}")
    countries = sorted({a.country for a in every if a.country})
    assert countries, "the sample world's strips lie in countries"
    at.multiselect(key=state.QUEUE_COUNTRIES).set_value([countries[0]]).run()
    assert not at.exception
    expected = sum(a.country == countries[0] for a in every)
    assert _caption(at).startswith(f"{expected} of {len(every)}")
    # the queue names the country as the filter does (it showed the bare code)
    from geo.i18n import Translator

    shown = set(at.dataframe[0].value["Country"])
    assert shown == {Translator("en").country(countries[0])}, shown
    # scores and lengths stay numbers (sortable); scores in the browser's convention ("0,99"
    # in a Spanish browser, "0.99" in Peru), lengths with no thousands separator ("1559": an
    # English browser's "1,559" reads as 1.559 m beside a Spanish page's "1,6 km")
    config = json.loads(at.dataframe[0].proto.columns)
    assert {c: config[c]["type_config"]["format"] for c in ("Score", "Length (m)")} == {
        "Score": "localized", "Length (m)": "%d"}
    at.multiselect(key=state.QUEUE_COUNTRIES).set_value([]).run()
    x, y = target.centroid_lon, target.centroid_lat
    save_area(world, "Strip area", box(x - 0.01, y - 0.01, x + 0.01, y + 0.01))
    at.run()
    at.selectbox(key=state.QUEUE_AREA).set_value("Strip area").run()
    assert not at.exception
    assert _caption(at).startswith(f"1 of {len(every)}")
    at.toggle(key=state.QUEUE_MINE).set_value(True).run()
    assert _caption(at).startswith(f"0 of {len(every)}")
    # The chosen area is deleted meanwhile: the filter falls back to anywhere, no error.
    at.toggle(key=state.QUEUE_MINE).set_value(False).run()
    # Keep one area: deleting the last one leaves a file geo.areas.read_areas refuses.
    save_area(world, "Elsewhere", box(0, 0, 1, 1))
    areas = read_areas(world)
    delete_area(world, areas.loc[areas["name"] == "Strip area", "area_id"].iloc[0])
    at.run()
    assert not at.exception
    assert _caption(at).startswith(f"{len(every)} of {len(every)}")


def test_an_alert_shows_where_a_clear_scene_saw_its_ground_without_it(world):
    from geo.store import Look, merge_candidates
    from tests.store.conftest import candidates

    url = f"sqlite:///{world / 'atalaya.sqlite3'}"
    with open_store(url) as store:
        frame = candidates([{"lon": -60.0, "lat": -12.0, "scene_id": "s1",
                             "date": "2024-05-01", "state": "active", "bare_contrast": 0.254}])
        (alert_id,) = merge_candidates(store, frame).created
        merge_candidates(store, candidates([]), looks=[Look(
            "s2", datetime(2024, 6, 1, tzinfo=UTC), frame.geometry.iloc[0], 0.97, alert_id)])
    at = AppTest.from_function(_page, default_timeout=90)
    at.session_state[state.LANGUAGE] = "en"
    at.query_params["alert"] = str(alert_id)
    at.run()
    assert not at.exception
    assert "Destroyed" in [t.value for t in at.text]  # "On the imagery"
    table = next(d.value for d in at.dataframe if "Scene" in d.value.columns)
    assert table[["Date", "Scene", "Contrast with its flanks", "State"]].values.tolist() == [
        ["2024-05-01", "s1", "25 %", "Active"],
        ["2024-06-01", "s2", "—", "Not found: its ground seen clearly (97 %)"]]


def test_the_queue_filters_by_the_strip_on_the_imagery(world):
    url = f"sqlite:///{world / 'atalaya.sqlite3'}"
    at = _app("Ana")
    with open_store(url) as store:
        every = list_alerts(store)
    kinds = {a.detection_state for a in every}
    assert {"active", "destroyed"} <= kinds, "the sample world's strips are in every state"
    at.multiselect(key=state.QUEUE_IMAGERY).set_value(["destroyed"]).run()
    assert not at.exception
    gone = [a for a in every if a.detection_state == "destroyed"]
    assert _caption(at).startswith(f"{len(gone)} of {len(every)}")
    table = next(d.value for d in at.dataframe if "On the imagery" in d.value.columns)
    assert set(table["On the imagery"]) == {"Destroyed"}
    assert sorted(table["ID"]) == sorted(str(a.id) for a in gone)


def test_the_history_reads_in_the_readers_language_newest_first(world):
    """Codes of the audit log (update, state, under_review) become the page's words."""
    from geo.store import add_attachment
    from geo.store.chips import CHIP_KIND
    from tests.store.conftest import candidates

    url = f"sqlite:///{world / 'atalaya.sqlite3'}"
    with open_store(url) as store:
        frame = candidates([{"lon": -60.0, "lat": -12.0, "scene_id": "s1", "date": "2024-05-01"}])
        (alert_id,) = merge_candidates(store, frame, actor="detector (data folder)").created
        add_attachment(store, alert_id, actor="campo", kind=CHIP_KIND, media_type="image/png",
                       content=b"\x89PNG", label="s1 true")
        from geo.store import add_comment

        add_comment(store, alert_id, "[field visit: luis, 2026-12-03 10:00 UTC] verdict: "
                    "confirmed", actor="oficina")
        alert = get_alert(store, alert_id)
        update_alert(store, AlertChange(alert_id, alert.version, state="under_review"),
                     actor="ana")
    at = AppTest.from_function(_page, default_timeout=90)
    at.session_state[state.LANGUAGE] = "es"
    at.query_params["alert"] = str(alert_id)
    at.run()
    assert not at.exception
    history = next(d.value for d in at.dataframe if "Quién" in d.value.columns)
    newest = history[history["Quién"] == "ana"]  # the verdict's lines come first
    assert newest.index.tolist() == list(range(len(newest)))
    state_line = newest[newest["Campo"] == "Estado"].iloc[0]
    assert (state_line["Qué"], state_line["Antes"], state_line["Después"]) == (
        "Modificado", "Nueva", "En revisión")
    assert "Recorte de imagen generado al abrir la alerta" in history["Qué"].tolist()
    assert history.iloc[-1]["Quién"] == "detector (carpeta de datos)"
    assert history.iloc[-1]["Qué"] == "Creada"
    # a field package's comment: its tag in the page's words, in the history and the comments
    tagged = "[visita de campo: luis, 2026-12-03 10:00 UTC] veredicto: Confirmada"
    assert history[history["Quién"] == "oficina"].iloc[0]["Después"] == tagged
    assert tagged in [x.value for x in at.text]


def _a_new_alert_open(world: Path) -> tuple[AppTest, str, int]:
    """Add a new alert to the world's store and open its page as the analyst ana (English)."""
    from tests.store.conftest import candidates

    url = f"sqlite:///{world / 'atalaya.sqlite3'}"
    with open_store(url) as store:
        frame = candidates([{"lon": -60.0, "lat": -12.0, "scene_id": "s1", "date": "2024-05-01"}])
        (alert_id,) = merge_candidates(store, frame, actor="detector (data folder)").created
    at = AppTest.from_function(_page, default_timeout=90)
    at.session_state[state.LANGUAGE] = "en"
    at.session_state[state.REVIEWER] = "ana"
    at.session_state[state.SESSION] = Session.start("ana", Role.ANALYST, datetime.now(UTC))
    at.query_params["alert"] = str(alert_id)
    return at.run(), url, alert_id


def test_the_verdict_buttons_keep_their_places_after_a_verdict(world):
    """A double tap must not hit another state: same buttons, same order, greyed as needed."""
    from ui.alerts import VERDICTS

    at, _url, _alert_id = _a_new_alert_open(world)
    prefix = f"{state.ALERT_VERDICT}:"

    def verdicts() -> list[tuple[str, bool]]:
        return [(b.key.removeprefix(prefix), b.disabled) for b in at.button
                if b.key and b.key.startswith(prefix)]

    assert verdicts() == [(s, s not in {"under_review", "dismissed"}) for s in VERDICTS]
    # the greyed ones explained (a field user read no reason for them)
    assert "From “New” an alert may go to Under review or Dismissed; the other verdicts are " \
           "greyed out." in [c.value for c in at.caption]
    assert not at.button(key=state.ALERT_ASSIGN).disabled
    at.button(key=f"{prefix}under_review").click().run()
    assert not at.exception
    assert [k for k, _ in verdicts()] == list(VERDICTS)  # the same places
    assert dict(verdicts())["under_review"]  # the state it is in: greyed out
    assert not dict(verdicts())["confirmed"]
    at.button(key=state.ALERT_ASSIGN).click().run()
    assert at.button(key=state.ALERT_ASSIGN).disabled  # already ana's


def test_comment_only_with_an_empty_box_says_so_and_stores_nothing(world):
    """Pressing "Comment only" with nothing typed is not reported as saved."""
    from geo.store import read_audit, read_comments

    at, url, alert_id = _a_new_alert_open(world)
    with open_store(url) as store:
        audit_before = len(read_audit(store, alert_id=alert_id))
    at.button(key=state.ALERT_COMMENT_ONLY).click().run()
    assert not at.exception
    assert any("Write a comment first" in e.value for e in at.error)
    assert not any(s.value == "Saved." for s in at.success)
    with open_store(url) as store:
        assert read_comments(store, alert_id) == []
        assert len(read_audit(store, alert_id=alert_id)) == audit_before


def test_a_dismissal_needs_a_comment_saying_why(world):
    """One tap on "Dismissed" does not close an alert: the reason is asked for, then kept."""
    from geo.store import get_alert, read_comments

    at, url, alert_id = _a_new_alert_open(world)
    dismiss = f"{state.ALERT_VERDICT}:dismissed"
    at.button(key=dismiss).click().run()
    assert not at.exception
    assert any("why the alert is dismissed" in e.value for e in at.error)
    with open_store(url) as store:
        assert get_alert(store, alert_id).state == "new"
        assert read_comments(store, alert_id) == []
    at.text_area(key=state.ALERT_COMMENT).input("Straight road between two fields").run()
    at.button(key=dismiss).click().run()
    assert any("Saved" in s.value for s in at.success)
    with open_store(url) as store:
        assert get_alert(store, alert_id).state == "dismissed"
        assert [c["body"] for c in read_comments(store, alert_id)] == [
            "Straight road between two fields"]


def test_the_queue_lists_alerts_awaiting_a_verdict_first_and_counts_its_filters(world):
    """A confirmed strip goes below the new ones; the folded filters say how many are on."""
    url = f"sqlite:///{world / 'atalaya.sqlite3'}"
    at = _app("Ana")
    with open_store(url) as store:
        every = list_alerts(store)
        top = every[0]
        version = top.version
        for move in ("under_review", "confirmed"):
            version = update_alert(store, AlertChange(top.id, version, state=move),
                                   actor="Ana").version
    at.run()
    assert not at.exception
    ids = list(at.dataframe[0].value["ID"])
    assert ids[0] == str(every[1].id)
    assert ids[-1] == str(top.id)  # every other alert of the sample world is still new
    assert [e.label for e in at.expander if "Filters" in e.label] == ["Filters"]
    countries = sorted({a.country for a in every if a.country})
    at.multiselect(key=state.QUEUE_COUNTRIES).set_value(countries[:1]).run()
    at.slider(key=state.QUEUE_MIN_SCORE).set_value(0.5).run()
    assert [e.label for e in at.expander if "Filters" in e.label] == ["Filters (2 on)"]


def test_a_field_user_on_someone_elses_alert_may_comment_only(world):
    """Greyed verdicts and "Assign to me", and why; a comment is still saved.

    The store's own refusal (a forged press) is tested in tests/store/test_alert_rights.py.
    """
    from geo.store import AlertChange, get_alert, read_comments, update_alert

    at, url, alert_id = _a_new_alert_open(world)  # drawn for ana (analyst) first
    at.session_state[state.REVIEWER] = "luis"
    at.session_state[state.SESSION] = Session.start("luis", Role.FIELD, datetime.now(UTC))
    at.run()
    verdict = f"{state.ALERT_VERDICT}:under_review"
    assert not at.button(key=verdict).disabled  # unassigned: luis may take it or judge it
    with open_store(url) as store:  # meanwhile the office gives it to ana
        now = get_alert(store, alert_id)
        update_alert(store, AlertChange(alert_id, now.version, assignee="ana"), actor="lead")
    at.run()
    assert any(i.value.startswith("Assigned to ana: only they") for i in at.info)
    assert at.button(key=verdict).disabled
    assert at.button(key=state.ALERT_ASSIGN).disabled
    at.text_area(key=state.ALERT_COMMENT).input("Tracks on the north end, seen today").run()
    at.button(key=state.ALERT_COMMENT_ONLY).click().run()
    assert any("Saved" in s.value for s in at.success), [e.value for e in at.error]
    with open_store(url) as store:
        alert = get_alert(store, alert_id)
        assert (alert.state, alert.assignee) == ("new", "ana")
        assert [c["author"] for c in read_comments(store, alert_id)] == ["luis"]


def test_a_comment_does_not_make_anothers_open_copy_stale(world):
    """Comments never conflict: a verdict from a page opened before someone commented lands.

    The comment leaves the alert's version alone.
    """
    from geo.store import get_alert, read_comments

    ana, url, alert_id = _a_new_alert_open(world)
    with open_store(url) as store:
        version = get_alert(store, alert_id).version
    luis = AppTest.from_function(_page, default_timeout=90)
    luis.session_state[state.LANGUAGE] = "en"
    luis.session_state[state.REVIEWER] = "luis"
    luis.session_state[state.SESSION] = Session.start("luis", Role.FIELD, datetime.now(UTC))
    luis.query_params["alert"] = str(alert_id)
    luis.run()
    luis.text_area(key=state.ALERT_COMMENT).input("Fresh tracks at the north end").run()
    luis.button(key=state.ALERT_COMMENT_ONLY).click().run()
    assert any("Saved" in s.value for s in luis.success), [e.value for e in luis.error]
    with open_store(url) as store:
        assert get_alert(store, alert_id).version == version
    ana.button(key=f"{state.ALERT_VERDICT}:under_review").click().run()
    assert any("Saved" in s.value for s in ana.success), [e.value for e in ana.error]
    with open_store(url) as store:
        assert get_alert(store, alert_id).state == "under_review"
        assert [c["author"] for c in read_comments(store, alert_id)] == ["luis"]
