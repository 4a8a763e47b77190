"""The binding of the job layer to DBOS Transact 3.4: the only place that knows DBOS.

Imported lazily by :class:`~brainsync.jobs.service.JobService` (importing ``dbos`` costs
about 0.2 s; quick commands read the job store without it, :mod:`.reader`). Nothing
DBOS-typed leaves this module: it hands back :class:`~brainsync.jobs.records.Job` records
and job ids.

Control and execution are split:

* every process talks to the system database through a ``DBOSClient`` (enqueue, status,
  cancel, resume, progress). A client never recovers anything, so a CLI process cannot
  accidentally adopt the jobs of a worker that shares its executor id;
* only a worker launches the process-global ``DBOS`` runtime: it runs the jobs its
  dispatcher claims (:mod:`.dispatch`), and recovers its executor's PENDING jobs at launch.
  DBOS's private parts are reached here (re-queueing a dead worker's job) and in
  :mod:`.dispatch`, each place pinned by a test that fails when DBOS moves it.

**Hosts.** A job waits on the queue of the host its folder lives on, or on the shared
queue for a folder every host reaches (:mod:`brainsync.jobs.queues`); a worker claims
from its own host's queue and the shared one (:mod:`brainsync.jobs.dispatch`), so a job
runs only on a worker that can reach its folder.

**Lanes** (catalogue C3). Every queue is registered in the system database with
``partition_concurrency=1``; a job's lane is its ``queue_partition_key``. DBOS admits
a partition's next job only while no job of that partition is PENDING, and checks this
inside the claiming transaction on the shared database, so the rule holds across worker
processes and hosts, not just within one process. (On SQLite that check reads before the
write lock is taken, so two claimers racing could both admit a lane; a process therefore
claims from one thread only, and SQLite serves one worker process per job store.) Lanes
are independent: a stalled job holds only its own lane. Cancel, resume and crash recovery
keep the partition key, so a resumed job waits for its lane like a new one.

**Logs.** DBOS logs a failed job's full traceback on its process-global ``dbos`` logger,
and at launch gives that logger a console handler unless it has one already. Given a
``log_file``, the engine hands the logger a file handler first, so the traceback goes to
the file while the job record keeps the error, and the user's terminal stays readable.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dbos import DBOS, DBOSClient, DBOSConfig, EnqueueOptions, WorkflowStatus

from brainsync.errors import BrainsyncError, JobError, NotFoundError, disk_full
from brainsync.jobs.dispatch import Dispatcher, quiet_dbos_pollers
from brainsync.jobs.journal import prefer_write_ahead_log
from brainsync.jobs.logfile import close_log, open_log
from brainsync.jobs.outcomes import LocalFailures, job_store_full, store_folder
from brainsync.jobs.queues import SHARED_QUEUE, queue_for
from brainsync.jobs.records import NO_PROGRESS, Job, JobState, Progress
from brainsync.jobs.redact import redact, redact_url
from brainsync.jobs.rows import GAVE_UP, QUEUE_ATTR, job_of, queue_of, statuses_of
from brainsync.jobs.workflow import PROGRESS_EVENT, WORKFLOW_NAME, WorkerBinding, bind, unbind
from brainsync.store.pg_setup import connect_failure

__all__ = ["APP_VERSION", "QUEUE_NAME", "DbosEngine", "worker_config"]

APP_NAME = "brainsync"
#: Pinned so that a restarted worker recovers the jobs of its predecessor (DBOS only
#: recovers workflows of its own application version). Bump only with a migration plan.
APP_VERSION = "brainsync-jobs-1"
QUEUE_NAME = SHARED_QUEUE
_CANCEL_FLAG = "cancel_requested"
_UNFINISHED = ["ENQUEUED", "DELAYED", "PENDING"]
#: DBOS's notification listener's nap in a long-lived worker, and in a brief one.
_NAP_SECONDS = 0.1
_BRIEF_NAP_SECONDS = 0.01


def worker_config(url: str, executor_id: str, poll: float, *, brief: bool) -> DBOSConfig:
    """The DBOS runtime's configuration for a worker in this process."""
    return {
        "name": APP_NAME,
        "system_database_url": url,
        "application_version": APP_VERSION,
        "executor_id": executor_id,
        "log_level": "WARNING",
        # statement parameters can hold note text: never in an error or log line
        "db_engine_kwargs": {"hide_parameters": True},
        # brainsync waits on no DBOS notification; the listener only sleeps, and shutting
        # down joins it: a short nap keeps exits quick (a nap of 10 ms costs a sleeping
        # thread ~0.3% of a core, so only a brief process takes it)
        "notification_listener_polling_interval_sec": min(
            poll, _BRIEF_NAP_SECONDS if brief else _NAP_SECONDS
        ),
    }


