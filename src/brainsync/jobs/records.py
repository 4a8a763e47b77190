"""What the job layer tells callers about a job: plain, frozen, engine-free records."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from brainsync.report import Report

__all__ = ["Job", "JobFailure", "JobState", "Progress"]


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

    def to_dict(self) -> dict[str, Any]:
        """The JSON view of the job, shared by the CLI's ``--json``, MCP and Python.

        Every field, the full report included; times as ISO 8601, the state as its value.
        """
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def _plain(value: Any) -> Any:
    """A field value as JSON-ready data."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Progress | Report):
        return value.to_dict()
    if isinstance(value, JobFailure):
        return asdict(value)
    return value
