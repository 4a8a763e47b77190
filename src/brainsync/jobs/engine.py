"""The binding of the job layer to DBOS Transact 3.4: the only place that knows DBOS.

Imported lazily by :class:`~brainsync.jobs.service.JobService` (importing ``dbos`` costs
about a second, and quick commands never open the job store). Nothing DBOS-typed leaves
this module: it hands back :class:`~brainsync.jobs.records.Job` records and job ids.

Control and execution are split:

* every process talks to the system database through a ``DBOSClient`` (enqueue, status,
  cancel, resume, progress). A client never recovers anything, so a CLI process cannot
  accidentally adopt the jobs of a worker that shares its executor id;
* only a worker launches the process-global ``DBOS`` runtime, which polls the queue,
  runs jobs and, at launch, recovers the jobs its executor id left PENDING.

**Lanes** (catalogue C3). All jobs go to one queue registered in the system database
with ``partition_concurrency=1``; a job's lane is its ``queue_partition_key``. DBOS admits
a partition's next job only while no job of that partition is PENDING, and checks this
inside the claiming transaction on the shared database, so the rule holds across worker
processes and hosts, not just within one process. Lanes are independent: a stalled job
holds only its own lane. Cancel, resume and crash recovery keep the partition key, so a
resumed job waits for its lane like a new one.

**Logs.** DBOS logs a failed job's full traceback on its process-global ``dbos`` logger,
and at launch gives that logger a console handler unless it has one already. Given a
``log_file``, the engine hands the logger a file handler first, so the traceback goes to
the file while the job record keeps the error, and the user's terminal stays readable.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from dbos import DBOS, DBOSClient, EnqueueOptions, WorkflowStatus

from brainsync.errors import JobError, NotFoundError, named_in
from brainsync.jobs.records import NO_PROGRESS, Job, JobFailure, JobState, Progress
from brainsync.jobs.workflow import PROGRESS_EVENT, WORKFLOW_NAME, WorkerBinding, bind, unbind
from brainsync.report import Report

__all__ = ["APP_VERSION", "QUEUE_NAME", "DbosEngine"]

APP_NAME = "brainsync"
#: Pinned so that a restarted worker recovers the jobs of its predecessor (DBOS only
#: recovers workflows of its own application version). Bump only with a migration plan.
APP_VERSION = "brainsync-jobs-1"
QUEUE_NAME = "brainsync-jobs"
_CANCEL_FLAG = "cancel_requested"

_STATES = {
    "ENQUEUED": JobState.QUEUED,
    "DELAYED": JobState.QUEUED,
    "PENDING": JobState.RUNNING,
    "SUCCESS": JobState.SUCCEEDED,
    "ERROR": JobState.FAILED,
    "MAX_RECOVERY_ATTEMPTS_EXCEEDED": JobState.FAILED,
    "CANCELLED": JobState.CANCELLED,
}
_GAVE_UP = "MAX_RECOVERY_ATTEMPTS_EXCEEDED"
_DBOS_LOGGER = "dbos"


class DbosEngine:
    """Jobs stored and run by DBOS in one system database."""

    def __init__(
        self,
        system_db_url: str,
        *,
        executor_id: str,
        deadline_seconds: float,
        poll_interval_seconds: float,
        worker_concurrency: int | None = None,
        log_file: Path | None = None,
    ) -> None:
        self._url = system_db_url
        self._executor_id = executor_id
        self._deadline = deadline_seconds
        self._poll = poll_interval_seconds
        self._worker: WorkerBinding | None = None
        self._active: set[str] = set()
        self._stopped: set[str] = set()
        self._active_changed = threading.Condition()
        # Before anything of DBOS runs: even opening the store may log.
        self._log = _open_log(log_file) if log_file is not None else None
        try:
            self._client = _open_client(system_db_url, poll_interval_seconds, worker_concurrency)
        except BaseException:
            self._close_log()
            raise

    # -- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        """Release the client's connections and the log file (stop the worker first)."""
        try:
            self._client.destroy()
        finally:
            self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            _close_log(self._log)
            self._log = None

    def start_worker(self, binding: WorkerBinding) -> None:
        """Launch the DBOS runtime in this process; it runs and recovers jobs."""
        bind(binding)
        self._worker = binding
        try:
            DBOS(
                config={
                    "name": APP_NAME,
                    "system_database_url": self._url,
                    "application_version": APP_VERSION,
                    "executor_id": self._executor_id,
                    "log_level": "WARNING",
                    "notification_listener_polling_interval_sec": self._poll,
                }
            )
            DBOS.launch()
        except Exception as exc:
            self._worker = None
            unbind()
            DBOS.destroy()
            raise JobError(f"cannot start the job worker: {exc}") from exc

    def stop_worker(self, timeout: float) -> None:
        """Stop running jobs at their next chunk boundary, then shut DBOS down.

        Jobs stopped this way are handed back to the queue with their checkpoints, so any
        worker (or this one, restarted) resumes them. A chunk still running after
        ``timeout`` seconds is abandoned; its job stays with this executor id, and DBOS
        recovers it when a worker starts with that id again.
        """
        binding = self._worker
        if binding is None:
            return
        binding.stopping.set()
        deadline = time.monotonic() + timeout
        with self._active_changed:
            while self._active and time.monotonic() < deadline:
                self._active_changed.wait(deadline - time.monotonic())
            stopped = self._stopped - self._active
        # Hand back only after DBOS stopped dequeuing, or it could claim them again.
        DBOS.destroy()
        unbind()
        self._worker = None
        for job_id in sorted(stopped):
            self._reclaim(job_id, self._executor_id)

    # -- RunControl (called by running workflows) ----------------------------------

    def cancel_requested(self, job_id: str) -> bool:
        """Whether a cancel was requested (read fresh: this is not a checkpointed step)."""
        found = self._client.list_workflows(
            workflow_ids=[job_id], load_input=False, load_output=False
        )
        return bool(found and (found[0].attributes or {}).get(_CANCEL_FLAG))

    def cancel_now(self, job_id: str) -> None:
        """Record the job as cancelled."""
        self._client.cancel_workflow(job_id)

    def run_started(self, job_id: str) -> None:
        """Count the job as running here (``stop_worker`` waits for these)."""
        with self._active_changed:
            self._active.add(job_id)

    def run_stopped(self, job_id: str) -> None:
        """Remember a job stopped by the shutdown: ``stop_worker`` hands it back."""
        with self._active_changed:
            self._stopped.add(job_id)

    def run_ended(self, job_id: str) -> None:
        """The job's code left this process."""
        with self._active_changed:
            self._active.discard(job_id)
            self._active_changed.notify_all()

    # -- control -------------------------------------------------------------------

    def enqueue(self, kind: str, params: dict[str, Any], lane: str) -> str:
        """Store a new queued job and return its id (the plan runs inside the job)."""
        job_id = str(uuid.uuid4())
        options: EnqueueOptions = {
            "workflow_name": WORKFLOW_NAME,
            "queue_name": QUEUE_NAME,
            "workflow_id": job_id,
            "app_version": APP_VERSION,
            "queue_partition_key": lane,
        }
        self._client.enqueue(options, kind, params, lane)
        return job_id

    def get(self, job_id: str) -> Job:
        """The job ``job_id``; NotFoundError if there is none."""
        found = self.find([job_id])
        if not found:
            raise NotFoundError(f"no job {job_id!r}")
        return found[0]

    def find(self, job_ids: list[str]) -> list[Job]:
        """The jobs among ``job_ids`` that exist."""
        rows = self._client.list_workflows(workflow_ids=job_ids, name=WORKFLOW_NAME)
        return [self._job(row) for row in rows]

    def newest(self, state: JobState | None, limit: int) -> list[Job]:
        """The newest ``limit`` jobs, optionally only those in ``state``."""
        statuses = None
        if state is not None:
            statuses = [name for name, mapped in _STATES.items() if mapped is state]
        rows = self._client.list_workflows(
            name=WORKFLOW_NAME, status=statuses, limit=limit, sort_desc=True
        )
        return [self._job(row) for row in rows]

    def cancel(self, job_id: str, *, force: bool) -> Job:
        """Cancel: at once if queued (or forced), else at the running job's next boundary."""
        job = self.get(job_id)
        if job.state.finished:
            return job
        # The flag first: a job claimed between our read and a cancel still sees it.
        self._client.update_workflow_attributes(job_id, {_CANCEL_FLAG: True}, merge=True)
        if force or job.state is JobState.QUEUED:
            self._client.cancel_workflow(job_id)
        return self.get(job_id)

    def resume(self, job_id: str) -> Job:
        """Queue a cancelled or crashed job again; it resumes from its last checkpoint."""
        row = self._row(job_id)
        job = self._job(row)
        if row.status in ("CANCELLED", _GAVE_UP):
            self._client.update_workflow_attributes(job_id, {_CANCEL_FLAG: False}, merge=True)
            # Cancel took the job off its queue; put it back on ours (the lane is kept).
            self._client.resume_workflow(job_id, queue_name=QUEUE_NAME)
        elif row.status == "PENDING" and self.cancel_requested(job_id):
            # Not stopped yet: withdrawing the request is the resumption.
            self._client.update_workflow_attributes(job_id, {_CANCEL_FLAG: False}, merge=True)
        elif row.status == "PENDING" and job.stalled:
            # Past its deadline: treat its worker as dead (a dead host's job, K1/K3).
            self._reclaim(job_id, row.executor_id)
        elif row.status == "PENDING":
            raise JobError(f"job {job_id} is running; resuming it would run it twice")
        elif job.state is not JobState.QUEUED:
            raise JobError(f"job {job_id} is {job.state.value}; only a stopped job resumes")
        return self.get(job_id)

    def recover(self, executor_id: str) -> list[str]:
        """Queue again the running jobs of a dead worker; they resume from checkpoints.

        DBOS itself recovers only the jobs of the executor id a worker starts with; this
        is the supported path for a host that will not come back. The caller asserts that
        ``executor_id`` is dead: a live worker's jobs would run twice.
        """
        rows = self._client.list_workflows(
            name=WORKFLOW_NAME, status="PENDING", executor_id=executor_id, load_output=False
        )
        return [row.workflow_id for row in rows if self._reclaim(row.workflow_id, executor_id)]

    # -- translation ---------------------------------------------------------------

    def _reclaim(self, job_id: str, executor_id: str | None) -> bool:
        if executor_id is None:
            return False
        # Conditional on PENDING and that executor: a second recovery is a no-op.
        return bool(self._client._sys_db.reenqueue_for_recovery(job_id, [executor_id], QUEUE_NAME))

    def _row(self, job_id: str) -> WorkflowStatus:
        rows = self._client.list_workflows(workflow_ids=[job_id], name=WORKFLOW_NAME)
        if not rows:
            raise NotFoundError(f"no job {job_id!r}")
        return rows[0]

    def _progress(self, job_id: str) -> Progress:
        value = self._client.get_event(job_id, PROGRESS_EVENT, timeout_seconds=0)
        return Progress.from_dict(value) if isinstance(value, dict) else NO_PROGRESS

    def _job(self, row: WorkflowStatus) -> Job:
        state = _STATES.get(row.status, JobState.FAILED)
        kind, params, lane = _inputs(row)
        started = _time(row.dequeued_at) if state is not JobState.QUEUED else None
        error = _error(row) if state is JobState.FAILED else None
        return Job(
            id=row.workflow_id,
            kind=kind,
            params=params,
            state=state,
            progress=self._progress(row.workflow_id),
            created=_time(row.created_at) or datetime.now(UTC),
            started=started,
            finished=_time(row.completed_at) if state.finished else None,
            result=_result(row) if state is JobState.SUCCEEDED else None,
            error=error,
            stalled=state is JobState.RUNNING and self._is_stalled(started),
            directory_lock=row.queue_partition_key or lane,
            failure=None if error is None else _failure(error),
        )

    def _is_stalled(self, started: datetime | None) -> bool:
        if started is None:
            return False
        return (datetime.now(UTC) - started).total_seconds() > self._deadline


