"""The job list in the store: submit (deduplicated), claim, heartbeat, progress, cancel, finish.

Every function is one short transaction on the ``jobs`` table, so the list survives a page
reload and a restart, and every app process (and every runner) sees the same jobs.

Rules
-----
- **One job per request**: :func:`submit_job` files a job under the SHA-256 of its kind and its
  canonical parameters. While a job with that key is not finished, submitting it again returns
  the same job; the database's partial unique index enforces it under any race.
- **Owned while running**: a runner claims a job with its *owner token* and must present it to
  heartbeat, report progress and finish. A runner whose job was taken away (declared dead,
  re-queued and claimed by another) gets :class:`~geo.errors.JobStateError` and writes nothing.
- **No job runs forever**: :func:`recover_stale_jobs` re-queues (once, when the kind allows it)
  or fails every running job whose heartbeat is older than the limit, or whose runner process
  on this host is gone.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update
from sqlalchemy.exc import IntegrityError

from geo.errors import JobError, JobNotFoundError, JobStateError
from geo.i18n import Message
from geo.jobs import messages as msg
from geo.jobs.states import ACTIVE_STATES, JOB_KINDS, RESUMABLE_KINDS, check_job_transition
from geo.store import tables as t
from geo.store.engine import Store, in_transaction, read_tx

__all__ = [
    "DEFAULT_STALE_AFTER_S",
    "Job",
    "MessageWriter",
    "ResultWriter",
    "canonical_params",
    "claim_job",
    "dedupe_key",
    "finish_job",
    "get_job",
    "heartbeat",
    "list_jobs",
    "owner_is_dead",
    "owner_token",
    "recover_stale_jobs",
    "release_job",
    "report_progress",
    "request_cancel",
    "submit_job",
]

#: A running job whose heartbeat is older than this is taken for dead (runners beat every 5 s).
DEFAULT_STALE_AFTER_S = 60.0
MAX_MESSAGE = 500
#: Writes a job's results into the store inside the transaction that marks it succeeded;
#: returns what to add to the job's ``result``.
ResultWriter = Callable[[Connection], Mapping[str, Any]]
#: A closing message written from the job's stored result (what its ``write`` added too).
MessageWriter = Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True)
class Job:
    """One row of the job list, parameters and result parsed from JSON."""

    id: int
    kind: str
    dedupe_key: str
    params: dict[str, Any]
    state: str
    progress: float
    message: str
    created_by: str
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
    error: str | None
    result: dict[str, Any] | None
    owner: str | None
    attempts: int
    max_attempts: int

    @property
    def finished(self) -> bool:
        """True once the job is cancelled, succeeded or failed."""
        return self.state not in ACTIVE_STATES


def canonical_params(params: Mapping[str, Any]) -> str:
    """JSON text of ``params`` with sorted keys and no spaces (what the dedupe key hashes).

    Examples
    --------
    >>> canonical_params({"b": [1, 2], "a": "é"})
    '{"a":"é","b":[1,2]}'
    """
    try:
        return json.dumps(dict(params), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise JobError(f"job parameters must be plain JSON (str, numbers, lists, dicts, "
                       f"None; no NaN): {exc}") from None


def dedupe_key(kind: str, params: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the kind and the canonical parameters.

    Examples
    --------
    >>> dedupe_key("detect", {"x": 1, "y": 2}) == dedupe_key("detect", {"y": 2, "x": 1})
    True
    >>> dedupe_key("detect", {"x": 1}) == dedupe_key("export", {"x": 1})
    False
    """
    return hashlib.sha256(f"{kind}\n{canonical_params(params)}".encode()).hexdigest()


