"""Claiming a worker's queued jobs: the one place in a process that starts them.

DBOS's queue threads look for work once per polling interval (and wait one interval
before their first look), so a command that enqueued a job and ran it in its own process,
or a watcher whose batches follow each other, waited up to a second for nothing. And on
SQLite, DBOS's claim judges a lane free in reads made before its write lock: two claimers
in one process (the queue thread and another) could each start a job of the same lane.

So a worker listens to no queue through DBOS (``DBOS.listen_queues([])``), and its
:class:`Dispatcher` thread runs the queue thread's claim (one transaction on the shared
system database, which admits a lane's next job only while none of that lane runs), alone
in its process, whenever there may be something to claim:

* after this process enqueued a job (:meth:`Dispatcher.wake`);
* after one of its jobs ended (:meth:`Dispatcher.wake` with ``after_run=True``): DBOS
  stores the outcome only after the job's code returned, so the lane frees a moment
  later; the claim is retried a few times with a short back-off until it frees;
* on a SQLite job store, when another process wrote to it (``PRAGMA data_version``,
  looked at every 0.2 s): a job another process queued starts at once too;
* every poll interval, whatever happened: the safety net (PostgreSQL, a lost race).

On SQLite a claim round is skipped when no job of this worker's queues is queued at all
(:class:`QueuedProbe`, one read of DBOS's own in-flight index): a claim is a transaction
through DBOS, and an idle watcher's worker made one every second and on every heartbeat.

With the dispatcher doing the claiming, DBOS's own once-a-second pollers are left with
little to do: its internal queue (programmatic resumes, which brainsync sends to its own
queues) and its housekeeping (delayed jobs, which brainsync has none of, and deadlines of
an hour). :func:`quiet_dbos_pollers` makes them look every 10 s: they were most of an
idle watcher's CPU.

This is the second place that reaches into DBOS's private parts (the first is
:meth:`~brainsync.jobs.engine.DbosEngine._reclaim`); ``test_the_immediate_claim_...``
fails when a new DBOS version moves them. DBOS is pinned to a minor version.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
import time
from urllib.parse import quote

from dbos import _workflow_commands
from dbos._core import execute_dequeued_workflow
from dbos._dbos import _get_dbos_instance
from dbos._utils import GlobalParams, generate_uuid
from sqlalchemy.engine import make_url

from brainsync.errors import StoreError
from brainsync.store.sqlite import SqliteSignal

__all__ = ["Dispatcher", "QueuedProbe", "quiet_dbos_pollers"]

log = logging.getLogger(__name__)

#: How often a worker on a SQLite job store looks whether another process wrote to it.
_SQLITE_LOOK_SECONDS = 0.2
#: How often DBOS's internal queue and housekeeping look, in place of every second.
DBOS_HOUSEKEEPING_SECONDS = 10.0
#: Pauses before each retry after a job ended: its outcome is written just after it returns.
_AFTER_RUN_BACKOFF = (0.0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32)


class Dispatcher:
    """Claims this worker's queued jobs as soon as there may be one to claim."""

    def __init__(self, queues: list[str], poll_seconds: float, system_db_url: str) -> None:
        self._queues = queues
        self._poll = poll_seconds
        #: A SQLite job store's file: its ``data_version`` tells of other processes' jobs.
        url = make_url(system_db_url)
        self._sqlite_file = url.database if url.get_backend_name() == "sqlite" else None
        self._wake = threading.Event()
        self._after_run = threading.Event()
        self._stop = threading.Event()
        self._probe: QueuedProbe | None = None
        self._thread = threading.Thread(target=self._loop, name="brainsync-dispatch", daemon=True)

    def start(self) -> None:
        """Start claiming in a background thread (after DBOS launched)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop claiming (before DBOS is destroyed, so no claim races the shutdown)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()

    def wake(self, *, after_run: bool = False) -> None:
        """Look for work now; ``after_run``: a job of ours just ended, its lane frees soon."""
        if after_run:
            self._after_run.set()
        self._wake.set()

    def _loop(self) -> None:
        watch = None
        if self._sqlite_file:
            try:
                watch = SqliteSignal(self._sqlite_file)
                self._probe = QueuedProbe(self._sqlite_file, self._queues)
            except (StoreError, sqlite3.Error) as exc:
                log.warning("cannot watch the job store (%s); others' jobs wait a poll", exc)
        try:
            self._dispatch(watch)
        finally:
            if watch is not None:
                watch.close()
            if self._probe is not None:
                self._probe.close()

    def _dispatch(self, watch: SqliteSignal | None) -> None:
        next_poll = time.monotonic()
        while not self._stop.is_set():
            wait = max(0.0, next_poll - time.monotonic())
            woken = self._wake.wait(wait if watch is None else min(wait, _SQLITE_LOOK_SECONDS))
            due = time.monotonic() >= next_poll
            if not (woken or due or _moved(watch)):
                continue
            if due:
                next_poll = time.monotonic() + self._poll
            self._wake.clear()
            if self._stop.is_set():
                return
            after_run = self._after_run.is_set()
            if after_run:
                self._after_run.clear()  # only what was read: a later one keeps its mark
            pauses = _AFTER_RUN_BACKOFF if after_run else (0.0,)
            self._claim_with_backoff(pauses)

    def _claim_with_backoff(self, pauses: tuple[float, ...]) -> None:
        for pause in pauses:
            # a job queued meanwhile (or a stop) cuts a pause short: a watcher's next batch
            # used to wait out up to 320 ms of a back-off meant for the lane
            interrupted = bool(pause) and self._wake.wait(pause)
            if not interrupted:
                self._safe_claim()
            if interrupted or self._wake.is_set():
                if len(pauses) > 1:
                    self._after_run.set()  # the loop looks at once, then backs off again
                return

    def _safe_claim(self) -> int:
        if self._probe is not None and not self._probe.any_queued():
            return 0
        try:
            return sum(claim(queue) for queue in self._queues if not self._stop.is_set())
        except Exception:
            # A lost race or a busy database: the queue's own poll claims it later.
            log.debug("immediate job claim failed; the queue poll takes over", exc_info=True)
            return 0


class QueuedProbe:
    """Whether a SQLite job store holds a queued job on one of ``queues``: one read of
    DBOS's partial index of in-flight jobs (the repeated status term lets SQLite use it),
    far cheaper than a claim round."""

    def __init__(self, path: str, queues: list[str]) -> None:
        self._conn = sqlite3.connect(
            f"file:{quote(path)}?mode=ro", uri=True, check_same_thread=False
        )
        marks = ", ".join("?" for _ in queues)
        self._query = (
            "SELECT 1 FROM workflow_status WHERE status IN ('ENQUEUED', 'PENDING') "
            f"AND status = 'ENQUEUED' AND queue_name IN ({marks}) LIMIT 1"
        )
        self._queues = tuple(queues)

    def queued(self) -> bool:
        """Whether a job waits; sqlite3.Error when the table cannot be read."""
        # fetchall steps the statement to its end, so no read lock outlives the call
        return bool(self._conn.execute(self._query, self._queues).fetchall())

    def any_queued(self) -> bool:
        """True when a job waits (or when that cannot be read: then a claim decides)."""
        try:
            return self.queued()
        except sqlite3.Error:
            return True

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def _moved(watch: SqliteSignal | None) -> bool:
    """Whether another process wrote to the job store (False when that cannot be read:
    the poll stays behind it)."""
    try:
        return watch is not None and watch.changed()
    except sqlite3.Error:
        return False


def claim(queue_name: str) -> int:
    """One claim round on ``queue_name`` for this process's worker; returns jobs started.

    The same round as DBOS's queue thread for a queue with ``partition_concurrency=1``
    (brainsync's only kind): every lane whose previous job finished gets its next one.
    """
    dbos = _get_dbos_instance()
    queue = dbos._sys_db.get_queue(queue_name)
    if queue is None:
        return 0
    budget = sys.maxsize
    if queue._worker_concurrency is not None:
        running = dbos._active_workflows_set.count_for_queue(queue_name)
        budget = queue._worker_concurrency - running
    if budget <= 0:
        return 0
    owner = generate_uuid()
    claimed = dbos._sys_db.start_queued_partitioned_workflows(
        queue, GlobalParams.executor_id, GlobalParams.app_version, budget, owner_xid=owner
    )
    for workflow_id in claimed:
        status = dbos._sys_db.get_workflow_status(workflow_id)
        if status is None:
            continue
        try:
            execute_dequeued_workflow(dbos, status, owner)
        except Exception:
            log.exception("job %s could not start", workflow_id)
    return len(claimed)


def quiet_dbos_pollers() -> None:
    """Slow DBOS's internal queue and housekeeping threads down (call before launch)."""
    _workflow_commands._BACKGROUND_JOBS_INTERVAL_SEC = DBOS_HOUSEKEEPING_SECONDS
    internal = _get_dbos_instance()._registry.get_internal_queue()
    internal._polling_interval_sec = DBOS_HOUSEKEEPING_SECONDS