class DbosEngine:
    """Jobs stored and run by DBOS in one system database."""

    def __init__(
        self,
        system_db_url: str,
        *,
        executor_id: str,
        host: str,
        deadline_seconds: float,
        poll_interval_seconds: float,
        worker_concurrency: int | None = None,
        log_file: Path | None = None,
    ) -> None:
        self._url = system_db_url
        self._executor_id = executor_id
        self._host = host
        self._concurrency = worker_concurrency
        self._registered: set[str] = set()
        self._deadline = deadline_seconds
        self._poll = poll_interval_seconds
        self._worker: WorkerBinding | None = None
        self._dispatcher: Dispatcher | None = None
        self._after_run: Callable[[], None] | None = None
        self._active: set[str] = set()
        self._stopped: set[str] = set()
        self._active_changed = threading.Condition()
        #: What jobs ended with here, for a follower when the job store cannot record it.
        self.failures = LocalFailures(system_db_url)
        # Before anything of DBOS runs: even opening the store may log.
        self._log = open_log(log_file) if log_file is not None else None
        try:
            self._client = _open_client(system_db_url)
            self._register_own_queues()
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
            close_log(self._log)
            self._log = None

    def start_worker(
        self,
        binding: WorkerBinding,
        after_run: Callable[[], None] | None = None,
        *,
        brief: bool = False,
    ) -> None:
        """Launch the DBOS runtime in this process; it runs and recovers jobs.

        ``after_run`` is called whenever a job's code left this process (its outcome is
        stored a moment later). ``brief``: the process exits once its own job is done (a
        command following it), so its shutdown, which waits out DBOS's notification
        listener's nap, should be quick; a long-lived worker naps longer, for idle CPU.
        """
        bind(binding)
        self._worker = binding
        self._after_run = after_run
        queues = [queue_for(self._host), SHARED_QUEUE]
        try:
            DBOS(config=worker_config(self._url, self._executor_id, self._poll, brief=brief))
            # DBOS's queue threads claim nothing: the dispatcher alone starts this
            # process's jobs, from this host's queue and the shared one (jobs/dispatch.py)
            DBOS.listen_queues([])
            quiet_dbos_pollers()
            DBOS.launch()
        except Exception as exc:
            self._worker = None
            unbind()
            DBOS.destroy()
            raise JobError(f"cannot start the job worker: {exc}") from exc
        self._dispatcher = Dispatcher(queues, self._poll, self._url)
        self._dispatcher.start()
        # jobs queued before the launch (a restart's backlog) start now, not at the poll
        self._dispatcher.wake()

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
        if self._dispatcher is not None:
            # first: a job claimed while stopping would only be handed back
            self._dispatcher.stop()
            self._dispatcher = None
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
        # also jobs claimed for us whose code never began (DBOS stopped first); one whose
        # code began meanwhile stops at its first boundary, before any chunk
        with self._active_changed:
            running = set(self._active)
        # a job that failed here stays with this executor (its outcome could not be
        # recorded): the next worker with this id recovers it
        failed = self.failures.ids()
        for job_id in sorted(stopped | (self._pending_here() - running - failed)):
            self._reclaim(job_id, self._executor_id)

    def running_here(self) -> set[str]:
        """Jobs recorded running on this executor id: before this worker launches, those
        its killed predecessor left (the launch resumes them)."""
        return self._pending_here()

    def _pending_here(self) -> set[str]:
        """Jobs the job store shows running on this executor (one live worker per id)."""
        rows = self._client.list_workflows(
            name=WORKFLOW_NAME,
            status="PENDING",
            executor_id=self._executor_id,
            load_input=False,
            load_output=False,
        )
        return {row.workflow_id for row in rows}

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

    def run_failed(self, job_id: str, error: Exception) -> None:
        """Remember the error a job ended with here (see :class:`LocalFailures`)."""
        self.failures.record(job_id, error)

    def run_ended(self, job_id: str) -> None:
        """The job's code left this process."""
        with self._active_changed:
            self._active.discard(job_id)
            self._active_changed.notify_all()
        if self._dispatcher is not None:
            self._dispatcher.wake(after_run=True)  # the lane's next job, without a poll
        if self._after_run is not None:
            self._after_run()

    # -- control -------------------------------------------------------------------

    def enqueue(self, kind: str, params: dict[str, Any], lane: str, host: str | None) -> str:
        """Store a new queued job for ``host`` (None: any host) and return its id."""
        queue = queue_for(host)
        self._register(queue, own=host == self._host)
        self._check_lane(lane, queue)
        job_id = str(uuid.uuid4())
        options: EnqueueOptions = {
            "workflow_name": WORKFLOW_NAME,
            "queue_name": queue,
            "workflow_id": job_id,
            "app_version": APP_VERSION,
            "queue_partition_key": lane,
            "attributes": {QUEUE_ATTR: queue},
        }
        self._client.enqueue(options, kind, params, lane)
        if self._dispatcher is not None and queue in (SHARED_QUEUE, queue_for(self._host)):
            self._dispatcher.wake()  # run it now if its lane is free, not at the next poll
        return job_id

    def _register_own_queues(self) -> None:
        try:
            self._register(SHARED_QUEUE, own=True)
            self._register(queue_for(self._host), own=True)
        except Exception as exc:
            self._client.destroy()
            raise _open_failed(self._url, exc) from exc

    def _register(self, queue: str, *, own: bool) -> None:
        """Make sure ``queue`` exists; only its own host's processes set its limits."""
        if queue in self._registered:
            return
        self._client.register_queue(
            queue,
            partition_concurrency=1,
            # jobs one worker process runs at once (a queue setting: one value for all)
            worker_concurrency=self._concurrency,
            polling_interval_sec=self._poll,
            on_conflict="always_update" if own else "never_update",
            application_name=APP_NAME,
        )
        self._registered.add(queue)

    def _check_lane(self, lane: str, queue: str) -> None:
        # DBOS keeps a lane to one job per queue; a folder switched to or from shared
        # while its job waits would otherwise run twice at once, on two queues.
        rows = self._client.list_workflows(
            name=WORKFLOW_NAME, status=_UNFINISHED, load_input=False, load_output=False
        )
        for row in rows:
            other = queue_of(row)
            if row.queue_partition_key == lane and other not in (None, queue):
                raise JobError(
                    f"folder {lane} has an unfinished job {row.workflow_id} on another host's "
                    f"queue ({other}); wait for it or cancel it first"
                )

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
            statuses = statuses_of(state)
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
        if row.status in ("CANCELLED", GAVE_UP):
            self._client.update_workflow_attributes(job_id, {_CANCEL_FLAG: False}, merge=True)
            # Cancel took the job off its queue; put it back on ours (the lane is kept).
            self._client.resume_workflow(job_id, queue_name=queue_of(row) or QUEUE_NAME)
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

    def reclaim(self, job_id: str, executor_id: str) -> bool:
        """Queue again one running job of the dead worker ``executor_id`` (False: it moved)."""
        return self._reclaim(job_id, executor_id)

    # -- translation ---------------------------------------------------------------

    def _reclaim(self, job_id: str, executor_id: str | None) -> bool:
        if executor_id is None:
            return False
        # Conditional on PENDING and that executor: a second recovery is a no-op. The job
        # keeps its queue (its host's); QUEUE_NAME only fills in a job that had none.
        sys_db = self._client._sys_db  # the one private access: see test_engine_private_api
        return bool(sys_db.reenqueue_for_recovery(job_id, [executor_id], QUEUE_NAME))

    def _row(self, job_id: str) -> WorkflowStatus:
        rows = self._client.list_workflows(workflow_ids=[job_id], name=WORKFLOW_NAME)
        if not rows:
            raise NotFoundError(f"no job {job_id!r}")
        return rows[0]

    def _progress(self, job_id: str) -> Progress:
        value = self._client.get_event(job_id, PROGRESS_EVENT, timeout_seconds=0)
        return Progress.from_dict(value) if isinstance(value, dict) else NO_PROGRESS

    def _job(self, row: WorkflowStatus) -> Job:
        return job_of(row, self._progress(row.workflow_id), self._deadline)


