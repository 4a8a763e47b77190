"""Failures of jobs run in this process, known here before (or without) the job store.

DBOS stores a job's outcome after its code returned. When that write fails too (the job
store's disk is full, catalogue B12) the record keeps saying *running*, and a command
following the job would wait forever. The worker therefore remembers each failure its
jobs ended with; :meth:`JobService.wait` reports it once the record had time to follow.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from brainsync.errors import BrainsyncError, DiskFullError, JobError, disk_full, named_in

__all__ = ["LocalFailures", "job_store_full", "store_folder"]

#: How long the job store gets to record a failure before the local one is reported.
_RECORD_GRACE_SECONDS = 2.0
#: How many failures a worker remembers (a follower asks within seconds).
_KEPT = 256


class LocalFailures:
    """The errors jobs ended with in this process, by job id."""

    def __init__(self, job_store_url: str) -> None:
        self._url = job_store_url
        self._failed: dict[str, tuple[float, BrainsyncError]] = {}
        self._lock = threading.Lock()

    def record(self, job_id: str, error: Exception) -> None:
        """Remember that ``job_id`` ended with ``error`` here."""
        described = _described(error, self._url)
        with self._lock:
            self._failed[job_id] = (time.monotonic(), described)
            if len(self._failed) > _KEPT:  # a long-lived worker: the oldest go first
                del self._failed[next(iter(self._failed))]

    def settled(self, job_id: str) -> BrainsyncError | None:
        """The error ``job_id`` ended with here, once its record had time to follow."""
        with self._lock:
            found = self._failed.get(job_id)
        if found is None or time.monotonic() - found[0] < _RECORD_GRACE_SECONDS:
            return None
        return found[1]

    def ids(self) -> set[str]:
        """Every job that failed here."""
        with self._lock:
            return set(self._failed)


def _described(error: Exception, url: str) -> BrainsyncError:
    """The user-facing error of a failure: a full disk is named, else the library's error."""
    chain = list(_chain(error))
    for found in chain:
        if isinstance(found, DiskFullError):
            return found
    if disk_full(error, store_folder(url)):
        return job_store_full(url, "the job's outcome could not be recorded")
    for found in chain:
        if isinstance(found, BrainsyncError):
            # as the record would give it: the most specific class its text names
            cls, message = named_in(f"{type(found).__name__}: {found}")
            return cls(message)
    name = type(error).__name__
    return JobError(f"the job failed and its outcome could not be recorded ({name})")


def job_store_full(url: str, undone: str) -> DiskFullError:
    """The error of a job store whose disk is full: where it is, and what was not done."""
    return DiskFullError(
        f"disk full: no space left for the job store {_place(url)}; {undone}. "
        "Free space there, then run the command again"
    )


def store_folder(url: str) -> str | None:
    """The folder of a SQLite job store's file (None for a server)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return str(Path(parsed.database).resolve().parent)
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _place(url: str) -> str:
    """Where a job store lives: its file, in the state folder, or its masked URL."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return "(unparseable URL)"
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        file = Path(parsed.database).resolve()
        return f"{file.name} in the state folder {file.parent}"
    return parsed.render_as_string(hide_password=True)
