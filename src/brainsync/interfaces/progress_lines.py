"""Progress as plain lines, for a followed job whose stderr is a pipe or a log.

A terminal gets a redrawn bar (:mod:`brainsync.interfaces.console`); a pipe or a log gets
a line once the job's plan has items, one every ``progress_seconds`` while it runs
(whether or not a chunk finished meanwhile: a slow chunk or plan still shows the run is
alive), and one at the end. A run that has nothing to do, or is refused at once, prints
none: its report, or its refusal's one or two lines, is all a log gets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from brainsync.interfaces.terminal import Terminal
from brainsync.jobs.records import Job, JobState

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
        """Take the job's latest state; print it once its plan has items to work on."""
        with self._lock:
            self._job = job
            planned = job.state is JobState.RUNNING and job.progress.total > 0
            if planned and self._printed is None:
                self._print(job)

    def tick(self) -> None:
        """Print the latest state when a line is due (a long plan too: it is alive)."""
        with self._lock:
            due = time.monotonic() - self._last >= self._interval
            if due and self._job is not None and not self._job.state.finished:
                self._print(self._job)

    def end(self) -> None:
        """Print how a run that had lines ended; a failure's own lines say why it failed,
        and a run with nothing to do (or refused at once) prints no progress at all."""
        with self._lock:
            job = self._job
            if job is None or self._printed in (None, job) or job.state is JobState.FAILED:
                return
            self._print(job)

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
