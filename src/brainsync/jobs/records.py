"""What the job layer tells callers about a job: plain, frozen, engine-free records."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from brainsync.report import Report

__all__ = ["Interruption", "Job", "JobFailure", "JobState", "Progress", "iso_time"]


def iso_time(moment: datetime) -> str:
    """A job or worker time as shown everywhere: ISO 8601 in UTC with ``Z``, to the second.

    One format whatever the job store: SQLite keeps a job's times to the second,
    PostgreSQL to the millisecond, and a naive time would read as local.
    """
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class JobState(enum.Enum):
    """Where a job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """True for the states a job never leaves on its own."""
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class Progress:
    """How far a job got: items done of the total, with rate and ETA when known."""

    current: int
    total: int
    message: str
    rate: float | None = None
    eta_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (what the workflow publishes)."""
        return {
            "current": self.current,
            "total": self.total,
            "message": self.message,
            "rate": self.rate,
            "eta_seconds": self.eta_seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Progress:
        """Rebuild progress from :meth:`to_dict` output."""
        return cls(
            current=int(data.get("current", 0)),
            total=int(data.get("total", 0)),
            message=str(data.get("message", "")),
            rate=data.get("rate"),
            eta_seconds=data.get("eta_seconds"),
        )


#: Progress of a job that has not published any yet.
NO_PROGRESS = Progress(current=0, total=0, message="")


@dataclass(frozen=True)
class JobFailure:
    """What a failed job ended with: the error's class name, its message and exit code."""

    type: str
    message: str
    exit_code: int


@dataclass(frozen=True)
class Interruption:
    """A running job whose worker stopped beating: its process died or was killed.

    The job resumes from its last finished chunk when a worker of that executor id starts
    (any command that runs jobs there), or elsewhere by ``job takeover``/``resume``.
    """

    host: str
    executor: str
    #: The worker's last heartbeat (database clock): interrupted since then.
    since: datetime


@dataclass(frozen=True)
class Job:
    """A durable run of one operation, as last recorded in the job store."""

    id: str
    kind: str
    params: dict[str, Any]
    state: JobState
    progress: Progress
    created: datetime
    started: datetime | None
    finished: datetime | None
    result: Report | None
    error: str | None
    #: Running for longer than the service's deadline (catalogue K3).
    stalled: bool
    #: The lane (the resolved sync directory) the job holds while it runs.
    directory_lock: str | None
    #: Set when the job failed: the error it ended with (``error`` is its full text).
    failure: JobFailure | None = None
    #: The host whose workers run the job (its folder's host); None: any host, for a
    #: folder on a mount every host reaches (a shared folder).
    host: str | None = None
    #: The executor id of the worker that runs or ran the job (None while queued).
    executor: str | None = None
    #: Set when the job is recorded running but its worker is gone (heartbeats stopped).
    interrupted: Interruption | None = None

    @property
    def shown_state(self) -> str:
        """The state as views show it: ``interrupted`` for a running job nobody runs."""
        return "interrupted" if self.interrupted is not None else self.state.value

    def to_dict(self) -> dict[str, Any]:
        """The JSON view of the job, shared by the CLI's ``--json``, MCP and Python.

        Every field, the full report included; times as ISO 8601, the state as its value.
        """
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def _plain(value: Any) -> Any:
    """A field value as JSON-ready data."""
    if isinstance(value, datetime):
        return iso_time(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Progress | Report):
        return value.to_dict()
    if isinstance(value, JobFailure):
        return asdict(value)
    if isinstance(value, Interruption):
        return {"host": value.host, "executor": value.executor, "since": _plain(value.since)}
    return value