def _open_client(url: str) -> DBOSClient:
    try:
        prefer_write_ahead_log(url)
        # A client never creates the schema; the first process to open the store does.
        DBOS.migrate(url)
        # A lost job store must surface as an error, not block a command (or a thread
        # that outlives its service) in a retry loop forever.
        client = DBOSClient(
            system_database_url=url, application_name=APP_NAME, retry_connection_errors=False
        )
    except Exception as exc:
        raise _open_failed(url, exc) from exc
    # The client takes no engine options: its engine is told directly (the runtime's gets
    # them from worker_config). Pinned by test_engine_private_api.
    engine = client._sys_db.engine
    engine.hide_parameters = True
    proxied = getattr(engine, "_proxied", None)
    if proxied is not None:
        proxied.hide_parameters = True
    return client


def _open_failed(url: str, exc: Exception) -> BrainsyncError:
    if disk_full(exc, store_folder(url)):
        return job_store_full(url, "it could not be opened")
    # The URL is shown, and the driver's text kept, without the password (catalogue S3).
    failure = connect_failure(exc)
    if failure is not None:  # two lines, not the driver's and SQLAlchemy's paragraphs
        return JobError(redact(failure.message("job store", redact_url(url)), url))
    return JobError(f"cannot open the job store {redact_url(url)}: {redact(exc, url)}")
