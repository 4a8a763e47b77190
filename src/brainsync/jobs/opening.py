"""Opening the job service a brain's settings describe, as a worker when this process may be.

Imports the job engine (DBOS): only called when a command really runs or controls jobs.
"""

from __future__ import annotations

from brainsync.config import Settings
from brainsync.errors import BrainsyncError, DiskFullError, JobError, disk_full
from brainsync.jobs.lock import WorkerLock
from brainsync.jobs.operation import OperationFactory
from brainsync.jobs.service import JobService

__all__ = ["open_job_service"]


def open_job_service(
    settings: Settings,
    factory: OperationFactory,
    *,
    worker: bool,
    require_worker: bool,
    brief: bool = False,
) -> tuple[JobService, WorkerLock | None]:
    """The job service, and this process's worker lock (held while it runs jobs).

    Only one process per executor id runs jobs (a lock in the state folder): when another
    live worker holds it, this process enqueues and observes, and that worker does the
    work, unless ``require_worker`` makes that an error. The service takes the lock, and
    runs jobs, once that worker leaves while this process waits for a job
    (:meth:`~brainsync.jobs.service.JobService.take_over_if_free`). ``brief``: the process
    exits once its own job is done (see :meth:`~brainsync.jobs.engine.DbosEngine.start_worker`).
    """
    try:
        settings.state_home.mkdir(parents=True, exist_ok=True)
        lock = WorkerLock(settings.state_home, settings.executor_id, settings.jobs_url)
        held = worker and _take_worker_lock(lock, settings, require_worker)
    except OSError as exc:
        raise _unusable(settings, exc) from exc
    try:
        service = JobService(
            settings.jobs_url,
            factory,
            executor_id=settings.executor_id,
            host=settings.host,
            heartbeat_seconds=settings.heartbeat_seconds,
            dead_after_seconds=settings.host_dead_seconds,
            deadline_seconds=settings.job_deadline_seconds,
            poll_interval_seconds=settings.job_poll_seconds,
            start_worker=held,
            brief=brief,
            worker_concurrency=settings.worker_concurrency,
            log_file=settings.state_home / "brainsync.log",
            standby=lock if worker else None,
        )
    except BaseException:
        lock.release()
        raise
    return service, lock


def _unusable(settings: Settings, exc: OSError) -> BrainsyncError:
    """The state folder cannot hold the worker's lock: a full disk, or no permission."""
    home = settings.state_home
    if disk_full(exc):
        return DiskFullError(
            f"disk full: no space left in the state folder {home}; no job was run. "
            "Free space there, then run the command again"
        )
    return JobError(
        f"cannot use the state folder {home}: {exc.strerror or exc}; give this user "
        "access to it, or choose another one with --home (BRAINSYNC_HOME)"
    )


def _take_worker_lock(lock: WorkerLock, settings: Settings, required: bool) -> bool:
    if lock.acquire():
        return True
    if required:
        raise JobError(
            f"a worker with executor id {settings.executor_id!r} already runs here "
            f"({lock.path}); give this one another BRAINSYNC_EXECUTOR_ID"
        )
    return False
