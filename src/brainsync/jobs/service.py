"""The job facade: enqueue, status, list, cancel, resume, wait, events.

:class:`JobService` is what the app facade holds. It speaks only in brainsync records
(:class:`Job`, :class:`Progress`, the events of :mod:`brainsync.jobs.events`); the engine
behind it (DBOS Transact, :mod:`brainsync.jobs.engine`) is imported when a service opens,
never when ``brainsync.jobs`` is imported, so quick commands stay quick.

Modes:

* ``start_worker=True`` (the laptop default, and ``brainsync worker``): this process also
  runs jobs, in background threads. DBOS is process-global, so **a process runs at most
  one worker service**; any number of services without a worker may coexist.
* ``start_worker=False``: enqueue and observe only; any process with a worker on the same
  system database picks the jobs up.

Crash recovery (catalogue K1): a worker that starts with the executor id of a killed one
resumes that worker's jobs from the chunk in flight. Executor ids must therefore be unique
among live workers and stable across restarts of one worker (the default is the host
name: one worker per host). A host that never comes back is handled by
:meth:`JobService.recover` (all jobs of its executor id) or :meth:`JobService.resume` of a
job reported ``stalled``.

Hosts (architecture.md, "Scale-out"): ``host`` names the machine this service runs on.
A job queued for a host (``enqueue(..., host=H)``) runs only on a worker of ``H``; a job
queued without one (a shared folder) runs on any worker. Every worker writes a heartbeat
(:mod:`brainsync.jobs.hosts`) that :meth:`JobService.hosts` reads, and
:meth:`JobService.takeover` moves a dead worker's shared job to the live ones.

Progress is stored by the running job in the system database after every chunk, so
:meth:`status` and :meth:`wait` see it from any process. Events reach :meth:`subscribe`
callbacks only in the process that runs the job; elsewhere, :meth:`wait` with
``on_progress`` polls.
"""

from __future__ import annotations

import builtins
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from brainsync.errors import BrainsyncError, InvalidInputError, JobError
from brainsync.events import EventBus
from brainsync.jobs.events import JobCancelled, JobEvent
from brainsync.jobs.hosts import Heartbeat, WorkerRecord, WorkerRegistry, mark_interrupted
from brainsync.jobs.lock import WorkerLock
from brainsync.jobs.operation import OperationFactory
from brainsync.jobs.plans import PlanPages
from brainsync.jobs.records import Job, JobFailure, JobState
from brainsync.jobs.redact import redact
from brainsync.jobs.worker import CompletionWatcher

if TYPE_CHECKING:
    from brainsync.jobs.engine import DbosEngine

__all__ = ["JobService", "default_executor_id", "default_system_db_url"]

#: How often :meth:`JobService.wait` looks at a job run elsewhere (one run here wakes it).
_WAIT_POLL_SECONDS = 0.1


def default_executor_id() -> str:
    """This host's worker identity: stable across restarts, so recovery finds its jobs."""
    return socket.gethostname() or "localhost"


def default_system_db_url(home: Path) -> str:
    """The job store of a brainsync home: a SQLite file beside the database."""
    return f"sqlite:///{home / 'jobs.sqlite'}"


@contextmanager
def _store_errors(url: str) -> Iterator[None]:
    """Translate engine and driver errors into JobError at the facade's boundary."""
    try:
        yield
    except BrainsyncError:
        raise
    except Exception as exc:
        # a driver's text may quote the URL it was given (catalogue S3)
        raise JobError(f"job store error: {redact(exc, url)}") from exc


