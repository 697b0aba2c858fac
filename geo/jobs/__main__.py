"""Command line of the job list: ``python -m geo.jobs worker|list|recover|cancel``.

``worker`` runs a :class:`~geo.jobs.JobRunner` in its own process (outside the app, e.g. on a
second machine sharing the store and the data folder) until SIGTERM or Ctrl-C, then hands its
running jobs back to the queue; its log is JSON lines on standard error. ``list`` prints the
jobs, ``recover`` hands on or fails the jobs of dead runners, ``cancel`` asks to cancel one.

Exit status: 0 done, 1 refused (the message says why), 2 wrong usage.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m geo.jobs", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="run queued jobs until SIGTERM")
    w.add_argument("--concurrency", type=int, default=1, help="jobs at the same time")
    w.add_argument("--no-dask", action="store_true",
                   help="run every step in this process (no cluster)")
    w.add_argument("--poll", type=float, default=1.0, help="idle poll interval, seconds")
    ls = sub.add_parser("list", help="print the jobs, newest first")
    ls.add_argument("--state", action="append", default=None, help="only this state (repeat)")
    ls.add_argument("--user", default=None, help="only this user's jobs")
    ls.add_argument("--limit", type=int, default=50)
    r = sub.add_parser("recover", help="hand on or fail the jobs of dead runners")
    r.add_argument("--stale-after", type=float, default=None,
                   help="heartbeat age in seconds taken for dead (default 60)")
    c = sub.add_parser("cancel", help="ask to cancel a job")
    c.add_argument("job_id", type=int)
    c.add_argument("--user", required=True, help="who asks (recorded in the job's message)")
    return p


def _worker(store: Any, args: argparse.Namespace) -> int:
    from geo.jobs import JobRunner
    from geo.logjson import setup_json_logging

    setup_json_logging(sys.stderr)
    runner = JobRunner(store, concurrency=args.concurrency, use_dask=not args.no_dask,
                       poll_s=args.poll)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    runner.start()
    print(f"worker {runner.owner} ready", file=sys.stderr, flush=True)
    done.wait()
    runner.stop()
    return 0


def _list(store: Any, args: argparse.Namespace) -> int:
    from geo.jobs import list_jobs

    for job in list_jobs(store, states=args.state, created_by=args.user, limit=args.limit):
        print(json.dumps(asdict(job), default=str, ensure_ascii=False))
    return 0


def _recover(store: Any, args: argparse.Namespace) -> int:
    from geo.jobs import DEFAULT_STALE_AFTER_S, recover_stale_jobs

    found = recover_stale_jobs(store, stale_after_s=args.stale_after or DEFAULT_STALE_AFTER_S)
    print(json.dumps({str(k): v for k, v in found.items()}))
    return 0


def _cancel(store: Any, args: argparse.Namespace) -> int:
    from geo.jobs import request_cancel

    print(request_cancel(store, args.job_id, args.user))
    return 0


COMMANDS = {"worker": _worker, "list": _list, "recover": _recover, "cancel": _cancel}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status."""
    args = _parser().parse_args(argv)
    from geo.imagery import gdal_process_environment

    for key, value in gdal_process_environment().items():  # before GDAL loads its drivers
        os.environ.setdefault(key, value)
    from geo.errors import AtalayaError
    from geo.store import open_store

    try:
        with open_store() as store:
            return COMMANDS[args.command](store, args)
    except AtalayaError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
