"""The status view: what is synced, what is pending, which jobs ran and how."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from brainsync.report import Report

if TYPE_CHECKING:
    from brainsync.jobs import Job

__all__ = ["Status", "job_summary"]


@dataclass(frozen=True)
class Status:
    """What is synced, what is pending, and what needs attention."""

    directory: str
    store: str
    counts: dict[str, int]
    tracked_files: int
    last_runs: dict[str, str]
    pending: Report | None
    problem: str | None = None
    jobs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "directory": self.directory,
            "store": self.store,
            "counts": self.counts,
            "entities": sum(self.counts.values()),
            "tracked_files": self.tracked_files,
            "last_runs": self.last_runs,
            "pending": self.pending.to_dict() if self.pending else None,
            "problem": self.problem,
            "jobs": self.jobs,
        }


def job_summary(job: Job) -> dict[str, Any]:
    """One job as the status view lists it, with its error summary."""
    errors = job.result.errors if job.result else []
    first = f", first: {errors[0].path}: {errors[0].error}" if errors else ""
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state.value,
        "stalled": job.stalled,
        "progress": f"{job.progress.current}/{job.progress.total}",
        "errors": len(errors),
        "summary": job.error or (f"{len(errors)} errors{first}" if errors else ""),
    }