def owner_token() -> str:
    """Return a new owner token for a runner: ``<host>:<pid>:<random>``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _job(row: RowMapping) -> Job:
    values = dict(row)
    values["params"] = json.loads(values["params"])
    values["result"] = None if values["result"] is None else json.loads(values["result"])
    return Job(**values)


def _load(conn: Connection, job_id: int, *, lock: bool) -> Job:
    query = select(t.jobs).where(t.jobs.c.id == job_id)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        raise JobNotFoundError(f"no job has id {job_id}")
    return _job(row)


def _find_active(conn: Connection, key: str) -> int | None:
    j = t.jobs.c
    found = conn.execute(select(j.id).where(j.dedupe_key == key,
                                            j.state.in_(sorted(ACTIVE_STATES)))).first()
    return None if found is None else int(found.id)


def submit_job(store: Store, kind: str, params: Mapping[str, Any], user: str, *,
               max_attempts: int | None = None, now: datetime | None = None
               ) -> tuple[int, bool]:
    """Queue a job, or return the unfinished one with the same kind and parameters.

    Parameters
    ----------
    kind
        ``detect``, ``ingest`` or ``export``.
    params
        Plain JSON; build them with the kind's helper (e.g. :func:`geo.jobs.detect_params`)
        so that equal requests have equal parameters.
    user
        Who asked (``created_by``).
    max_attempts
        How many times the job may be started; default 2 for a resumable kind (one restart
        after its runner died), else 1.

    Returns
    -------
    tuple of (int, bool)
        The job id, and whether this call created it (False: someone already had).
    """
    if kind not in JOB_KINDS:
        raise JobError(f"unknown job kind {kind!r}; expected one of {', '.join(JOB_KINDS)}")
    text, key = canonical_params(params), dedupe_key(kind, params)
    attempts = max_attempts if max_attempts is not None else (
        2 if kind in RESUMABLE_KINDS else 1)
    if attempts < 1:
        raise JobError(f"max_attempts must be at least 1, got {attempts}")
    values = {"kind": kind, "dedupe_key": key, "params": text, "state": "queued",
              "progress": 0.0, "message": "", "created_by": user, "attempts": 0,
              "max_attempts": attempts}

    def work(conn: Connection) -> tuple[int, bool]:
        found = _find_active(conn, key)
        if found is not None:
            return found, False
        ids = conn.execute(insert(t.jobs).values(created_at=_now(now), **values))
        assert ids.inserted_primary_key is not None
        return int(ids.inserted_primary_key[0]), True

    for _ in range(3):
        try:
            return in_transaction(store, work)
        except IntegrityError:
            # Another process inserted the same key between our look and our insert (the
            # unique index refused ours): theirs is the job, unless it finished meanwhile.
            with read_tx(store) as conn:
                found = _find_active(conn, key)
            if found is not None:
                return found, False
    raise JobError(Message("could not queue the {kind} job: its twin kept finishing and "
                           "starting", kind=kind))


def get_job(store: Store, job_id: int) -> Job:
    """Return one job; raises :class:`~geo.errors.JobNotFoundError` if there is none."""
    with read_tx(store) as conn:
        return _load(conn, job_id, lock=False)


def list_jobs(store: Store, *, states: Sequence[str] | None = None,
              created_by: str | None = None, kinds: Sequence[str] | None = None,
              limit: int = 100) -> list[Job]:
    """Return jobs, newest first, optionally only in ``states``, of ``kinds`` or of one user."""
    j = t.jobs.c
    query = select(t.jobs).order_by(j.created_at.desc(), j.id.desc()).limit(limit)
    if states is not None:
        query = query.where(j.state.in_(list(states)))
    if kinds is not None:
        query = query.where(j.kind.in_(list(kinds)))
    if created_by is not None:
        query = query.where(j.created_by == created_by)
    with read_tx(store) as conn:
        return [_job(r) for r in conn.execute(query).mappings()]


def claim_job(store: Store, owner: str, *, kinds: Sequence[str] | None = None,
              now: datetime | None = None) -> Job | None:
    """Take the oldest queued job (of ``kinds``) for ``owner``; None when none is queued."""
    j = t.jobs.c

    def work(conn: Connection) -> Job | None:
        query = select(j.id).where(j.state == "queued").order_by(j.created_at, j.id).limit(1)
        if kinds is not None:
            query = query.where(j.kind.in_(list(kinds)))
        if conn.dialect.name == "postgresql":  # two runners never wait for the same row
            query = query.with_for_update(skip_locked=True)
        row = conn.execute(query).first()
        if row is None:
            return None
        at = _now(now)
        taken = conn.execute(update(t.jobs).where(j.id == row.id, j.state == "queued").values(
            state="running", owner=owner, started_at=at, heartbeat_at=at, progress=0.0,
            attempts=j.attempts + 1, message=""))
        return _load(conn, row.id, lock=False) if taken.rowcount == 1 else None
    return in_transaction(store, work)


def _owned(conn: Connection, job_id: int, owner: str) -> Job:
    """Load and lock a job this owner holds (running or cancelling)."""
    job = _load(conn, job_id, lock=True)
    if job.state not in ("running", "cancelling"):
        raise JobStateError(f"job {job_id} is {job.state}, not running; nothing was written")
    if job.owner != owner:
        raise JobStateError(f"job {job_id} is held by runner {job.owner}, not {owner} (it was "
                            "taken for dead and handed on); nothing was written")
    return job


def heartbeat(store: Store, job_id: int, owner: str, *, now: datetime | None = None) -> str:
    """Record that the runner ``owner`` is alive; return the job's state (``cancelling``?)."""
    def work(conn: Connection) -> str:
        job = _owned(conn, job_id, owner)
        conn.execute(update(t.jobs).where(t.jobs.c.id == job_id)
                     .values(heartbeat_at=_now(now)))
        return job.state
    return in_transaction(store, work)


