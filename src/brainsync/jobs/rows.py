"""Reading DBOS workflow rows: the pieces of a :class:`~brainsync.jobs.records.Job`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dbos import WorkflowStatus

from brainsync.errors import named_in
from brainsync.jobs.records import JobFailure
from brainsync.report import Report

__all__ = ["QUEUE_ATTR", "epoch_time", "error_text", "failure", "inputs", "queue_of", "result"]

#: The job's queue, kept in its attributes: a cancel takes a job off its queue, and a
#: resume must put it back on the same one (its host's).
QUEUE_ATTR = "queue"
GAVE_UP = "MAX_RECOVERY_ATTEMPTS_EXCEEDED"


def queue_of(row: WorkflowStatus) -> str | None:
    """The queue a job waits on or ran from (kept in its attributes across a cancel)."""
    recorded = (row.attributes or {}).get(QUEUE_ATTR)
    return str(recorded) if recorded else row.queue_name


def inputs(row: WorkflowStatus) -> tuple[str, dict[str, Any], str | None]:
    args = tuple(row.input["args"]) if isinstance(row.input, dict) else ()
    kind = str(args[0]) if args else "?"
    params = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
    lane = str(args[2]) if len(args) > 2 else None
    return kind, params, lane


def epoch_time(epoch_ms: int | None) -> datetime | None:
    return None if epoch_ms is None else datetime.fromtimestamp(epoch_ms / 1000, UTC)


def result(row: WorkflowStatus) -> Report | None:
    return Report.from_dict(row.output) if isinstance(row.output, dict) else None


def error_text(row: WorkflowStatus) -> str:
    if row.status == GAVE_UP:
        return "the job's worker crashed too many times; resume it to try again"
    return str(row.error) if row.error is not None else "unknown error"


def failure(error: str) -> JobFailure:
    # The workflow stores the error as text naming the class it started from.
    cls, message = named_in(error)
    return JobFailure(cls.__name__, message, cls.exit_code)
