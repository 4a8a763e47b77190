"""Which workers are alive: a heartbeat row per executor id in the job store.

Every live worker writes its row (host, executor id, pid, started, last seen) every few
seconds; ``brainsync hosts`` reads them, and a takeover of a dead host's job is refused
while that host's row is fresh.

The rows live in the job store (the DBOS system database), in a table of our own,
``brainsync_workers``, created with ``CREATE TABLE IF NOT EXISTS``: the job store is the
one database every worker must reach anyway, heartbeats are about executor ids (a job
concept), and the entity store's schema version is left alone. Times are the database's
clock, never a host's, so hosts with skewed clocks agree on who is alive.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from brainsync.jobs.records import Interruption, Job, JobState, iso_time

__all__ = [
    "Heartbeat",
    "WorkerRecord",
    "WorkerRegistry",
    "engine_url",
    "mark_interrupted",
    "open_tables",
    "read_workers",
]

log = logging.getLogger(__name__)

_metadata = sa.MetaData()
_workers = sa.Table(
    "brainsync_workers",
    _metadata,
    sa.Column("executor_id", sa.String(200), primary_key=True),
    sa.Column("host", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("stopped", sa.Boolean, nullable=False, default=False),
)
_NOW = {
    "postgresql": "extract(epoch from clock_timestamp())",
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
}


@dataclass(frozen=True)
class WorkerRecord:
    """One worker as its heartbeat row last told, judged against the database clock."""

    executor_id: str
    host: str
    pid: int
    started: datetime
    last_seen: datetime
    #: Seconds since the last heartbeat (database clock).
    silent_seconds: float
    #: The worker said goodbye (a clean stop); otherwise it may have died.
    stopped: bool
    #: Heard from within the registry's ``dead_after_seconds`` and not stopped.
    alive: bool

    def to_dict(self) -> dict[str, Any]:
        """The JSON view (``brainsync hosts --json``)."""
        return {
            "executor_id": self.executor_id,
            "host": self.host,
            "pid": self.pid,
            "started": iso_time(self.started),
            "last_seen": iso_time(self.last_seen),
            "silent_seconds": round(self.silent_seconds, 1),
            "stopped": self.stopped,
            "alive": self.alive,
        }


def open_tables(system_db_url: str, metadata: sa.MetaData, *, pool_size: int) -> sa.Engine:
    """An engine on the job store with brainsync's own tables of ``metadata`` made."""
    engine = sa.create_engine(
        engine_url(system_db_url),
        pool_size=pool_size,
        max_overflow=1,
        pool_pre_ping=True,
        hide_parameters=True,  # a plan's chunks may hold note text
    )
    try:
        try:
            metadata.create_all(engine, checkfirst=True)
        except sa.exc.IntegrityError:
            # PostgreSQL: another process created them between the check and ours
            metadata.create_all(engine, checkfirst=True)
    except BaseException:
        engine.dispose()
        raise
    return engine


def engine_url(url: str) -> sa.URL:
    """The SQLAlchemy URL of a job store (DBOS's driver on PostgreSQL)."""
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        # the driver DBOS uses too; SQLAlchemy's default would be psycopg2
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class WorkerRegistry:
    """The heartbeat table: write this worker's row, read every worker's."""

    def __init__(self, system_db_url: str, *, dead_after_seconds: float) -> None:
        # One connection: a heartbeat every few seconds and a read now and then.
        self._engine = open_tables(system_db_url, _metadata, pool_size=1)
        self._dead_after = dead_after_seconds
        self._now: sa.ColumnClause[Any] = sa.literal_column(
            _NOW.get(self._engine.dialect.name, _NOW["sqlite"])
        )

    def close(self) -> None:
        """Close the registry's connections."""
        self._engine.dispose()

    def beat(self, executor_id: str, host: str, *, first: bool) -> None:
        """Record that the worker ``executor_id`` on ``host`` is alive (``first``: started)."""
        values: dict[str, Any] = {"host": host, "pid": os.getpid(), "last_seen": self._now}
        values["stopped"] = False
        if first:
            values["started"] = self._now
        with self._engine.begin() as conn:
            where = _workers.c.executor_id == executor_id
            if conn.execute(sa.update(_workers).where(where).values(**values)).rowcount:
                return
            values.update(executor_id=executor_id, started=self._now)
            conn.execute(sa.insert(_workers).values(**values))

    def stopped(self, executor_id: str) -> None:
        """Record a clean stop: the worker is gone and left no job running."""
        with self._engine.begin() as conn:
            where = _workers.c.executor_id == executor_id
            conn.execute(sa.update(_workers).where(where).values(stopped=True))

    def workers(self) -> list[WorkerRecord]:
        """Every worker ever seen, by host and executor id."""
        with self._engine.connect() as conn:
            return read_workers(conn, self._dead_after)

    def worker(self, executor_id: str) -> WorkerRecord | None:
        """The worker ``executor_id``, or None if it never beat."""
        found = [w for w in self.workers() if w.executor_id == executor_id]
        return found[0] if found else None


