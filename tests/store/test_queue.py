"""Alert countries (schema version 2, back-filled) and the queue's store-side filters."""

from __future__ import annotations

import pytest
from shapely.geometry import Polygon, box
from sqlalchemy import select, text

from geo.countries import COUNTRY_BORDERS
from geo.errors import StoreError
from geo.store import (
    AWAITING_STATES,
    AlertChange,
    alerts_frame,
    awaiting_first,
    fill_countries,
    get_alert,
    list_alerts,
    merge_candidates,
    open_store,
    read_audit,
    update_alert,
)
from geo.store import tables as t
from geo.store.engine import read_tx, write_tx
from geo.store.migrations import latest_version
from tests.conftest import require
from tests.store.conftest import candidates

#: One strip in each country, and one out at sea (the Pacific off Peru).
PLACES = {"PE": (-74.2, -12.4), "CO": (-74.0, 4.6), "BO": (-65.1, -16.9), None: (-85.0, -10.0)}


@pytest.fixture(autouse=True)
def _borders() -> None:
    require(COUNTRY_BORDERS.is_file(), f"{COUNTRY_BORDERS} is absent: run `npm ci`")


def _merge_places(store, **extra):
    rows = [{"lon": lon, "lat": lat, "scene_id": "s1", "date": "2024-05-01",
             "score": 0.5 + 0.1 * k, **extra} for k, (lon, lat) in enumerate(PLACES.values())]
    merge_candidates(store, candidates(rows))
    found = {(round(a.centroid_lon, 1), round(a.centroid_lat, 1)): a.id
             for a in list_alerts(store)}
    return {code: found[lonlat] for code, lonlat in PLACES.items()}


def _downgrade_to_version_1(url: str) -> None:
    """Turn a migrated store into exactly what version 1 of the schema was (rows kept)."""
    with open_store(url) as store, write_tx(store) as conn:
        for table in ("deliveries", "notifications", "subscriptions"):
            conn.execute(text(f"DROP TABLE {table}"))
        conn.execute(text("DROP INDEX ix_alerts_country"))
        conn.execute(text("ALTER TABLE alerts DROP COLUMN country"))
        conn.execute(text("DELETE FROM schema_version WHERE version > 1"))


def test_new_alerts_get_the_country_of_their_centroid(store):
    ids = _merge_places(store)
    assert {code: get_alert(store, i).country for code, i in ids.items()} == {
        "PE": "PE", "CO": "CO", "BO": "BO", None: None}
    frame = alerts_frame(list_alerts(store))
    assert sorted(frame["country"].dropna()) == ["BO", "CO", "PE"]
    assert frame["country"].isna().sum() == 1


def test_migration_2_back_fills_a_version_1_store_and_reopening_is_a_no_op(store_url):
    with open_store(store_url) as store:
        ids = _merge_places(store)
        before = {a.id: (a.version, a.updated_at) for a in list_alerts(store)}
        audit_rows = len(read_audit(store))
    _downgrade_to_version_1(store_url)
    with pytest.raises(StoreError, match="version 1"):
        open_store(store_url, migrate_schema=False)
    with open_store(store_url) as store:
        with read_tx(store) as conn:
            versions = [r.version for r in conn.execute(select(t.schema_version)
                                                        .order_by(t.schema_version.c.version))]
            applied = conn.execute(select(t.schema_version)).all()
        assert versions == list(range(1, latest_version() + 1))
        assert {code: get_alert(store, i).country for code, i in ids.items()} == {
            "PE": "PE", "CO": "CO", "BO": "BO", None: None}
        # A data fix, not a change by anyone: versions and the audit log stay as they were.
        assert {a.id: (a.version, a.updated_at) for a in list_alerts(store)} == before
        assert len(read_audit(store)) == audit_rows
    with open_store(store_url) as again, read_tx(again) as conn:
        assert conn.execute(select(t.schema_version)).all() == applied


def test_queue_filters_run_in_the_store(store):
    ids = _merge_places(store)
    everything = list_alerts(store)
    assert len(everything) == 4
    assert {a.id for a in list_alerts(store, countries=["PE", "BO"])} == {ids["PE"], ids["BO"]}
    assert list_alerts(store, countries=[]) == []
    assert {a.id for a in list_alerts(store, min_score=0.65)} == {ids["BO"], ids[None]}
    peru = get_alert(store, ids["PE"])
    update_alert(store, AlertChange(peru.id, peru.version, assignee="Ana"), actor="Ana")
    assert [a.id for a in list_alerts(store, assignee="Ana")] == [ids["PE"]]
    assert list_alerts(store, assignee="Ana", countries=["CO"]) == []


def test_area_filter_is_exact_not_just_the_bounding_box(store):
    ids = _merge_places(store)
    # A triangle whose bounding box holds Peru's and Bolivia's strips but whose shape holds
    # Bolivia's only.
    triangle = Polygon([(-76.0, -18.0), (-63.0, -18.0), (-63.0, -10.0)])
    assert box(*triangle.bounds).contains(get_alert(store, ids["PE"]).geometry)
    assert [a.id for a in list_alerts(store, area=triangle)] == [ids["BO"]]
    around_peru = box(-74.3, -12.5, -74.1, -12.3)
    assert [a.id for a in list_alerts(store, area=around_peru)] == [ids["PE"]]
    assert list_alerts(store, area=around_peru, states=["dismissed"]) == []


def test_alerts_merged_without_borders_get_their_country_later(store, monkeypatch):
    import geo.store.merge as merge_module

    monkeypatch.setattr(merge_module, "locate_countries", lambda lons, lats: [None] * len(lons))
    ids = _merge_places(store)
    assert {get_alert(store, i).country for i in ids.values()} == {None}
    monkeypatch.undo()
    versions = {a.id: a.version for a in list_alerts(store)}
    assert fill_countries(store) == 3
    assert {code: get_alert(store, i).country for code, i in ids.items()} == {
        "PE": "PE", "CO": "CO", "BO": "BO", None: None}
    assert {a.id: a.version for a in list_alerts(store)} == versions
    assert fill_countries(store) == 0


def test_the_queue_lists_alerts_awaiting_someone_first(store):
    """A confirmed or dismissed strip goes below the new ones; each part keeps its order."""
    _merge_places(store)
    ranked = list_alerts(store)  # priority, then score
    top, second = ranked[0], ranked[1]
    for target, moves in ((top, ("under_review", "confirmed")), (second, ("dismissed",))):
        version = target.version
        for move in moves:
            version = update_alert(store, AlertChange(target.id, version, state=move),
                                   actor="Ana").version
    ranked = list_alerts(store)
    queue = awaiting_first(ranked)
    assert sorted(a.id for a in queue) == sorted(a.id for a in ranked)
    waiting = [a for a in ranked if a.state in AWAITING_STATES]
    done = [a for a in ranked if a.state not in AWAITING_STATES]
    assert [a.id for a in queue] == [a.id for a in waiting + done]
    assert {a.id for a in done} == {top.id, second.id}
    assert [a.state for a in queue][-2:] == [get_alert(store, a.id).state for a in done]
