"""Running jobs: the event fan-out, the completion watcher and ``run_worker``.

A job's last durable write (its outcome) is made by DBOS after the workflow function has
returned, so the workflow cannot announce its own end. The :class:`CompletionWatcher`
follows the jobs that started in this process and announces their outcome once it is
stored: that keeps the promise that an event is published after the state it describes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from brainsync.errors import JobError
from brainsync.jobs.events import JobCancelled, JobCompleted, JobEvent, JobFailed, JobStarted
from brainsync.jobs.records import Job, JobState
from brainsync.report import Report

if TYPE_CHECKING:
    from brainsync.jobs.service import JobService

__all__ = ["CompletionWatcher", "run_worker"]

log = logging.getLogger(__name__)

#: Pauses between sweeps after a nudge: the outcome is stored just after the job returns.
_AFTER_RUN_BACKOFF = (0.0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32)


def terminal_event(job: Job) -> JobEvent | None:
    """The event that announces a finished job, or None while it is not finished."""
    if job.state is JobState.SUCCEEDED:
        return JobCompleted(job.id, job.result or Report())
    if job.state is JobState.FAILED:
        return JobFailed(job.id, job.error or "unknown error")
    if job.state is JobState.CANCELLED:
        return JobCancelled(job.id)
    return None


class CompletionWatcher:
    """Announces the outcome of the jobs that started in this process, once stored."""

    def __init__(
        self,
        find: Callable[[list[str]], Iterable[Job]],
        publish: Callable[[JobEvent], None],
        interval: float,
    ) -> None:
        self._find = find
        self._publish = publish
        self._interval = interval
        self._tracked: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._nudged = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="brainsync-job-watcher", daemon=True
        )
        self._failing = False

    def start(self) -> None:
        """Start watching in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop, after a last look so that outcomes stored just now are announced."""
        self._stop.set()
        self._nudged.set()
        self._thread.join()
        self.sweep()

    def observe(self, event: JobEvent) -> None:
        """Follow a job from its start on (wired in front of the event hub)."""
        if isinstance(event, JobStarted):
            with self._lock:
                self._tracked.add(event.job_id)

    def tracks(self, job_id: str) -> bool:
        """Whether this watcher will announce the outcome of ``job_id``."""
        with self._lock:
            return job_id in self._tracked

    def sweep(self) -> None:
        """Announce every followed job that has finished."""
        with self._lock:
            ids = sorted(self._tracked)
        if not ids:
            return
        for job in self._find(ids):
            event = terminal_event(job)
            if event is None:
                continue
            with self._lock:
                self._tracked.discard(job.id)
            self._publish(event)

    def nudge(self) -> None:
        """A job's code just returned here: its outcome is stored a moment later."""
        self._nudged.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            nudged = self._nudged.wait(self._interval)
            self._nudged.clear()
            for pause in _AFTER_RUN_BACKOFF if nudged else (0.0,):
                if self._stop.wait(pause) or not self._sweep_safely():
                    break

    def _sweep_safely(self) -> bool:
        """Sweep; whether jobs are still awaited (a nudge retries until they are told)."""
        try:
            self.sweep()
            self._failing = False
        except Exception as exc:
            # A store hiccup must not kill the watcher; the next sweep retries. One warning
            # per outage, not one traceback per look while the job store is away.
            if not self._failing:
                log.warning("job completion watcher failed, retrying: %s", type(exc).__name__)
            log.debug("job completion watcher failed", exc_info=True)
            self._failing = True
        with self._lock:
            return bool(self._tracked) and not self._nudged.is_set()


def run_worker(service: JobService, stop: threading.Event) -> None:
    """Run jobs until ``stop`` is set: the body of ``brainsync worker``.

    ``service`` must have been opened with ``start_worker=True``; its background threads
    do the work, this call only keeps the process in it until asked to stop.
    """
    if not service.worker_running:
        raise JobError("this job service was opened without a worker")
    stop.wait()
