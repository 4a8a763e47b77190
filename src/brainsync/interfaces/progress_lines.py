"""Progress as plain lines, for a followed job whose stderr is a pipe or a log.

A terminal gets a redrawn bar (:mod:`brainsync.interfaces.console`); a pipe or a log gets
a line when the job is first seen, one every ``progress_seconds`` while it runs (whether
or not a chunk finished meanwhile: a slow chunk still shows the run is alive), and one at
the end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from brainsync.interfaces.terminal import Terminal
from brainsync.jobs.records import Job

__all__ = ["progress_lines"]


class _Lines:
    """The latest state of the followed job, and when a line last said it."""

    def __init__(self, console: Terminal, interval: float) -> None:
        self._console = console
        self._interval = interval
        self._lock = threading.Lock()
        self._job: Job | None = None
        self._printed: Job | None = None
        self._started = time.monotonic()
        self._last = self._started

    def show(self, job: Job) -> None:
        """Take the job's latest state; the first one is printed at once."""
        with self._lock:
            first = self._job is None
            self._job = job
            if first:
                self._print(job)

    def tick(self) -> None:
        """Print the latest state when a line is due."""
        with self._lock:
            due = time.monotonic() - self._last >= self._interval
            if due and self._job is not None and not self._job.state.finished:
                self._print(self._job)

    def end(self) -> None:
        """Print the last state seen, unless that line was already printed."""
        with self._lock:
            if self._job is not None and self._job is not self._printed:
                self._print(self._job)

    def _print(self, job: Job) -> None:
        progress = job.progress
        total = f"/{progress.total}" if progress.total else ""
        rate = f", {progress.rate:.0f}/s" if progress.rate else ""
        failed = len(job.result.errors) if job.result else 0
        errors = f", {failed} errors" if failed else ""
        elapsed = time.monotonic() - self._started
        self._console.print(
            f"{job.kind} {job.state.value}: {progress.current}{total} items"
            f"{rate}{errors} ({elapsed:.0f} s)"
        )
        self._printed, self._last = job, time.monotonic()


@contextmanager
def progress_lines(console: Terminal, interval: float) -> Iterator[Callable[[Job], None]]:
    """A progress callback that prints plain lines on ``console`` (see the module)."""
    lines = _Lines(console, interval)
    stop = threading.Event()

    def ticking() -> None:
        while not stop.wait(min(interval, 1.0)):
            lines.tick()

    thread = threading.Thread(target=ticking, name="brainsync-progress", daemon=True)
    thread.start()
    try:
        yield lines.show
    finally:
        stop.set()
        thread.join()
        lines.end()
