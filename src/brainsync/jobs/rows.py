"""Reading DBOS workflow rows: the pieces of a :class:`~brainsync.jobs.records.Job`.

A row is DBOS's own ``WorkflowRow`` (in the engine) or the reader's
:class:`~brainsync.jobs.reader.StoredRow` (quick commands, no DBOS import): both have the
attributes of :class:`WorkflowRow`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from brainsync.errors import named_in
from brainsync.jobs.queues import host_of
from brainsync.jobs.records import Job, JobFailure, JobState, Progress
from brainsync.report import Report

__all__ = [
    "GAVE_UP",
    "QUEUE_ATTR",
    "STATES",
    "WorkflowRow",
    "epoch_time",
    "error_text",
    "failure",
    "inputs",
    "job_of",
    "queue_of",
    "result",
    "statuses_of",
]

#: The job's queue, kept in its attributes: a cancel takes a job off its queue, and a
#: resume must put it back on the same one (its host's).
QUEUE_ATTR = "queue"
GAVE_UP = "MAX_RECOVERY_ATTEMPTS_EXCEEDED"


class WorkflowRow(Protocol):
    """What brainsync reads of a job's workflow row (DBOS's status record)."""

    @property
    def workflow_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def input(self) -> Any: ...
    @property
    def output(self) -> Any: ...
    @property
    def error(self) -> Any: ...
    @property
    def created_at(self) -> int | None: ...
    @property
    def dequeued_at(self) -> int | None: ...
    @property
    def completed_at(self) -> int | None: ...
    @property
    def queue_name(self) -> str | None: ...
    @property
    def queue_partition_key(self) -> str | None: ...
    @property
    def executor_id(self) -> str | None: ...
    @property
    def attributes(self) -> dict[str, Any] | None: ...


#: DBOS's workflow states as brainsync's job states.
STATES = {
    "ENQUEUED": JobState.QUEUED,
    "DELAYED": JobState.QUEUED,
    "PENDING": JobState.RUNNING,
    "SUCCESS": JobState.SUCCEEDED,
    "ERROR": JobState.FAILED,
    GAVE_UP: JobState.FAILED,
    "CANCELLED": JobState.CANCELLED,
}


def statuses_of(state: JobState) -> list[str]:
    """The DBOS workflow states that mean ``state``."""
    return [name for name, mapped in STATES.items() if mapped is state]


def job_of(row: WorkflowRow, progress: Progress, deadline_seconds: float) -> Job:
    """The job a workflow row records, with its latest ``progress``."""
    state = STATES.get(row.status, JobState.FAILED)
    kind, params, lane = inputs(row)
    started = epoch_time(row.dequeued_at) if state is not JobState.QUEUED else None
    error = error_text(row) if state is JobState.FAILED else None
    running_for = None if started is None else (datetime.now(UTC) - started).total_seconds()
    return Job(
        id=row.workflow_id,
        kind=kind,
        params=params,
        state=state,
        progress=progress,
        created=epoch_time(row.created_at) or datetime.now(UTC),
        started=started,
        finished=epoch_time(row.completed_at) if state.finished else None,
        result=result(row) if state is JobState.SUCCEEDED else None,
        error=error,
        stalled=state is JobState.RUNNING and (running_for or 0.0) > deadline_seconds,
        directory_lock=row.queue_partition_key or lane,
        failure=None if error is None else failure(error),
        host=host_of(queue_of(row)),
        executor=row.executor_id if started is not None else None,
    )


def queue_of(row: WorkflowRow) -> str | None:
    """The queue a job waits on or ran from (kept in its attributes across a cancel)."""
    recorded = (row.attributes or {}).get(QUEUE_ATTR)
    return str(recorded) if recorded else row.queue_name


def inputs(row: WorkflowRow) -> tuple[str, dict[str, Any], str | None]:
    args = tuple(row.input["args"]) if isinstance(row.input, dict) else ()
    kind = str(args[0]) if args else "?"
    params = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
    lane = str(args[2]) if len(args) > 2 else None
    return kind, params, lane


def epoch_time(epoch_ms: int | None) -> datetime | None:
    return None if epoch_ms is None else datetime.fromtimestamp(epoch_ms / 1000, UTC)


def result(row: WorkflowRow) -> Report | None:
    return Report.from_dict(row.output) if isinstance(row.output, dict) else None


def error_text(row: WorkflowRow) -> str:
    if row.status == GAVE_UP:
        return "the job's worker crashed too many times; resume it to try again"
    return str(row.error) if row.error is not None else "unknown error"


def failure(error: str) -> JobFailure:
    # The workflow stores the error as text naming the class it started from.
    cls, message = named_in(error)
    return JobFailure(cls.__name__, message, cls.exit_code)
