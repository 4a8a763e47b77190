"""Job events: frozen records delivered to ``JobService.subscribe`` callbacks.

Each is published in the process that runs the job, after the state it describes is
durably recorded: ``JobStarted`` once the job is claimed, ``JobProgress`` once a chunk's
report and the new progress are checkpointed, and the three terminal events once the job's
outcome is stored (a watcher in the worker reads it back before announcing it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from brainsync.jobs.records import Progress
from brainsync.report import Report

__all__ = [
    "JobCancelled",
    "JobCompleted",
    "JobEvent",
    "JobFailed",
    "JobProgress",
    "JobStarted",
]


@dataclass(frozen=True)
class JobStarted:
    """A worker began (or, after a crash or cancel, resumed) running a job."""

    name: ClassVar[str] = "job.started"
    job_id: str
    kind: str
    lane: str


@dataclass(frozen=True)
class JobProgress:
    """A chunk finished; ``progress`` counts items done so far."""

    name: ClassVar[str] = "job.progress"
    job_id: str
    progress: Progress


@dataclass(frozen=True)
class JobCompleted:
    """The job ran every chunk; per-item errors, if any, are in ``result``."""

    name: ClassVar[str] = "job.completed"
    job_id: str
    result: Report


@dataclass(frozen=True)
class JobFailed:
    """The plan or a chunk raised; the job stopped."""

    name: ClassVar[str] = "job.failed"
    job_id: str
    error: str


@dataclass(frozen=True)
class JobCancelled:
    """The job was cancelled (at a chunk boundary, or before it started)."""

    name: ClassVar[str] = "job.cancelled"
    job_id: str


JobEvent = JobStarted | JobProgress | JobCompleted | JobFailed | JobCancelled