def report_progress(store: Store, job_id: int, owner: str, fraction: float, message: str = "",
                    *, now: datetime | None = None) -> str:
    """Record progress (0-1) and a short message (also a heartbeat); return the job's state."""
    if not 0.0 <= fraction <= 1.0:
        raise JobError(f"progress must lie in [0, 1], got {fraction}")

    def work(conn: Connection) -> str:
        job = _owned(conn, job_id, owner)
        conn.execute(update(t.jobs).where(t.jobs.c.id == job_id).values(
            progress=float(fraction), message=message[:MAX_MESSAGE], heartbeat_at=_now(now)))
        return job.state
    return in_transaction(store, work)


def request_cancel(store: Store, job_id: int, user: str, *, now: datetime | None = None) -> str:
    """Ask to cancel a job; return its new state.

    A queued job is cancelled at once; a running one becomes ``cancelling`` and its runner
    stops at its next check. Asking again while it is cancelling changes nothing; a finished
    job raises :class:`~geo.errors.JobStateError`.
    """
    def work(conn: Connection) -> str:
        job = _load(conn, job_id, lock=True)
        if job.state == "cancelling":
            return job.state
        wanted = "cancelled" if job.state == "queued" else "cancelling"
        check_job_transition(job.state, wanted)
        values: dict[str, Any] = {"state": wanted, "message": msg.CANCEL_ASKED.format(user=user)}
        if wanted == "cancelled":
            values.update(finished_at=_now(now), message=msg.CANCELLED_BEFORE.format(user=user))
        conn.execute(update(t.jobs).where(t.jobs.c.id == job_id).values(**values))
        return wanted
    return in_transaction(store, work)


def finish_job(store: Store, job_id: int, owner: str, state: str, *,
               result: Mapping[str, Any] | None = None, error: str | None = None,
               write: ResultWriter | None = None,
               message: str | MessageWriter | None = None,
               now: datetime | None = None) -> Job:
    """End a job the runner ``owner`` holds: ``succeeded``, ``failed`` or ``cancelled``.

    Parameters
    ----------
    write
        Only for ``succeeded``: stores the job's results (e.g. merges its alerts) in **this**
        transaction, so the results and the state are committed together or not at all; what
        it returns is added to ``result``.
    message
        The closing message, or a function that writes it from the stored result (after
        ``write``: a detection counts the alerts its merge gave an absence); None: ``state``.

    Raises
    ------
    JobStateError
        The move is not allowed (e.g. ``succeeded`` on a job that was never running, or
        ``cancelled`` on a running job nobody asked to cancel) or another runner holds it.
    """
    if state not in ("succeeded", "failed", "cancelled"):
        raise JobStateError(f"a job finishes as succeeded, failed or cancelled, not {state!r}")

    def work(conn: Connection) -> Job:
        job = _owned(conn, job_id, owner)
        check_job_transition(job.state, state)
        stored = dict(result or {})
        if state == "succeeded" and write is not None:
            stored.update(write(conn))
        at = _now(now)
        conn.execute(update(t.jobs).where(t.jobs.c.id == job_id).values(
            state=state, finished_at=at, heartbeat_at=at, error=error,
            progress=1.0 if state == "succeeded" else job.progress,
            message=_closing(message, stored, state)[:MAX_MESSAGE],
            result=canonical_params(stored) if stored else None))
        return _load(conn, job_id, lock=False)
    return in_transaction(store, work)


