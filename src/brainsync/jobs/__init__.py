"""Durable background jobs: enqueue an operation, get an id at once, watch it run.

Importing this package is cheap: the job engine (DBOS) is imported only when a
:class:`JobService` opens.
"""

from brainsync.jobs.events import (
    JobCancelled,
    JobCompleted,
    JobEvent,
    JobFailed,
    JobProgress,
    JobStarted,
)
from brainsync.jobs.handle import JobHandle
from brainsync.jobs.operation import Chunk, ChunkedOperation, OperationFactory
from brainsync.jobs.records import Job, JobState, Progress
from brainsync.jobs.service import JobService, default_executor_id, default_system_db_url
from brainsync.jobs.worker import run_worker

__all__ = [
    "Chunk",
    "ChunkedOperation",
    "Job",
    "JobCancelled",
    "JobCompleted",
    "JobEvent",
    "JobFailed",
    "JobHandle",
    "JobProgress",
    "JobService",
    "JobStarted",
    "JobState",
    "OperationFactory",
    "Progress",
    "default_executor_id",
    "default_system_db_url",
    "run_worker",
]
