"""Background jobs: detection, imagery ingest and large exports, outside the page's thread.

The job list lives in the store (``jobs`` table, schema version 6), so it survives a page
reload and a restart and every app process sees it. The page submits and reads; a
:class:`JobRunner` in the same process (or another) claims and runs::

    from geo.jobs import JobRunner, detect_params, list_jobs, request_cancel, submit_job

    runner = JobRunner(store)                     # once per process (st.cache_resource)
    runner.start()                                # recovers stale jobs, starts its threads
    job_id, created = submit_job(store, "detect", detect_params(paths), user="ana")
    runner.wake()
    list_jobs(store, created_by="ana")            # state, progress, message, result, error
    request_cancel(store, job_id, "ana")

States: ``queued -> running -> succeeded | failed``, ``cancelling -> cancelled`` (see
:mod:`geo.jobs.states`). Two users submitting the same kind and parameters get one job
(``created`` is False for the second). A job whose runner was killed is re-queued once (all
three kinds are resumable) or failed by :func:`recover_stale_jobs`, never left running.
"""

from __future__ import annotations

from geo.jobs.handlers import (
    BUILTIN_HANDLERS,
    detect_params,
    export_params,
    ingest_params,
    merge_into,
)
from geo.jobs.queue import (
    DEFAULT_STALE_AFTER_S,
    Job,
    canonical_params,
    claim_job,
    dedupe_key,
    finish_job,
    get_job,
    heartbeat,
    list_jobs,
    owner_is_dead,
    owner_token,
    recover_stale_jobs,
    release_job,
    report_progress,
    request_cancel,
    submit_job,
)
from geo.jobs.runner import Handler, JobContext, JobOutcome, JobRunner
from geo.jobs.states import (
    ACTIVE_STATES,
    JOB_KINDS,
    JOB_STATES,
    JOB_TRANSITIONS,
    TERMINAL_STATES,
    allowed_job_moves,
    check_job_transition,
)

__all__ = [
    "ACTIVE_STATES",
    "BUILTIN_HANDLERS",
    "DEFAULT_STALE_AFTER_S",
    "JOB_KINDS",
    "JOB_STATES",
    "JOB_TRANSITIONS",
    "TERMINAL_STATES",
    "Handler",
    "Job",
    "JobContext",
    "JobOutcome",
    "JobRunner",
    "allowed_job_moves",
    "canonical_params",
    "check_job_transition",
    "claim_job",
    "dedupe_key",
    "detect_params",
    "export_params",
    "finish_job",
    "get_job",
    "heartbeat",
    "ingest_params",
    "list_jobs",
    "merge_into",
    "owner_is_dead",
    "owner_token",
    "recover_stale_jobs",
    "release_job",
    "report_progress",
    "request_cancel",
    "submit_job",
]