def _inputs(row: WorkflowStatus) -> tuple[str, dict[str, Any], str | None]:
    args = tuple(row.input["args"]) if isinstance(row.input, dict) else ()
    kind = str(args[0]) if args else "?"
    params = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
    lane = str(args[2]) if len(args) > 2 else None
    return kind, params, lane


def _time(epoch_ms: int | None) -> datetime | None:
    return None if epoch_ms is None else datetime.fromtimestamp(epoch_ms / 1000, UTC)


def _result(row: WorkflowStatus) -> Report | None:
    return Report.from_dict(row.output) if isinstance(row.output, dict) else None


def _error(row: WorkflowStatus) -> str:
    if row.status == _GAVE_UP:
        return "the job's worker crashed too many times; resume it to try again"
    return str(row.error) if row.error is not None else "unknown error"


def _failure(error: str) -> JobFailure:
    # The workflow stores the error as text naming the class it started from.
    cls, message = named_in(error)
    return JobFailure(cls.__name__, message, cls.exit_code)


def _open_client(url: str, poll_interval: float, worker_concurrency: int | None) -> DBOSClient:
    try:
        # A client never creates the schema; the first process to open the store does.
        DBOS.migrate(url)
        # A lost job store must surface as an error, not block a command (or a thread
        # that outlives its service) in a retry loop forever.
        client = DBOSClient(
            system_database_url=url, application_name=APP_NAME, retry_connection_errors=False
        )
        client.register_queue(
            QUEUE_NAME,
            partition_concurrency=1,
            # jobs one worker process runs at once (a queue setting: one value for all)
            worker_concurrency=worker_concurrency,
            polling_interval_sec=poll_interval,
            on_conflict="always_update",
            application_name=APP_NAME,
        )
    except Exception as exc:
        raise JobError(f"cannot open the job store {url!r}: {exc}") from exc
    return client