def _closing(message: str | MessageWriter | None, stored: Mapping[str, Any],
             state: str) -> str:
    """Return a finishing job's message: given, written from its stored result, or its state."""
    if message is None:
        return state
    return message if isinstance(message, str) else message(stored)


def release_job(store: Store, job_id: int, owner: str, *, now: datetime | None = None) -> str:
    """Hand back a job its runner stopped on purpose (shutdown); return its new state.

    A running job is queued again at once, and the attempt it was in is not counted (it was
    interrupted, not crashed); a job being cancelled is cancelled.
    """
    def work(conn: Connection) -> str:
        job = _owned(conn, job_id, owner)
        wanted = "cancelled" if job.state == "cancelling" else "queued"
        check_job_transition(job.state, wanted)
        values: dict[str, Any] = {"state": wanted, "owner": None, "heartbeat_at": None,
                                  "message": msg.HANDED_BACK}
        if wanted == "cancelled":
            values.update(finished_at=_now(now), message=msg.CANCELLED_SHUTDOWN)
        else:
            values["attempts"] = max(job.attempts - 1, 0)
        conn.execute(update(t.jobs).where(t.jobs.c.id == job_id).values(**values))
        return wanted
    return in_transaction(store, work)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        return True
    return True


def owner_is_dead(owner: str | None) -> bool:
    """Tell whether ``owner`` names a process of this host that no longer exists.

    Owners on other hosts, or in an unknown format, are not judged (their heartbeat is).
    """
    host, _, rest = (owner or "").partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    return pid != os.getpid() and not _pid_alive(pid)


def _recovered_values(job: Job, at: datetime) -> dict[str, Any]:
    """Return the new values of a stale job: re-queued, failed, or (cancel asked) cancelled."""
    beat = job.heartbeat_at.isoformat(timespec="seconds") if job.heartbeat_at else msg.NEVER
    if job.state == "cancelling":
        return {"state": "cancelled", "finished_at": at, "owner": None,
                "message": msg.CANCELLED_STOPPED.format(beat=beat)}
    if job.attempts < job.max_attempts:
        return {"state": "queued", "owner": None, "heartbeat_at": None,
                "message": msg.REQUEUED.format(beat=beat, attempt=job.attempts + 1,
                                               attempts=job.max_attempts)}
    return {"state": "failed", "finished_at": at, "owner": None, "message": msg.FAILED,
            "error": msg.RUNNER_LOST.format(owner=job.owner, attempt=job.attempts,
                                             attempts=job.max_attempts, beat=beat)}


def recover_stale_jobs(store: Store, *, now: datetime | None = None,
                       stale_after_s: float = DEFAULT_STALE_AFTER_S,
                       dead_owners: bool = True) -> dict[int, str]:
    """Hand on or end the jobs whose runner died; return {job id: new state}.

    A job is stale when it is running or cancelling and its last heartbeat is older than
    ``stale_after_s`` seconds, or (``dead_owners``) its owner is a process of this host that
    no longer exists (found at once after a restart, without waiting for the limit). A stale
    running job is queued again while it has attempts left (``max_attempts``), else failed
    with a message saying why; a stale cancelling job is cancelled. Run it at start-up and
    now and then: no job then stays running forever after a SIGKILL.
    """
    at = _now(now)
    j = t.jobs.c
    cutoff = at - timedelta(seconds=stale_after_s)

    def work(conn: Connection) -> dict[int, str]:
        rows = conn.execute(select(t.jobs).where(j.state.in_(("running", "cancelling")))
                            .order_by(j.id).with_for_update()).mappings().all()
        done: dict[int, str] = {}
        for job in map(_job, rows):
            late = job.heartbeat_at is None or job.heartbeat_at < cutoff
            if not (late or (dead_owners and owner_is_dead(job.owner))):
                continue
            values = _recovered_values(job, at)
            check_job_transition(job.state, values["state"])
            conn.execute(update(t.jobs).where(j.id == job.id).values(**values))
            done[job.id] = values["state"]
        return done
    return in_transaction(store, work)