class JobService:
    """Durable background jobs: the caller gets an id at once, a worker runs the job."""

    def __init__(
        self,
        system_db_url: str,
        factory: OperationFactory,
        *,
        executor_id: str | None = None,
        host: str | None = None,
        heartbeat_seconds: float = 2.0,
        dead_after_seconds: float = 10.0,
        deadline_seconds: float = 3600.0,
        start_worker: bool = True,
        brief: bool = False,
        poll_interval_seconds: float = 1.0,
        worker_concurrency: int | None = None,
        retry_attempts: int = 5,
        retry_interval_seconds: float = 0.5,
        shutdown_timeout_seconds: float = 30.0,
        log_file: Path | None = None,
        standby: WorkerLock | None = None,
    ) -> None:
        # Deferred: importing the engine imports dbos (about 0.2 s).
        from brainsync.jobs.engine import DbosEngine

        self._factory = factory
        self._poll = poll_interval_seconds
        self._retry = (retry_attempts, retry_interval_seconds)
        self._shutdown_timeout = shutdown_timeout_seconds
        self._hub: EventBus[JobEvent] = EventBus()
        self._watcher: CompletionWatcher | None = None
        self._closed = False
        self._url = system_db_url
        self._executor_id = executor_id or default_executor_id()
        self._host = host or default_executor_id()
        self._beat = (heartbeat_seconds, dead_after_seconds)
        self._registry: WorkerRegistry | None = None
        self._heartbeat: Heartbeat | None = None
        self._plans: PlanPages | None = None
        #: The worker lock another process held at open: taken, and this process made the
        #: worker, once it frees (catalogue C5: a waiter never waits on a worker that left).
        self._standby = None if start_worker else standby
        #: Jobs an interrupted worker of this executor id left, resumed by this one.
        self._resumed: builtins.list[str] = []
        self._brief = brief
        self._mode = threading.RLock()
        self._engine: DbosEngine = DbosEngine(
            system_db_url,
            executor_id=self._executor_id,
            host=self._host,
            deadline_seconds=deadline_seconds,
            poll_interval_seconds=poll_interval_seconds,
            worker_concurrency=worker_concurrency,
            log_file=log_file,
        )
        if start_worker:
            self._start_worker(brief)

    def _start_worker(self, brief: bool) -> None:
        from brainsync.jobs.workflow import WorkerBinding

        watcher = CompletionWatcher(self._engine.find, self._hub.publish, self._poll)

        def publish(event: JobEvent) -> None:
            watcher.observe(event)
            self._hub.publish(event)

        with _store_errors(self._url):
            self._plans = PlanPages(self._url)
            # the same lock is held, so these were left by a worker that died (K1)
            self._resumed = sorted(self._engine.running_here())
        binding = WorkerBinding(
            factory=self._factory,
            publish=publish,
            control=self._engine,
            stopping=threading.Event(),
            retry_attempts=self._retry[0],
            retry_interval_seconds=self._retry[1],
            plans=self._plans,
        )
        try:
            self._engine.start_worker(binding, after_run=watcher.nudge, brief=brief)
        except BaseException:
            self._plans.close()
            self._engine.close()
            raise
        watcher.start()
        self._watcher = watcher
        try:
            self._start_heartbeat()
        except BaseException:
            self.close()
            raise

    def _start_heartbeat(self) -> None:
        with _store_errors(self._url):
            heartbeat = Heartbeat(self._workers(), self._executor_id, self._host, self._beat[0])
            heartbeat.start()
        self._heartbeat = heartbeat

    def _workers(self) -> WorkerRegistry:
        if self._registry is None:
            self._registry = WorkerRegistry(self._url, dead_after_seconds=self._beat[1])
        return self._registry

    # -- lifecycle -----------------------------------------------------------------

    @property
    def worker_running(self) -> bool:
        """Whether this process executes jobs."""
        return self._watcher is not None

    def resumed_here(self) -> builtins.list[Job]:
        """The interrupted jobs this worker took back when it started (they run first)."""
        if not self._resumed:
            return []
        with _store_errors(self._url):
            return self._engine.find(self._resumed)

    def take_over_if_free(self) -> bool:
        """Become this process's worker if the worker lock another one held is free now.

        A process that could not take the lock only enqueues and observes; when the worker
        that held it leaves (a command that ran its own job and exits), a job queued here
        would wait for nobody. So whoever waits calls this: True when this process has just
        started running jobs. Never after :meth:`close`.
        """
        if self._standby is None or self._watcher is not None:
            return False
        with self._mode:
            if self._closed or self._watcher is not None or not self._standby.acquire():
                return False
            try:
                self._start_worker(self._brief)
            except BaseException:
                self._standby.release()
                raise
            return True

    def close(self) -> None:
        """Stop the worker (jobs stop at a chunk boundary and are handed back), then close."""
        with self._mode:  # a worker taken over meanwhile is stopped too
            if self._closed:
                return
            self._closed = True
        self._close()

    def _close(self) -> None:
        if self._watcher is not None:
            self._engine.stop_worker(self._shutdown_timeout)
            self._watcher.stop()
            self._watcher = None
        if self._heartbeat is not None:
            # after the jobs were handed back: "stopped" promises none runs here
            self._heartbeat.stop()
            self._heartbeat = None
        if self._registry is not None:
            self._registry.close()
        if self._plans is not None:
            self._plans.close()
        self._engine.close()

    def __enter__(self) -> JobService:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- jobs ----------------------------------------------------------------------

    def enqueue(
        self, kind: str, params: dict[str, Any], *, lane: str, host: str | None = None
    ) -> str:
        """Queue a job and return its id at once; jobs of one ``lane`` never overlap.

        ``host``: only a worker of that host runs it; None: any worker (a shared folder).
        """
        if not kind or not lane:
            raise InvalidInputError("a job needs a kind and a lane")
        try:
            json.dumps(params)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"job parameters must be JSON: {exc}") from exc
        with _store_errors(self._url):
            job_id = self._engine.enqueue(kind, params, lane, host)
        self.take_over_if_free()
        return job_id

    def status(self, job_id: str) -> Job:
        """The job as last recorded; NotFoundError if there is no such job."""
        with _store_errors(self._url):
            return self._interrupted([self._engine.get(job_id)])[0]

    def list(self, state: JobState | None = None, limit: int = 50) -> list[Job]:
        """The newest jobs first, optionally only those in ``state``."""
        with _store_errors(self._url):
            return self._interrupted(self._engine.newest(state, limit))

    def _interrupted(self, jobs: builtins.list[Job]) -> builtins.list[Job]:
        """``jobs``, a running one marked when its worker's heartbeat stopped."""
        if not any(job.state is JobState.RUNNING for job in jobs):
            return jobs
        return mark_interrupted(jobs, self._workers().workers())

    def cancel(self, job_id: str, *, force: bool = False) -> Job:
        """Cancel a job: a queued one at once, a running one at its next chunk boundary.

        A stalled job (or any job with ``force=True``) is marked cancelled at once, which
        frees its lane even though a hung chunk may still be running somewhere.
        """
        with _store_errors(self._url):
            before = self._engine.get(job_id)
            job = self._engine.cancel(job_id, force=force or before.stalled)
        watched = self._watcher is not None and self._watcher.tracks(job_id)
        if job.state is JobState.CANCELLED and not before.state.finished and not watched:
            self._hub.publish(JobCancelled(job_id))
        return job

    def resume(self, job_id: str) -> Job:
        """Restart a cancelled or crashed job from its last finished chunk.

        An interrupted job (its worker's heartbeat stopped) is queued again on its own
        queue, so a worker of its host takes it; a live worker's job is never touched.
        """
        job = self.status(job_id)
        with _store_errors(self._url):
            if job.interrupted is not None:
                self._engine.reclaim(job_id, job.interrupted.executor)
                return self._engine.get(job_id)
            return self._engine.resume(job_id)

    def recover(self, executor_id: str) -> builtins.list[str]:
        """Queue again the jobs a dead worker left running; returns their ids."""
        with _store_errors(self._url):
            return self._engine.recover(executor_id)

    def hosts(self) -> builtins.list[WorkerRecord]:
        """Every worker that ever beat on this job store, alive or not, by host."""
        with _store_errors(self._url):
            return self._workers().workers()

    def takeover(self, job_id: str) -> Job:
        """Move a running job of a shared folder off its dead worker, to any live one.

        Refused while that worker's heartbeat is fresh (it would run twice) and for a
        folder on one host (it resumes when that host's worker returns).
        """
        with _store_errors(self._url):
            job = self._engine.get(job_id)
            _check_takeover(job, self._workers())
            assert job.executor is not None
            if not self._engine.reclaim(job_id, job.executor):
                raise JobError(f"job {job_id} moved meanwhile; `brainsync job show {job_id}`")
            return self._engine.get(job_id)

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        on_progress: Callable[[Job], None] | None = None,
    ) -> Job:
        """Block until the job finishes and return it; JobError after ``timeout`` seconds.

        ``on_progress`` is called with the job whenever its state or progress changed.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        # A job run here announces its progress and end: look then, not at the next poll.
        changed = threading.Event()
        unsubscribe = self._hub.subscribe(
            lambda event: changed.set() if event.job_id == job_id else None
        )
        seen: tuple[object, ...] | None = None
        try:
            while True:
                changed.clear()
                with _store_errors(self._url):  # without the heartbeat read of status()
                    job = self._engine.get(job_id)
                if on_progress is not None and (job.state, job.progress) != seen:
                    seen = (job.state, job.progress)
                    on_progress(job)
                if job.state.finished:
                    return job
                failed = self._engine.failures.settled(job_id)
                if failed is not None:
                    return _failed_unrecorded(job, failed)
                if self.take_over_if_free():
                    continue  # its dispatcher claims the queued jobs at once
                if deadline is not None and time.monotonic() >= deadline:
                    raise JobError(f"job {job_id} still {job.state.value} after {timeout} s")
                changed.wait(_WAIT_POLL_SECONDS)
        finally:
            unsubscribe()

    def subscribe(self, callback: Callable[[JobEvent], None]) -> Callable[[], None]:
        """Call ``callback`` with the events of jobs run here; returns an unsubscribe."""
        return self._hub.subscribe(callback)


def _failed_unrecorded(job: Job, error: BrainsyncError) -> Job:
    """``job`` as failed with ``error``, which its record could not take (a full disk)."""
    failure = JobFailure(type(error).__name__, str(error), error.exit_code)
    text = f"{failure.type}: {failure.message}"
    return replace(job, state=JobState.FAILED, error=text, failure=failure)


def _check_takeover(job: Job, workers: WorkerRegistry) -> None:
    """Refuse a takeover that could run a job twice or on a host without its folder."""
    if job.state is not JobState.RUNNING or job.executor is None:
        raise JobError(f"job {job.id} is {job.state.value}; only a running job is taken over")
    if job.host is not None:
        raise JobError(
            f"job {job.id} is of a folder on host {job.host!r}; it resumes when a worker "
            "of that host starts again (only a shared folder's job moves to another host)"
        )
    worker = workers.worker(job.executor)
    if worker is not None and worker.alive:
        raise JobError(
            f"worker {job.executor!r} on host {worker.host!r} is alive (seen "
            f"{worker.silent_seconds:.0f} s ago); a takeover would run job {job.id} twice"
        )
