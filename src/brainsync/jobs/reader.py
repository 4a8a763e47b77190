"""Job records read straight from the job store's tables, without the job engine.

``brainsync status``, ``jobs`` and ``job show`` only read; importing and opening DBOS
(about half a second here, and writes to register the queues) is what made them slow.
:class:`JobReader` reads the same rows DBOS's client would, from the system tables that
DBOS 3.4 documents (``workflow_status``, ``workflow_input``, ``workflow_output``,
``workflow_events``), and turns them into :class:`~brainsync.jobs.records.Job` records by
the same code as the engine (:func:`~brainsync.jobs.rows.job_of`). DBOS is pinned to a
minor version; ``test_job_reader_matches_the_engine`` compares both on every backend.

Values are stored by DBOS's default serializer (pickled, base64): a job's inputs, result
and progress are plain data; a failure is an exception of brainsync's own tree.
"""

from __future__ import annotations

import base64
import builtins
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa

from brainsync.errors import InvalidInputError, JobError, NotFoundError
from brainsync.jobs.hosts import engine_url, mark_interrupted, read_workers
from brainsync.jobs.records import NO_PROGRESS, Job, JobState, Progress
from brainsync.jobs.redact import redact, redact_url
from brainsync.jobs.rows import job_of, statuses_of
from brainsync.store.pg_setup import connect_failure

__all__ = ["JobReader", "JobRecords", "StoredRow"]

#: Registered name of the job workflow and its progress event (see jobs/workflow.py,
#: which imports DBOS: repeated here so that reading never does).
_WORKFLOW_NAME = "brainsync.job"
_PROGRESS_EVENT = "brainsync.progress"
_PICKLED = ("py_pickle", None)
#: The shortest id prefix that names a job (as a folder) on the command line.
_MIN_PREFIX = 4
#: Ids an ambiguous prefix lists.
_MAX_NAMED = 5

_meta = sa.MetaData(schema="dbos")
_status = sa.Table(
    "workflow_status",
    _meta,
    *(sa.Column(name, sa.Text) for name in ("workflow_uuid", "status", "name", "queue_name")),
    *(sa.Column(name, sa.Text) for name in ("queue_partition_key", "executor_id")),
    *(sa.Column(name, sa.BigInteger) for name in ("created_at", "started_at_epoch_ms")),
    sa.Column("completed_at", sa.BigInteger),
    *(sa.Column(name, sa.Text) for name in ("inputs", "output", "error", "serialization")),
    sa.Column("attributes", sa.JSON),
)
_input = sa.Table("workflow_input", _meta, sa.Column("workflow_uuid"), sa.Column("inputs"))
_output = sa.Table(
    "workflow_output", _meta, sa.Column("workflow_uuid"), sa.Column("output"), sa.Column("error")
)
_events = sa.Table(
    "workflow_events",
    _meta,
    *(sa.Column(name, sa.Text) for name in ("workflow_uuid", "key", "value", "serialization")),
)


class JobRecords(Protocol):
    """Reading jobs: what :class:`JobReader` and the job service both offer."""

    def list(self, state: JobState | None = None, limit: int = 50) -> builtins.list[Job]:
        """The newest jobs first, optionally only those in ``state``."""
        ...

    def status(self, job_id: str) -> Job:
        """The job as last recorded; NotFoundError if there is no such job."""
        ...


@dataclass(frozen=True)
class StoredRow:
    """One job's workflow row as stored (a :class:`~brainsync.jobs.rows.WorkflowRow`)."""

    workflow_id: str
    status: str
    input: Any
    output: Any
    error: Any
    created_at: int | None
    dequeued_at: int | None
    completed_at: int | None
    queue_name: str | None
    queue_partition_key: str | None
    executor_id: str | None
    attributes: dict[str, Any] | None