# The ``dbos`` logger is process-global, so engines writing to one file share a handler:
# each open log file with its handler and the number of engines using it.
_log_files: dict[Path, tuple[logging.Handler, int]] = {}
_log_files_lock = threading.Lock()
#: The engine's logger and brainsync's own (a subscriber that failed, a temp file swept):
#: while a job engine is open both go to the log file, not to stderr.
_LOGGERS = (_DBOS_LOGGER, "brainsync")


def _open_log(path: Path) -> Path:
    """Send the ``dbos`` and ``brainsync`` loggers to ``path`` until as many
    :func:`_close_log` calls."""
    path = path.resolve()
    with _log_files_lock:
        handler, users = _log_files.get(path) or (_file_handler(path), 0)
        if not users:
            for name in _LOGGERS:
                logging.getLogger(name).addHandler(handler)
        _log_files[path] = (handler, users + 1)
    return path


def _close_log(path: Path) -> None:
    with _log_files_lock:
        handler, users = _log_files.pop(path)
        if users > 1:
            _log_files[path] = (handler, users - 1)
            return
        for name in _LOGGERS:
            logging.getLogger(name).removeHandler(handler)
    handler.close()


def _file_handler(path: Path) -> logging.Handler:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Bounded: it is a trail of engine failures, not an archive; opened on first record.
    handler = RotatingFileHandler(
        path, maxBytes=1_000_000, backupCount=1, encoding="utf-8", delay=True
    )
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    )
    return handler
