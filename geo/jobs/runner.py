"""Run queued jobs in background threads of the app process, the heavy work on Dask.

A :class:`JobRunner` claims queued jobs from the store and runs each kind's handler in its own
threads, never in the caller's (Streamlit's script thread only submits and reads the list). A
handler sends its heavy steps to a Dask ``distributed`` cluster (:attr:`JobContext.client`: a
local cluster of worker processes by default, or the scheduler of ``ATALAYA_DASK_SCHEDULER``),
reports progress between steps, and stops at the next step once someone asked to cancel it.

While a job runs, a heartbeat thread records every ``heartbeat_s`` seconds that its runner is
alive and notices a cancel request or a lost job (handed on after this runner was taken for
dead). A job's results are stored in the transaction that marks it succeeded
(:func:`~geo.jobs.queue.finish_job` with the handler's ``write``), so a kill leaves either both
or neither; :func:`~geo.jobs.queue.recover_stale_jobs` (run at :meth:`JobRunner.start` and
every ``stale_after_s / 2``) hands on or fails the jobs of a runner that died.

Results can notify people (a detection run's new alerts, strips destroyed or reopened in a
followed area): right after storing them, the runner's thread sends the e-mails and webhook
calls that are due (:func:`geo.store.subscriptions.deliver_pending`, SMTP settings from
``ATALAYA_SMTP_*``), so followers hear of a run when it ends, not when someone next opens the
alerts page. A failure to send is logged and retried later; it never fails the job.

Examples
--------
In the app (one runner per process, shared by every session)::

    runner = JobRunner(store)           # st.cache_resource
    runner.start()
    job_id, created = submit_job(store, "detect", detect_params(paths), user)
    runner.wake()
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from geo.atomicfile import sweep_leftovers
from geo.errors import AtalayaError, JobCancelledError, JobStateError, StoreError
from geo.jobs import messages as msg
from geo.jobs.queue import (
    DEFAULT_STALE_AFTER_S,
    Job,
    MessageWriter,
    ResultWriter,
    claim_job,
    finish_job,
    get_job,
    heartbeat,
    owner_token,
    recover_stale_jobs,
    release_job,
    report_progress,
)
from geo.logjson import log_context
from geo.settings import Settings, load_settings
from geo.store.engine import Store
from geo.store.subscriptions import SmtpConfig, deliver_pending, webhook_secret_from_env

__all__ = ["Handler", "JobContext", "JobOutcome", "JobRunner"]

log = logging.getLogger("atalaya.jobs")
T = TypeVar("T")
OFFLOAD_POLL_S = 0.5  # how often a wait on the cluster looks for a cancel request
#: Deliveries taken (e-mail digests bring their others along) and seconds spent sending
#: after a job; what is left goes with the next job or alerts page.
DELIVER_LIMIT = 100
DELIVER_BUDGET_S = 30.0


@dataclass(frozen=True)
class JobOutcome:
    """What a handler returns: a JSON result, and what to store with the 'succeeded' state.

    Attributes
    ----------
    result
        Plain JSON shown in the job list (counts, ids, paths).
    write
        Stores the results in the finishing transaction (``None``: nothing to store).
    message
        One line for the job list, or a function writing it from the stored result (what
        ``write`` added included).
    """

    result: Mapping[str, Any] = field(default_factory=dict)
    write: ResultWriter | None = None
    message: str | MessageWriter = "done"


@dataclass
class JobContext:
    """What a handler gets: the job, the store, the settings, the cluster, and controls.

    Attributes
    ----------
    client_factory
        Returns the ``distributed.Client`` to use (started on first use, so a job that never
        asks for the cluster does not wait for one); None: every step runs in this thread.
    """

    job: Job
    store: Store
    settings: Settings
    owner: str
    client_factory: Callable[[], Any] | None = None
    cancel_seen: threading.Event = field(default_factory=threading.Event)
    lost: threading.Event = field(default_factory=threading.Event)
    _client: Any = field(default=None, init=False, repr=False)

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` of the runner (None: run here, in the runner's thread)."""
        if self._client is None and self.client_factory is not None:
            self._client = self.client_factory()
        return self._client

    @property
    def params(self) -> dict[str, Any]:
        """The job's parameters."""
        return self.job.params

    def check_cancel(self) -> None:
        """Raise :class:`~geo.errors.JobCancelledError` once a cancel was asked or the job lost."""
        if self.cancel_seen.is_set() or self.lost.is_set():
            why = msg.WHY_HANDED_ON if self.lost.is_set() else msg.WHY_CANCEL
            raise JobCancelledError(msg.STOPPED_BETWEEN.format(id=self.job.id, why=why))

    def progress(self, fraction: float, message: str = "") -> None:
        """Record progress (also a heartbeat) and stop here if a cancel was asked."""
        try:
            state = report_progress(self.store, self.job.id, self.owner,
                                    min(max(fraction, 0.0), 1.0), message)
        except JobStateError:
            self.lost.set()
        except (StoreError, SQLAlchemyError) as exc:  # a busy store must not fail the job
            log.warning("progress of job %s not recorded: %s", self.job.id, exc)
        else:
            if state == "cancelling":
                self.cancel_seen.set()
        self.check_cancel()

    def offload(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the cluster (here without one), checking for cancel.

        The wait is sliced: the job's state is read every :data:`OFFLOAD_POLL_S` seconds, so a
        cancel request is seen within that time; the task is then cancelled on the cluster (a
        task already running there finishes, and its result is dropped).
        """
        self.check_cancel()
        if self.client is None:
            return fn(*args, **kwargs)
        from distributed import wait

        future = self.client.submit(fn, *args, pure=False, **kwargs)
        try:
            while True:
                with suppress(TimeoutError):
                    wait(future, timeout=OFFLOAD_POLL_S)
                if future.done():
                    return future.result()  # type: ignore[no-any-return]
                self._poll_state()
                self.check_cancel()
        finally:
            if not future.done():
                future.cancel()

    def _poll_state(self) -> None:
        """Read the job's state (no write): note a cancel request or a lost job."""
        try:
            job = get_job(self.store, self.job.id)
        except (StoreError, SQLAlchemyError):
            return  # the heartbeat thread will tell
        if job.owner != self.owner:
            self.lost.set()
        elif job.state == "cancelling":
            self.cancel_seen.set()


#: A kind's work: steps with progress and cancel checks, heavy ones on ``ctx.client``.
Handler = Callable[[JobContext], JobOutcome]


def _default_kinds() -> dict[str, Handler]:
    from geo.jobs.handlers import BUILTIN_HANDLERS

    return dict(BUILTIN_HANDLERS)


class JobRunner:
    """Claims queued jobs and runs them in background threads, on a Dask cluster.

    Parameters
    ----------
    store
        The store holding the job list (this process's :class:`~geo.store.Store`).
    handlers
        Kind -> handler; default the built-in detect, ingest and export handlers.
    settings
        Data and static folders, Dask scheduler address and local workers (default: from the
        environment).
    client
        A ``distributed.Client`` to use (not closed by :meth:`stop`). Without one, the runner
        starts its own on first need, from ``settings`` (closed by :meth:`stop`), unless
        ``use_dask`` is False (every step then runs in the runner's threads).
    concurrency
        Jobs run at the same time (threads); each job's windows still spread over the cluster.
    poll_s, heartbeat_s, stale_after_s
        Idle poll interval, heartbeat period, and the heartbeat age after which another
        runner's job is taken for dead.
    deliver
        Send the due notifications after a job stores results (see the module notes).
    """

    def __init__(self, store: Store, *, handlers: Mapping[str, Handler] | None = None,
                 settings: Settings | None = None, client: Any = None, use_dask: bool = True,
                 concurrency: int = 1, poll_s: float = 1.0, heartbeat_s: float = 5.0,
                 stale_after_s: float = DEFAULT_STALE_AFTER_S, deliver: bool = True) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if not 0 < heartbeat_s < stale_after_s:
            raise ValueError(f"heartbeat_s ({heartbeat_s}) must be positive and below "
                             f"stale_after_s ({stale_after_s})")
        self.store = store
        self.handlers = dict(handlers) if handlers is not None else _default_kinds()
        self.settings = settings or load_settings()
        self.owner = owner_token()
        self.concurrency, self.poll_s = concurrency, poll_s
        self.heartbeat_s, self.stale_after_s = heartbeat_s, stale_after_s
        self.deliver = deliver
        self._client, self._owns_client, self._use_dask = client, False, use_dask
        self._client_lock = threading.Lock()
        self._stop, self._wake = threading.Event(), threading.Event()
        self._threads: list[threading.Thread] = []
        self._active: dict[int, JobContext] = {}
        self._active_lock = threading.Lock()

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Recover stale jobs, then start the worker and heartbeat threads (returns at once)."""
        if self._threads:
            return
        self._stop.clear()
        self.recover()
        names = [f"atalaya-jobs-{k}" for k in range(self.concurrency)]
        self._threads = [threading.Thread(target=self._work_loop, name=n, daemon=True)
                         for n in names]
        self._threads.append(threading.Thread(target=self._beat_loop, daemon=True,
                                              name="atalaya-jobs-heartbeat"))
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the running jobs at their next step and hand them back; close our client.

        Each interrupted job is queued again at once (:func:`~geo.jobs.queue.release_job`,
        the attempt not counted), so a planned restart loses nothing and waits for nothing;
        a thread still inside a long step after ``timeout_s`` can no longer store anything
        for it (it is not the owner any more).
        """
        self._stop.set()
        self._wake.set()
        interrupted = self._snapshot()
        for ctx in interrupted:
            ctx.lost.set()  # stop at the next step, write nothing more
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads = []
        for ctx in interrupted:
            try:
                state = release_job(self.store, ctx.job.id, self.owner)
            except (JobStateError, StoreError, SQLAlchemyError) as exc:
                log.warning("job %s not handed back: %s", ctx.job.id, exc)
            else:
                log.info("job %s handed back (%s)", ctx.job.id, state)
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client, self._owns_client = None, False

    def wake(self) -> None:
        """Look for queued jobs now rather than at the next poll (after a submit)."""
        self._wake.set()

    def recover(self) -> dict[int, str]:
        """Hand on or fail the stale jobs of dead runners (see ``recover_stale_jobs``).

        Also deletes what killed processes left: temporary files beside the data folder's
        layers and scenes (an hour old or more), and upload folders a day old.
        """
        found = recover_stale_jobs(self.store, stale_after_s=self.stale_after_s)
        for job_id, state in found.items():
            log.warning("stale job %s is now %s", job_id, state,
                        extra={"job_id": job_id, "state": state})
        data = Path(self.settings.data_dir)
        swept = [*sweep_leftovers(data), *sweep_leftovers(data / "scenes"),
                 *sweep_leftovers(tempfile.gettempdir(), pattern="atalaya-ingest-*",
                                  older_than_s=86_400.0)]
        for path in swept:
            log.warning("deleted %s, left by a killed process", path, extra={"path": str(path)})
        return found

    @property
    def running(self) -> list[int]:
        """Ids of the jobs this runner is running now."""
        return sorted(c.job.id for c in self._snapshot())

    # -- the loops ----------------------------------------------------------------------------

    def run_next(self) -> Job | None:
        """Claim one queued job and run it to its end in this thread; None when none waits."""
        job = claim_job(self.store, self.owner, kinds=sorted(self.handlers))
        if job is None:
            return None
        return self.run_claimed(job)

    def _work_loop(self) -> None:
        while not self._stop.is_set():
            try:
                done = self.run_next()
            except (StoreError, SQLAlchemyError) as exc:  # store busy or away: try again later
                log.warning("job runner cannot reach the store: %s", exc)
                done = None
            if done is None:
                self._wake.wait(self.poll_s)
                self._wake.clear()

    def _beat_loop(self) -> None:
        last_recovery = datetime.now(UTC)
        while not self._stop.wait(self.heartbeat_s):
            for ctx in self._snapshot():
                self._beat(ctx)
            if (datetime.now(UTC) - last_recovery).total_seconds() >= self.stale_after_s / 2:
                last_recovery = datetime.now(UTC)
                try:
                    self.recover()
                except (StoreError, SQLAlchemyError) as exc:
                    log.warning("stale-job recovery failed: %s", exc)

    def _beat(self, ctx: JobContext) -> None:
        try:
            if heartbeat(self.store, ctx.job.id, self.owner) == "cancelling":
                ctx.cancel_seen.set()
        except JobStateError:
            ctx.lost.set()
        except (StoreError, SQLAlchemyError) as exc:  # a missed beat is fine (see stale_after_s)
            log.warning("heartbeat of job %s failed: %s", ctx.job.id, exc,
                        extra={"job_id": ctx.job.id})

    def _snapshot(self) -> list[JobContext]:
        with self._active_lock:
            return list(self._active.values())

    @contextmanager
    def _tracked(self, ctx: JobContext) -> Iterator[None]:
        with self._active_lock:
            self._active[ctx.job.id] = ctx
        try:
            yield
        finally:
            with self._active_lock:
                self._active.pop(ctx.job.id, None)

    # -- one job ------------------------------------------------------------------------------

    def client(self) -> Any:
        """Return the Dask client jobs use: the given one, or one started from the settings."""
        with self._client_lock:
            if self._client is None and self._use_dask:
                from geo.detect.run import connect_client, start_local_client

                address = self.settings.dask_scheduler
                self._client = (connect_client(address) if address
                                else start_local_client(self.settings.job_workers))
                self._owns_client = True
            return self._client

    def run_claimed(self, job: Job) -> Job | None:
        """Run a job this runner claimed; return it finished (None if it was handed on)."""
        extra = {"job_id": job.id, "kind": job.kind, "attempt": job.attempts}
        ctx = JobContext(job=job, store=self.store, settings=self.settings, owner=self.owner,
                         client_factory=self.client)
        with self._tracked(ctx), log_context(job_id=job.id, job_kind=job.kind,
                                             user=job.created_by):
            log.info("job %s (%s) started", job.id, job.kind, extra=extra)
            try:
                outcome = self.handlers[job.kind](ctx)
                ctx.check_cancel()
            except JobCancelledError as exc:
                if ctx.lost.is_set():  # not ours any more (or the runner stops): write nothing
                    return None
                if ctx.cancel_seen.is_set():
                    return self._end(ctx, "cancelled", message=str(exc))
                return self._end(ctx, "failed", error=msg.STOPPED_UNASKED.format(error=exc))
            except AtalayaError as exc:
                log.warning("job %s failed: %s", job.id, exc, extra=extra)
                return self._end(ctx, "failed", error=str(exc),
                                 result=msg.error_result(exc))
            except Exception as exc:  # a bug in a handler fails its job, never the runner
                log.exception("job %s crashed", job.id, extra=extra)
                return self._end(ctx, "failed",
                                 error=msg.CRASHED.format(kind=type(exc).__name__, error=exc))
            return self._succeed(ctx, outcome)

    def _succeed(self, ctx: JobContext, outcome: JobOutcome) -> Job | None:
        try:
            done = finish_job(self.store, ctx.job.id, self.owner, "succeeded",
                              result=outcome.result, write=outcome.write,
                              message=outcome.message)
        except JobStateError as exc:
            log.warning("job %s was handed on; its results were not stored: %s",
                        ctx.job.id, exc, extra={"job_id": ctx.job.id})
            return None
        except AtalayaError as exc:  # storing the results failed: rolled back with the state
            return self._end(ctx, "failed", error=msg.NOT_STORED.format(error=exc))
        log.info("job %s succeeded", ctx.job.id, extra={"job_id": ctx.job.id})
        if outcome.write is not None and self.deliver and not self._stop.is_set():
            self._deliver(ctx.job.id)
        return done

    def _deliver(self, job_id: int) -> None:
        """Send the notifications due now (a job's results may have written some)."""
        try:
            report = deliver_pending(self.store, smtp=SmtpConfig.from_env(),
                                     webhook_secret=webhook_secret_from_env(),
                                     limit=DELIVER_LIMIT, budget_s=DELIVER_BUDGET_S,
                                     default_language=self.settings.language)
        except (AtalayaError, SQLAlchemyError) as exc:  # a bad SMTP setting, a busy store
            log.warning("notifications after job %s not sent: %s", job_id, exc,
                        extra={"job_id": job_id})
            return
        if report.sent or report.failed:
            log.info("after job %s: %d deliveries sent, %d failed", job_id,
                     len(report.sent), len(report.failed), extra={"job_id": job_id})

    def _end(self, ctx: JobContext, state: str, *, error: str | None = None,
             message: str | None = None,
             result: Mapping[str, Any] | None = None) -> Job | None:
        try:
            return finish_job(self.store, ctx.job.id, self.owner, state, error=error,
                              message=message or state, result=result)
        except JobStateError as exc:
            log.warning("job %s could not be marked %s: %s", ctx.job.id, state, exc,
                        extra={"job_id": ctx.job.id})
            return None
