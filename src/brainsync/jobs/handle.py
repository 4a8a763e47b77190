"""A handle on one background job: what the Python API returns for a submitted job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from brainsync.jobs.records import Job

if TYPE_CHECKING:
    from brainsync.jobs.service import JobService

__all__ = ["JobHandle"]


@dataclass(frozen=True)
class JobHandle:
    """The id of a job plus the service that knows it: status, wait, cancel, resume."""

    id: str
    service: JobService

    def status(self) -> Job:
        """The job as last recorded."""
        return self.service.status(self.id)

    def wait(
        self, timeout: float | None = None, on_progress: Callable[[Job], None] | None = None
    ) -> Job:
        """Block until the job finishes; JobError after ``timeout`` seconds."""
        return self.service.wait(self.id, timeout, on_progress)

    def cancel(self) -> Job:
        """Cancel at the next chunk boundary (at once when queued or stalled)."""
        return self.service.cancel(self.id)

    def resume(self) -> Job:
        """Resume from the last finished chunk."""
        return self.service.resume(self.id)

    def __str__(self) -> str:
        return self.id
