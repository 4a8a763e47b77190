"""Turning reports, entities and status into terminal text or JSON (no rules here)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from brainsync.app import Status
from brainsync.entities import Entity
from brainsync.jobs.records import Job
from brainsync.report import Report

__all__ = [
    "entity_dict",
    "job_dict",
    "print_job",
    "print_json",
    "print_report",
    "print_status",
]

_MAX_LISTED = 20


def print_json(console: Console, data: Any) -> None:
    """Machine-readable output: one JSON document, no colour, no wrapping."""
    console.file.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def entity_dict(entity: Entity, *, with_document: bool = True) -> dict[str, Any]:
    """The JSON view of an entity."""
    data: dict[str, Any] = {
        "type": entity.type,
        "id": entity.id,
        "version": entity.version,
        "content_hash": entity.content_hash,
        "created": entity.created.isoformat(),
        "updated": entity.updated.isoformat(),
        "metadata": dict(entity.metadata),
    }
    if with_document:
        data["content"] = entity.content
        data["document"] = entity.document
    return data


def print_report(console: Console, title: str, report: Report) -> None:
    """A summary line, then conflicts, skipped files and errors (the first few of each)."""
    prefix = "[dry run] " if report.dry_run else ""
    console.print(
        f"{prefix}{title}: {report.created} created, {report.updated} updated, "
        f"{report.deleted} deleted, {report.moved} moved, {report.unchanged} unchanged, "
        f"{len(report.conflicts)} conflicts, {len(report.skipped)} skipped, "
        f"{len(report.errors)} errors"
    )
    _listing(console, "conflict", [f"{c.path}: {c.resolution}" for c in report.conflicts])
    _listing(console, "skipped", [f"{s.path}: {s.reason}" for s in report.skipped])
    _listing(console, "error", [f"{e.path}: {e.error}" for e in report.errors])


def _listing(console: Console, label: str, lines: list[str]) -> None:
    for line in lines[:_MAX_LISTED]:
        console.print(f"  {label}: {line}", markup=False, highlight=False)
    if len(lines) > _MAX_LISTED:
        console.print(f"  ... and {len(lines) - _MAX_LISTED} more {label} lines (use --json)")


def print_status(console: Console, status: Status) -> None:
    """The status view: where, how many, when, and what is pending."""
    table = Table(title=f"brainsync: {status.directory}", show_header=True)
    table.add_column("type")
    table.add_column("entities", justify="right")
    for name, count in sorted(status.counts.items()):
        table.add_row(name, str(count))
    table.add_row("total", str(sum(status.counts.values())))
    console.print(table)
    console.print(f"store: {status.store}; tracked files: {status.tracked_files}")
    for kind, stamp in sorted(status.last_runs.items()):
        console.print(f"last {kind}: {stamp}")
    if status.problem:
        console.print(f"[bold red]next sync would refuse:[/] {status.problem}")
    if status.pending is not None:
        print_report(console, "pending (next sync)", status.pending)
    for job in status.jobs:
        stalled = " STALLED" if job["stalled"] else ""
        console.print(
            f"job {job['id']}: {job['kind']} {job['state']}{stalled} {job['summary']}",
            markup=False,
            highlight=False,
        )


def job_dict(job: Job) -> dict[str, Any]:
    """The JSON view of a job (the full report, every error included)."""
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state.value,
        "stalled": job.stalled,
        "params": job.params,
        "progress": {
            "current": job.progress.current,
            "total": job.progress.total,
            "message": job.progress.message,
            "rate": job.progress.rate,
            "eta_seconds": job.progress.eta_seconds,
        },
        "created": job.created.isoformat() if job.created else None,
        "started": job.started.isoformat() if job.started else None,
        "finished": job.finished.isoformat() if job.finished else None,
        "error": job.error,
        "result": job.result.to_dict() if job.result else None,
    }


def _counts(job: Job) -> str:
    """One line: counts and errors so far."""
    if job.result is None:
        return job.error or job.progress.message
    r = job.result
    text = f"{r.created}+ {r.updated}~ {r.deleted}- {r.moved}> {len(r.conflicts)} conflicts"
    return text + (f", {len(r.errors)} errors" if r.errors else "")


def print_job(console: Console, job: Job, *, brief: bool) -> None:
    """A job as a line (``brief``) or as a block with its report."""
    stalled = " STALLED" if job.stalled else ""
    progress = f"{job.progress.current}/{job.progress.total}"
    console.print(
        f"{job.id}  {job.kind:<6} {job.state.value:<9}{stalled} {progress:>11}  {_counts(job)}",
        markup=False,
        highlight=False,
    )
    if brief:
        return
    for label, stamp in (
        ("created", job.created),
        ("started", job.started),
        ("finished", job.finished),
    ):
        if stamp is not None:
            console.print(f"  {label}: {stamp.isoformat()}")
    if job.error:
        console.print(f"  error: {job.error}", markup=False, highlight=False)
    if job.result is not None:
        print_report(console, "  report", job.result)
