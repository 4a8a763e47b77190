"""The records the watcher works with: its options, its batches, what it reports.

Also the one place that reads a finished job for the watcher (:func:`outcome`): the counts
of a batch, whether the root went away under it, whether the mass-delete guard held it,
and which paths were caught mid-write and deserve another look once they settle.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from brainsync.config import Settings
from brainsync.entities import EntityType
from brainsync.events import EventBus
from brainsync.report import Report
from brainsync.store import FolderRecord, Store

if TYPE_CHECKING:
    from brainsync.jobs import Job
    from brainsync.sync.engine import SyncEngine
    from brainsync.sync.folders import Joined

__all__ = ["Batch", "BatchOutcome", "JobHost", "WatchEvent", "WatchEventKind", "WatchOptions"]

#: The words a chunk uses for a file caught mid-write (see ``sync.chunk``).
_MID_WRITE = "mid-write"
#: Paths named per kind of problem in one line of watch output (the rest are counted).
_NAMED = 5


class JobHost(Protocol):
    """What the watcher needs from the facade: settings, store, bus and durable jobs."""

    settings: Settings
    bus: EventBus[object]
    types: dict[str, EntityType]

    @property
    def store(self) -> Store:
        """The entity store."""

    @property
    def engine(self) -> SyncEngine:
        """The sync engine (for its path mapper)."""

    def join_folder(self) -> Joined:
        """The folder of the directory, registered if new."""

    def folder(self) -> FolderRecord | None:
        """The folder of the directory, or None."""

    def start(self, kind: str, params: dict[str, Any] | None = None) -> str:
        """Enqueue a job; its id."""

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """The job once finished; JobError after ``timeout``."""


@dataclass(frozen=True)
class WatchOptions:
    """How a watcher runs: which directions, and its timings (from :class:`Settings`)."""

    import_files: bool = True
    export_entities: bool = True
    debounce_ms: int = 100
    batch_max_ms: int = 1000
    delete_delay: float = 2.0
    rescan_seconds: float = 600.0
    poll_seconds: float = 1.0

    @classmethod
    def from_settings(
        cls, settings: Settings, *, import_files: bool = True, export_entities: bool = True
    ) -> WatchOptions:
        """Options with the timings the settings give."""
        return cls(
            import_files,
            export_entities,
            settings.watch_debounce_ms,
            settings.watch_batch_max_ms,
            settings.watch_delete_delay_seconds,
            settings.watch_rescan_seconds,
            settings.watch_poll_seconds,
        )

    @property
    def kind(self) -> str:
        """The job kind each batch runs: ``sync``, or one way when one side is off."""
        if self.import_files and self.export_entities:
            return "sync"
        return "import" if self.import_files else "export"


@dataclass(frozen=True)
class Batch:
    """Work for one job: ``trigger`` says why; no paths means the whole folder."""

    trigger: str
    paths: tuple[str, ...]
    #: Why the batch is what it is, when the user should know (a queue overflow).
    note: str | None = None


class WatchEventKind(enum.Enum):
    """What a watch event reports."""

    WATCHING = "watching"
    PAUSED = "paused"
    RESUMED = "resumed"
    BATCH = "batch"
    WARNING = "warning"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class WatchEvent:
    """One line of watch output: what happened, with counts for an applied batch."""

    kind: WatchEventKind
    message: str
    trigger: str | None = None
    paths: int = 0
    job: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    #: The paths of the batch's errors and conflicts, a line per kind.
    problems: tuple[str, ...] = ()
    at: str = field(default_factory=_now)

    def to_dict(self) -> dict[str, Any]:
        """The JSON view (one object per line in ``watch --json``)."""
        return {
            "event": self.kind.value,
            "message": self.message,
            "trigger": self.trigger,
            "paths": self.paths,
            "job": self.job,
            "counts": dict(self.counts),
            "problems": list(self.problems),
            "at": self.at,
        }


@dataclass(frozen=True)
class BatchOutcome:
    """What one finished job means to the watcher."""

    event: WatchEvent
    changed: bool = False
    root_lost: bool = False
    mass_delete: bool = False
    message: str = ""
    unsettled: tuple[str, ...] = ()


def counts_of(report: Report) -> dict[str, int]:
    """The non-zero counts of a report, by name."""
    counts = {
        "created": report.created,
        "updated": report.updated,
        "deleted": report.deleted,
        "moved": report.moved,
        "conflicts": len(report.conflicts),
        "errors": len(report.errors),
        "skipped": len(report.skipped),
        "left_alone": len(report.left_alone),
    }
    return {name: count for name, count in counts.items() if count}


def problems(report: Report, job_id: str) -> list[str]:
    """The paths of a report's errors and conflicts (with each conflict's copy), a line
    per kind; at most :data:`_NAMED` paths each, then how many more."""
    conflicts = [
        f"{c.path} (copy {c.copy_path})" if c.copy_path else c.path for c in report.conflicts
    ]
    lines: list[str] = []
    for title, named in (("errors", [e.path for e in report.errors]), ("conflicts", conflicts)):
        if named:
            more = len(named) - _NAMED
            tail = f" and {more} more (brainsync job show {job_id})" if more > 0 else ""
            lines.append(f"{title}: {', '.join(named[:_NAMED])}{tail}")
    return lines


def outcome(batch: Batch, job: Job) -> BatchOutcome:
    """Read a finished job of ``batch`` for the watcher."""
    if job.result is None or job.failure is not None:
        kind = job.failure.type if job.failure is not None else ""
        message = (job.failure.message if job.failure else job.error) or job.state.value
        event = WatchEvent(
            WatchEventKind.WARNING,
            f"{batch.trigger} failed: {message}",
            batch.trigger,
            len(batch.paths),
            job.id,
        )
        return BatchOutcome(
            event,
            root_lost=kind == "RootUnavailableError",
            mass_delete=kind == "MassDeleteError",
            message=message,
        )
    report = job.result
    counts = counts_of(report)
    unchanged = {"skipped", "left_alone"}
    changed = any(name not in unchanged for name in counts)
    unsettled = {s.path for s in report.skipped if _MID_WRITE in s.reason}
    unsettled.update(error.path for error in report.errors)
    summary = ", ".join(f"{count} {name}" for name, count in counts.items()) or "no changes"
    named = problems(report, job.id)
    summary += "".join(f"; {line}" for line in named)
    count = len(batch.paths)
    where = f"{count} path{'' if count == 1 else 's'}" if batch.paths else "whole folder"
    event = WatchEvent(
        WatchEventKind.BATCH,
        f"{batch.trigger} ({where}): {summary}",
        batch.trigger,
        len(batch.paths),
        job.id,
        counts,
        tuple(named),
    )
    return BatchOutcome(event, changed, unsettled=tuple(sorted(unsettled)))
