"""The status view: what is synced, what is pending, which jobs ran and how."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from brainsync.report import Report
from brainsync.store.records import FolderRecord
from brainsync.sync.last_scan import LastScan
from brainsync.sync.watch_state import WatchState

if TYPE_CHECKING:
    from brainsync.jobs import Job

__all__ = ["Status", "interruption_line", "job_summary", "outcome_line"]


@dataclass(frozen=True)
class Status:
    """What is synced, what is pending, and what needs attention."""

    directory: str
    store: str
    counts: dict[str, int]
    #: This directory's folder; None until its first run joins it.
    folder: FolderRecord | None
    #: Every folder of the store (any host), this one included.
    folders: list[FolderRecord]
    #: A dry-run sync planned for this status (``status --pending``), else None.
    pending: Report | None
    problem: str | None = None
    #: The last stored scan (what the next sync would have done then), when no real
    #: run of this folder came after it.
    last_scan: LastScan | None = None
    jobs: list[dict[str, Any]] = field(default_factory=list)
    #: False while no store exists at ``store`` yet (its first real run creates it).
    store_exists: bool = True
    #: The watch state of the folders watched from this state folder (any process).
    watch: list[WatchState] = field(default_factory=list)

    @property
    def tracked_files(self) -> int:
        """Files this folder's sync state tracks."""
        return 0 if self.folder is None else self.folder.tracked_files

    @property
    def last_runs(self) -> dict[str, str]:
        """When each kind of run last finished for this folder (ISO-8601)."""
        if self.folder is None:
            return {}
        return {k: v.isoformat(timespec="seconds") for k, v in self.folder.last_runs.items()}

    @property
    def ignored(self) -> dict[str, int]:
        """How many paths each ignore rule leaves out, by rule (as the next sync scans)."""
        scanned = self.pending or (self.last_scan.report if self.last_scan else None)
        return {} if scanned is None else dict(scanned.ignored)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "directory": self.directory,
            "store": self.store,
            "store_exists": self.store_exists,
            "counts": self.counts,
            "entities": sum(self.counts.values()),
            "folder": None if self.folder is None else self.folder.to_dict(),
            "folders": [folder.to_dict() for folder in self.folders],
            "tracked_files": self.tracked_files,
            "last_runs": self.last_runs,
            "pending": self.pending.to_dict() if self.pending else None,
            "last_scan": self.last_scan.to_dict() if self.last_scan else None,
            "ignored": self.ignored,
            "problem": self.problem,
            "jobs": self.jobs,
            "watch": [state.to_dict() for state in self.watch],
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
        "summary": job.error
        or (outcome_line(job.result) + first if job.result else interruption_line(job)),
    }


def interruption_line(job: Job) -> str:
    """Why a job recorded running runs nowhere (empty when it is not interrupted)."""
    gone = job.interrupted
    if gone is None:
        return ""
    from brainsync.jobs.records import iso_time  # here: importing brainsync.jobs is not free

    since = iso_time(gone.since)
    return (
        f"interrupted: worker {gone.executor} on host {gone.host} gone since {since}; "
        "it resumes when a worker of that host starts, or now on resume"
    )


def outcome_line(result: Report) -> str:
    """What a run did, in one line of counts: every kind of outcome it had, in words.

    A run that merged, left items alone or failed on some is never "no changes".
    """
    counts = (
        ("created", result.created),
        ("updated", result.updated),
        ("deleted", result.deleted),
        ("moved", result.moved),
        ("merged", len(result.merged)),
        ("conflicts", len(result.conflicts)),
        ("left alone", len(result.left_alone)),
        ("skipped", len(result.skipped)),
        ("errors", len(result.errors)),
    )
    done = [f"{n} {name}" for name, n in counts if n]
    return ", ".join(done) or f"no changes ({result.unchanged} unchanged)"
