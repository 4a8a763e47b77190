"""Turning reports, entities and status into terminal text or JSON (no rules here)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from brainsync.app import Status
from brainsync.entities import Entity
from brainsync.jobs.records import Job, iso_time
from brainsync.report import ItemError, Merged, Report
from brainsync.status import interruption_line, outcome_line
from brainsync.store import FolderRecord
from brainsync.store.history import EntityVersion

if TYPE_CHECKING:
    from brainsync.interfaces.terminal import Terminal
    from brainsync.sync.scan import IgnoredPath
    from brainsync.sync.watch_state import WatchState

__all__ = [
    "entity_dict",
    "job_dict",
    "print_folders",
    "print_history",
    "print_job",
    "print_job_header",
    "print_json",
    "print_report",
    "print_status",
]

_MAX_LISTED = 20
#: What a dry run lists each planned path as (by the report's action).
_VERBS = {"created": "create", "updated": "update", "deleted": "delete", "moved": "move"}
#: How the titles of what the next sync would do begin: plans, never runs to mark.
_PENDING = "pending"


def print_json(console: Terminal, data: Any) -> None:
    """Machine-readable output: one JSON document, no colour, no wrapping."""
    console.file.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def entity_dict(entity: Entity, *, with_document: bool = True) -> dict[str, Any]:
    """The JSON view of an entity (the entity's own, see :meth:`Entity.to_dict`)."""
    return entity.to_dict(with_document=with_document)


def print_report(console: Terminal, title: str, report: Report) -> None:
    """A summary line, then conflicts, skipped files and errors (the first few of each)."""
    # The title says what ran ("sync", "pending (next sync)"); a dry run is marked here,
    # wherever it is shown (a command's own, or `job show` of an agent's dry-run job).
    if report.dry_run and not title.startswith(_PENDING):
        title = f"{title} (dry run)"
    console.print(
        f"{title}: {report.created} created, {report.updated} updated, "
        f"{report.deleted} deleted, {report.moved} moved, {report.unchanged} unchanged, "
        f"{len(report.merged)} merged, "
        f"{len(report.conflicts)} conflicts, {len(report.left_alone)} left alone, "
        f"{len(report.skipped)} skipped, {len(report.errors)} errors"
    )
    for note in report.notes:
        console.print(f"  note: {note}")
    if report.refused:
        console.print(f"  {report.refused}")
    for action, paths in report.planned_paths().items():
        _listing(console, f"would {_VERBS[action]}", paths, f"paths {action}")
    _listing(console, "merged", [_merged_line(m) for m in report.merged])
    _listing(console, "conflict", [f"{c.path}: {c.resolution}" for c in report.conflicts])
    _listing(
        console,
        "left alone",
        [f"{item.path}: {item.reason} ({item.resolve})" for item in report.left_alone],
    )
    _listing(console, "skipped", [f"{s.path}: {s.reason}" for s in report.skipped])
    _listing(console, "error", _grouped_errors(report.errors))


def _grouped_errors(errors: Sequence[ItemError]) -> list[str]:
    """One line per distinct error: its path, or how many files had it (B12)."""
    paths: dict[str, list[str]] = {}
    for error in errors:
        paths.setdefault(error.error, []).append(error.path)
    return [
        f"{found[0]}: {text}"
        if len(found) == 1
        else f"{text}: {len(found)} files ({found[0]}, ...)"
        for text, found in paths.items()
    ]


def _merged_line(item: Merged) -> str:
    sides = (("file", item.from_file), ("store", item.from_store))
    return f"{item.path}: " + "; ".join(f"from {n}: {', '.join(got)}" for n, got in sides if got)


def print_history(console: Terminal, history: Sequence[EntityVersion]) -> None:
    """One line per kept version: version, time, what wrote it, hash (or ``deleted``);
    the first kept version of each later life says the entity was created again."""
    life = history[0].life if history else 1
    for row in history:
        what = "deleted" if row.deleted else (row.content_hash or "")[:12]
        line = f"v{row.version}  {row.recorded:%Y-%m-%d %H:%M:%S}  {row.writer or '-'}  {what}"
        if row.life != life:
            line += f"  (created again after a delete: life {row.life})"
            life = row.life
        console.print(line)


def _listing(console: Terminal, label: str, lines: list[str], more: str = "") -> None:
    for line in lines[:_MAX_LISTED]:
        console.print(f"  {label}: {line}")
    if len(lines) > _MAX_LISTED:
        what = more or f"{label} lines"
        console.print(f"  ... and {len(lines) - _MAX_LISTED} more {what} (use --json)")


def print_status(
    console: Terminal, status: Status, ignored: Sequence[IgnoredPath] | None = None
) -> None:
    """The status view: where, how many, when, what is pending and what is not synced.

    ``ignored`` (``status --ignored``) lists every ignored path with its rule.
    """
    from rich.markup import escape
    from rich.table import Table  # only here: see Terminal

    table = Table(title=f"brainsync: {status.directory}", show_header=True)
    table.add_column("type")
    table.add_column("entities", justify="right")
    for name, count in sorted(status.counts.items()):
        table.add_row(name, str(count))
    table.add_row("total", str(sum(status.counts.values())))
    console.print(table)
    _print_folder(console, status)
    if status.problem and not (status.pending and status.pending.refused):
        console.print(f"[bold red]next sync would refuse:[/] {escape(status.problem)}", markup=True)
    if status.pending is not None:
        print_report(console, "pending (next sync)", status.pending)
    elif status.last_scan is not None:
        age = _age(status.last_scan.age_seconds())
        title = f"pending as of the last scan, {age} ago (`brainsync status --pending` scans now)"
        print_report(console, title, status.last_scan.report)
    elif status.problem is None:
        console.print("pending: not scanned since the last run; `brainsync status --pending` scans")
    if status.ignored:
        counts = ", ".join(f"{rule} {n}" for rule, n in sorted(status.ignored.items()))
        console.print(f"not synced (ignore rules): {counts}")
    lines = [f"  ignored: {item.path} [{item.rule}] {item.reason}" for item in ignored or ()]
    lines += [_watch_line(state) for state in status.watch]
    lines += [_job_line(job) for job in status.jobs]
    for line in lines:
        console.print(line)


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _print_folder(console: Terminal, status: Status) -> None:
    """Where this folder stands: the store, its id, the other folders, its last runs."""
    if not status.store_exists:
        console.print(
            f"store: {status.store} (no store yet: the first sync, import or export makes it)"
        )
    else:
        console.print(f"store: {status.store}; tracked files: {status.tracked_files}")
    if status.folder is None:
        console.print("folder: not joined yet (its first run joins it; a join deletes nothing)")
    else:
        console.print(f"folder: {status.folder.label} ({status.folder.id})")
    others = len(status.folders) - (status.folder is not None)
    if others > 0:
        console.print(f"other folders of this store: {others} (`brainsync folders`)")
    for kind, stamp in sorted(status.last_runs.items()):
        console.print(f"last {kind}: {stamp}")


def _job_line(job: dict[str, Any]) -> str:
    stalled = " STALLED" if job["stalled"] else ""
    return f"job {job['id']}: {job['kind']} {job['state']}{stalled} {job['summary']}"


def job_dict(job: Job) -> dict[str, Any]:
    """The JSON view of a job, the full report included (see :meth:`Job.to_dict`)."""
    return job.to_dict()


def _counts(job: Job) -> str:
    """One line: what the job did (or its error, or where it is while it runs)."""
    if job.result is None:
        return job.error or interruption_line(job) or job.progress.message
    return outcome_line(job.result)


def print_job_header(console: Terminal) -> None:
    """The column names above :func:`print_job`'s brief lines."""
    console.print(f"{'JOB':<36}  {'KIND':<6} {'STATE':<9} {'ITEMS DONE':>11}  OUTCOME")


def print_job(console: Terminal, job: Job, *, brief: bool) -> None:
    """A job as a line (``brief``) or as a block with its report."""
    stalled = " STALLED" if job.stalled else ""
    progress = f"{job.progress.current}/{job.progress.total}"
    console.print(
        f"{job.id}  {job.kind:<6} {job.shown_state:<9}{stalled} {progress:>11}  {_counts(job)}"
    )
    if brief:
        return
    for label, stamp in (
        ("created", job.created),
        ("started", job.started),
        ("finished", job.finished),
    ):
        if stamp is not None:
            console.print(f"  {label}: {iso_time(stamp)}")
    if job.error:
        console.print(f"  error: {job.error}")
    if job.result is not None:
        print_report(console, "  report", job.result)


def print_folders(console: Terminal, folders: Sequence[FolderRecord], here: str | None) -> None:
    """One line per folder; ``here`` (this directory's folder id) is marked with ``*``."""
    if not folders:
        console.print("no folders yet: the first export, import or sync of a folder joins it")
        return
    for folder in folders:
        last = folder.last_run
        when = "never run" if last is None else f"last {last[0]} {last[1]:%Y-%m-%d %H:%M:%S}"
        where = f"{folder.host}:{folder.path}" if folder.claimed else "(unclaimed schema-1 state)"
        mark = "*" if folder.id == here else " "
        line = f"{mark} {folder.id}  {folder.label}  {where}  {when}  {folder.tracked_files} files"
        console.print(line)


def _watch_line(state: WatchState) -> str:
    """One folder's watch state: watching since when, or paused and why."""
    line = f"watch {state.directory}: {state.mode.value} since {state.since}"
    if state.reason:
        line += f" ({state.reason})"
    if state.last_batch:
        line += f"; last batch {state.last_batch.get('at', '')}"
    return line
