"""Fixtures of the page tests that start background jobs (export, scene import, detection).

No runner runs in the background under the test harness: :func:`runner` replaces
``ui.jobs.ensure_services`` by one that counts the wake-ups, so the jobs stay as the page left
them until :func:`run_queued_jobs` runs them in the test's thread (no Dask), as the app's
runner would in its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from geo.jobs import Job, JobRunner
from geo.settings import Settings
from geo.store import default_url, open_store
from tests.conftest import ROOT


class FakeRunner:
    """Stands for the app's runner: counts the wake-ups, runs nothing."""

    def __init__(self) -> None:
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> FakeRunner:
    """Replace the app's job runner by a :class:`FakeRunner`."""
    fake = FakeRunner()
    monkeypatch.setattr("ui.jobs.ensure_services", lambda settings: fake)
    return fake


def run_queued_jobs(data_dir: Path) -> list[Job]:
    """Run every queued job of the environment's store to its end; return them finished."""
    with open_store(default_url()) as store:
        jobs = JobRunner(store, settings=Settings(data_dir=data_dir, static_dir=ROOT / "static"),
                         use_dask=False)
        done = []
        while (job := jobs.run_next()) is not None:
            done.append(job)
        return done
