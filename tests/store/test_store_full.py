"""A store that cannot write (full disk, read-only): a clear StoreError, nothing half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from geo.errors import StoreError
from geo.store import (
    AlertChange,
    get_alert,
    list_alerts,
    merge_candidates,
    open_store,
    read_audit,
    read_comments,
    update_alert,
)
from tests.store.conftest import candidates


@pytest.mark.parametrize("pragma", ["max_page_count", "query_only"])
def test_a_store_that_cannot_write_says_so_and_writes_nothing(tmp_path, pragma):
    url = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    with open_store(url) as store:
        merge_candidates(store, candidates([{"lon": -65, "lat": -14, "scene_id": "s1",
                                             "date": "2024-05-01"}]))
        alert = list_alerts(store)[0]
        audit = read_audit(store)

        def cap(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            if pragma == "max_page_count":  # the disk is full: the file may not grow
                pages = cur.execute("PRAGMA page_count").fetchone()[0]
                cur.execute(f"PRAGMA max_page_count = {pages}")
            else:  # the database is read-only
                cur.execute("PRAGMA query_only = ON")
            cur.close()

        store.engine.dispose()
        event.listen(store.engine, "connect", cap)
        long = "A long field report. " * 2000  # needs new pages
        with pytest.raises(StoreError, match=r"could not write .*nothing was written"):
            update_alert(store, AlertChange(alert.id, alert.version, state="under_review",
                                            comment=long), actor="ana")
        event.remove(store.engine, "connect", cap)
        store.engine.dispose()
        assert get_alert(store, alert.id) == alert
        assert read_comments(store, alert.id) == []
        assert read_audit(store) == audit
