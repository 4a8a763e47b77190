"""The engine-free job reader gives the same records as the job service, on both backends."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from brainsync.errors import NotFoundError
from brainsync.jobs import JobService, JobState
from brainsync.jobs.reader import JobReader

Open = Callable[..., JobService]
Work = Callable[..., dict[str, Any]]


def test_job_reader_matches_the_engine(open_service: Open, work: Work, system_db_url: str):
    client = open_service(start_worker=False)
    cancelled = client.enqueue("fake", work("c", items=2), lane="/c")
    client.cancel(cancelled)
    service = open_service()
    ok = service.wait(service.enqueue("fake", work("a", items=5, chunk=2), lane="/a"), 30)
    failed = service.wait(service.enqueue("fake", work("f", plan_error="too many"), lane="/f"))
    assert (ok.state, failed.state) == (JobState.SUCCEEDED, JobState.FAILED)
    # no worker listens to that host's queue: it stays queued while the test compares
    queued = client.enqueue("fake", work("q", items=1), lane="/q", host="elsewhere")

    reader = JobReader(system_db_url, deadline_seconds=3600)
    try:
        assert reader.list(limit=10) == service.list(limit=10)
        for state in JobState:
            assert reader.list(state) == service.list(state)
        for job_id in (ok.id, failed.id, cancelled, queued):
            assert reader.status(job_id) == service.status(job_id)
        assert reader.status(ok.id).progress.current == 5 and reader.status(ok.id).result
        assert reader.status(failed.id).failure == failed.failure is not None
        with pytest.raises(NotFoundError):
            reader.status("no-such-job")
        assert reader.status(queued).state is JobState.QUEUED
    finally:
        reader.close()


def test_reading_a_job_store_never_made_creates_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    reader = JobReader(url, deadline_seconds=3600)
    assert reader.list() == []
    reader.close()
    assert not (tmp_path / "jobs.sqlite").exists()


def test_the_quick_commands_never_import_the_job_engine(tmp_path: Path) -> None:
    """`status`, `jobs` and `job show` read jobs without DBOS (about a third of a second)."""
    code = (
        "import sys\n"
        "from brainsync.config import load_settings\n"
        "from brainsync.app import Brain\n"
        f"settings = load_settings({{'directory': {str(tmp_path / 'brain')!r}}}, {{}}, None)\n"
        "with Brain(settings) as brain:\n"
        "    brain.status()\n"
        "    brain.job_records().list()\n"
        "heavy = ('dbos', 'sqlalchemy.dialects.postgresql')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    (tmp_path / "brain").mkdir()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # nor, on SQLite, the PostgreSQL dialect (about 45 ms)
    assert done.stdout.strip() == "[]"
