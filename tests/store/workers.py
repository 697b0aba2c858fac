"""Functions run in child processes by the concurrency tests (importable by ``spawn``)."""

from __future__ import annotations

from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier, Event

from geo.errors import StaleVersionError
from geo.store import (
    AlertChange,
    apply_changes,
    get_alert,
    merge_candidates,
    open_store,
    update_alert,
)

PRIORITY_CYCLE = ("low", "medium", "high")


def race_update(url: str, alert_id: int, rounds: int, actor: str, barrier: Barrier,
                results: Queue) -> None:  # type: ignore[type-arg]
    """Each round: read the alert, wait for the other writer, change it from that version."""
    store = open_store(url)
    try:
        for k in range(rounds):
            barrier.wait(timeout=60)
            copy = get_alert(store, alert_id)
            barrier.wait(timeout=60)  # both writers now hold the same version
            state = ("under_review" if actor == "ana" else "dismissed") if k == 0 else None
            change = AlertChange(alert_id, copy.version, state=state,
                                 comment=f"{actor} in round {k}")
            try:
                update_alert(store, change, actor=actor)
                results.put((k, "won", actor, ""))
            except StaleVersionError as exc:
                results.put((k, "stale", actor, str(exc)))
    finally:
        store.close()


def endless_batches(url: str, alert_ids: list[int], versions: list[int], started: Event) -> None:
    """Apply batches of changes to every alert, one transaction per batch, until killed."""
    store = open_store(url)
    batch = 0
    current = list(versions)
    while True:
        changes = [AlertChange(a, v, priority=PRIORITY_CYCLE[v % 3],
                               comment=f"batch {batch}") for a, v in zip(alert_ids, current,
                                                                        strict=True)]
        done = apply_changes(store, changes, actor="field-team")
        current = [a.version for a in done]
        batch += 1
        started.set()


def open_and_merge(url: str, rows: list[dict[str, object]], barrier: Barrier,
                   results: Queue) -> None:  # type: ignore[type-arg]
    """Open a fresh store (migrating it) and merge the same detections as the others, at once."""
    from tests.store.conftest import candidates

    frame = candidates(rows)
    barrier.wait(timeout=120)
    with open_store(url) as store:
        report = merge_candidates(store, frame)
    results.put((len(report.created), len(report.updated), len(report.unchanged)))


def crossing_batches(url: str, alert_ids: list[int], batches: int, barrier: Barrier,
                     results: Queue) -> None:  # type: ignore[type-arg]
    """Apply batches over the same alerts as another writer, listing them in the given order."""
    store = open_store(url)
    applied = stale = 0
    try:
        barrier.wait(timeout=120)
        for k in range(batches):
            copies = [get_alert(store, a) for a in alert_ids]
            try:
                apply_changes(store, [AlertChange(a.id, a.version, comment=f"batch {k}")
                                      for a in copies], actor="team")
                applied += 1
            except StaleVersionError:
                stale += 1
        results.put(("ok", applied, stale))
    except Exception as exc:  # reported to the test, which fails with the exception's text
        results.put(("error", repr(exc), 0))
    finally:
        store.close()