class JobReader:
    """Reads jobs from a job store: the read half of the job facade, engine-free."""

    def __init__(
        self, system_db_url: str, *, deadline_seconds: float, dead_after_seconds: float = 10.0
    ) -> None:
        url = engine_url(system_db_url)
        schema = "dbos" if url.get_backend_name() == "postgresql" else None
        self._deadline = deadline_seconds
        self._dead_after = dead_after_seconds
        self._url = system_db_url
        # a SQLite job store that does not exist yet has no jobs (and is not created here)
        self._file = (
            Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None
        )
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool, hide_parameters=True)
        self._engine = engine.execution_options(schema_translate_map={"dbos": schema})

    def close(self) -> None:
        """Release the connection."""
        self._engine.dispose()

    def list(self, state: JobState | None = None, limit: int = 50) -> list[Job]:
        """The newest jobs first, optionally only those in ``state``."""
        query = _select().order_by(_status.c.created_at.desc()).limit(limit)
        if state is not None:
            query = query.where(_status.c.status.in_(statuses_of(state)))
        return self._jobs(query)

    def status(self, job_id: str) -> Job:
        """The job as last recorded; NotFoundError if there is no such job."""
        found = self._jobs(_select().where(_status.c.workflow_uuid == job_id))
        if not found:
            raise NotFoundError(f"no job {job_id!r}")
        return found[0]

    def resolve(self, given: str) -> str:
        """The id of the job ``given`` names: its id, or a unique prefix of 4 or more
        characters (as folder ids); InvalidInputError when the prefix names several."""
        column = _status.c.workflow_uuid
        query = sa.select(column).where(_status.c.name == _WORKFLOW_NAME)
        if len(given) >= _MIN_PREFIX:
            query = query.where(column.startswith(given, autoescape=True))
        else:
            query = query.where(column == given)
        found = sorted(self._read_ids(query.limit(_MAX_NAMED + 1)))
        if given in found or len(found) == 1:
            return given if given in found else found[0]
        if found:
            more = " ..." if len(found) > _MAX_NAMED else ""
            names = ", ".join(found[:_MAX_NAMED]) + more
            raise InvalidInputError(
                f"{given!r} names {len(found)} jobs ({names}); give more of the id"
            )
        raise NotFoundError(f"no job {given!r}; `brainsync jobs` lists them")

    def _read_ids(self, query: sa.Select[Any]) -> builtins.list[str]:
        if self._file is not None and not self._file.exists():
            return []
        try:
            with self._engine.connect() as conn:
                return [row[0] for row in conn.execute(query)] if _has_tables(conn) else []
        except sa.exc.SQLAlchemyError as exc:
            where = redact_url(self._url)
            raise JobError(f"cannot read the job store {where}: {redact(exc, self._url)}") from exc

    def _jobs(self, query: sa.Select[Any]) -> builtins.list[Job]:
        if self._file is not None and not self._file.exists():
            return []
        try:
            return self._read(query)
        except sa.exc.SQLAlchemyError as exc:
            failure = connect_failure(exc)
            if failure is not None and failure.missing_database:
                return []  # no job has ever been queued there (and nothing is created)
            if failure is not None:
                raise JobError(redact(failure.message("job store", self._url), self._url)) from exc
            # a driver's text may quote the URL it was given (catalogue S3)
            where = redact_url(self._url)
            raise JobError(f"cannot read the job store {where}: {redact(exc, self._url)}") from exc

    def _read(self, query: sa.Select[Any]) -> builtins.list[Job]:
        with self._engine.connect() as conn:
            if not _has_tables(conn):
                return []  # no job has ever been queued on this store
            rows = [_row(row) for row in conn.execute(query)]
            progress = _progress(conn, [row.workflow_id for row in rows])
            jobs = [
                job_of(row, progress.get(row.workflow_id, NO_PROGRESS), self._deadline)
                for row in rows
            ]
            running = any(job.state is JobState.RUNNING for job in jobs)
            workers = read_workers(conn, self._dead_after) if running else []
        return mark_interrupted(jobs, workers)


def _select() -> sa.Select[Any]:
    joined = _status.outerjoin(_input, _input.c.workflow_uuid == _status.c.workflow_uuid)
    joined = joined.outerjoin(_output, _output.c.workflow_uuid == _status.c.workflow_uuid)
    return (
        sa.select(
            _status,
            _input.c.inputs.label("stored_inputs"),
            _output.c.output.label("stored_output"),
            _output.c.error.label("stored_error"),
        )
        .select_from(joined)
        .where(_status.c.name == _WORKFLOW_NAME)
    )


def _has_tables(conn: sa.Connection) -> bool:
    schema = conn.get_execution_options().get("schema_translate_map", {}).get("dbos")
    return sa.inspect(conn).has_table("workflow_status", schema=schema)


def _row(row: sa.Row[Any]) -> StoredRow:
    data = row._mapping
    serialization = data["serialization"]
    attributes = data["attributes"]
    if isinstance(attributes, str):
        attributes = json.loads(attributes)
    return StoredRow(
        workflow_id=data["workflow_uuid"],
        status=data["status"],
        input=_value(data["stored_inputs"] or data["inputs"], serialization),
        output=_value(data["stored_output"] or data["output"], serialization),
        error=_value(data["stored_error"] or data["error"], serialization),
        created_at=data["created_at"],
        dequeued_at=data["started_at_epoch_ms"],
        completed_at=data["completed_at"],
        queue_name=data["queue_name"],
        queue_partition_key=data["queue_partition_key"],
        executor_id=data["executor_id"],
        attributes=attributes if isinstance(attributes, dict) else None,
    )


def _progress(conn: sa.Connection, job_ids: list[str]) -> dict[str, Progress]:
    if not job_ids:
        return {}
    query = sa.select(_events).where(
        _events.c.workflow_uuid.in_(job_ids), _events.c.key == _PROGRESS_EVENT
    )
    found: dict[str, Progress] = {}
    for row in conn.execute(query):
        value = _value(row.value, row.serialization)
        if isinstance(value, dict):
            found[row.workflow_uuid] = Progress.from_dict(value)
    return found


def _value(stored: str | None, serialization: str | None) -> Any:
    """A stored value as DBOS's default serializer wrote it (text when unreadable)."""
    if stored is None:
        return None
    try:
        if serialization in _PICKLED:
            # the job store is this brain's own (same trust as its database file)
            return pickle.loads(base64.b64decode(stored))
        return json.loads(stored)
    except Exception:
        return stored