def read_workers(conn: sa.Connection, dead_after_seconds: float) -> list[WorkerRecord]:
    """Every worker ever seen, by host and executor id; none before the table exists."""
    if not sa.inspect(conn).has_table(_workers.name):
        return []
    now: sa.ColumnClause[Any] = sa.literal_column(_NOW.get(conn.dialect.name, _NOW["sqlite"]))
    query = sa.select(_workers, now.label("now")).order_by(_workers.c.host, _workers.c.executor_id)
    return [_record(row._mapping, dead_after_seconds) for row in conn.execute(query)]


def _record(row: Any, dead_after_seconds: float) -> WorkerRecord:
    silent = max(0.0, float(row["now"]) - float(row["last_seen"]))
    stopped = bool(row["stopped"])
    return WorkerRecord(
        executor_id=row["executor_id"],
        host=row["host"],
        pid=int(row["pid"]),
        started=datetime.fromtimestamp(float(row["started"]), UTC),
        last_seen=datetime.fromtimestamp(float(row["last_seen"]), UTC),
        silent_seconds=silent,
        stopped=stopped,
        alive=not stopped and silent <= dead_after_seconds,
    )


def mark_interrupted(jobs: list[Job], workers: list[WorkerRecord]) -> list[Job]:
    """``jobs`` with every running one whose worker is gone marked interrupted.

    Gone: its heartbeat is older than the dead-after time, or it said goodbye (a worker
    that stopped cleanly hands its jobs back, so a job still running on it was left by a
    kill). A worker that never beat is not judged (it may be starting).
    """
    by_id = {worker.executor_id: worker for worker in workers}
    marked = []
    for job in jobs:
        worker = by_id.get(job.executor or "")
        if job.state is JobState.RUNNING and worker is not None and not worker.alive:
            gone = Interruption(worker.host, worker.executor_id, worker.last_seen)
            job = replace(job, interrupted=gone)
        marked.append(job)
    return marked


class Heartbeat:
    """A background thread that keeps this worker's row fresh while it runs."""

    def __init__(
        self, registry: WorkerRegistry, executor_id: str, host: str, interval: float
    ) -> None:
        self._registry = registry
        self._executor_id = executor_id
        self._host = host
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="brainsync-heartbeat", daemon=True)

    def start(self) -> None:
        """Beat once now (a failure here is the caller's), then every interval."""
        self._registry.beat(self._executor_id, self._host, first=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and record the clean stop (best effort: the store may be gone)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        try:
            self._registry.stopped(self._executor_id)
        except sa.exc.SQLAlchemyError:
            log.warning("could not record the worker's stop; it shows as dead once silent")

    def _loop(self) -> None:
        failing = False
        while not self._stop.wait(self._interval):
            try:
                self._registry.beat(self._executor_id, self._host, first=False)
                failing = False
            except Exception as exc:
                # The job store went away: keep trying; log once per outage, not per beat.
                if not failing:
                    log.warning("worker heartbeat failed, retrying: %s", type(exc).__name__)
                failing = True
