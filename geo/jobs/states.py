"""The state machine of a background job: which state may follow which.

============ ========================================= =============================================
from         may go to                                 when
============ ========================================= =============================================
queued       running, cancelled                        a runner claims it / a user cancels it
running      succeeded, failed, cancelling, queued     done / error / cancel asked / runner died
cancelling   cancelled, succeeded, failed              seen between steps / past its last step
cancelled    (nothing)                                 finished
succeeded    (nothing)                                 finished
failed       (nothing)                                 finished
============ ========================================= =============================================

``running -> queued`` happens only in :func:`geo.jobs.recover_stale_jobs`, when a runner stopped
answering (its process was killed) and the job may be run again. ``cancelling -> succeeded``
records a job that had passed its point of no return (its results were stored) before it saw
the request: the state says what happened, not what was asked.

Examples
--------
>>> check_job_transition("queued", "running")
>>> allowed_job_moves("succeeded")
()
>>> check_job_transition("succeeded", "running")
Traceback (most recent call last):
...
geo.errors.JobStateError: cannot move a job from 'succeeded' to 'running'; ...
"""

from __future__ import annotations

from types import MappingProxyType

from geo.errors import JobStateError
from geo.store.tables import JOB_ACTIVE_STATES, JOB_KINDS, JOB_STATES

__all__ = [
    "ACTIVE_STATES",
    "JOB_KINDS",
    "JOB_STATES",
    "JOB_TRANSITIONS",
    "RESUMABLE_KINDS",
    "TERMINAL_STATES",
    "allowed_job_moves",
    "check_job_transition",
]

#: Not finished: at most one such job per dedupe key.
ACTIVE_STATES: frozenset[str] = frozenset(JOB_ACTIVE_STATES)
#: Finished: nothing follows.
TERMINAL_STATES: frozenset[str] = frozenset(JOB_STATES) - ACTIVE_STATES

JOB_TRANSITIONS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType({
    "queued": ("running", "cancelled"),
    "running": ("succeeded", "failed", "cancelling", "queued"),
    "cancelling": ("cancelled", "succeeded", "failed"),
    "cancelled": (),
    "succeeded": (),
    "failed": (),
})

#: Kinds whose job may be run again from the start after its runner died: a detection merges
#: idempotently, an ingest skips the scene it already stored, an export rewrites its own folder.
RESUMABLE_KINDS: frozenset[str] = frozenset({"detect", "ingest", "export"})


def allowed_job_moves(state: str) -> tuple[str, ...]:
    """States a job in ``state`` may move to (empty for a finished or unknown state)."""
    return JOB_TRANSITIONS.get(state, ())


def check_job_transition(current: str, wanted: str) -> None:
    """Raise :class:`~geo.errors.JobStateError` unless ``current -> wanted`` is allowed."""
    if wanted not in JOB_STATES:
        raise JobStateError(f"unknown job state {wanted!r}; expected one of "
                            f"{', '.join(JOB_STATES)}")
    if wanted not in allowed_job_moves(current):
        options = ", ".join(allowed_job_moves(current)) or "nowhere (it is finished)"
        raise JobStateError(f"cannot move a job from {current!r} to {wanted!r}; from "
                            f"{current!r} it can go to {options}")
