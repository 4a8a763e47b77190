"""What every command shares: the consoles, opening the facade, following and finishing jobs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from brainsync.app import Brain
from brainsync.config import Settings, load_settings
from brainsync.errors import EXIT_ITEMS_FAILED, error_from_description
from brainsync.interfaces.render import print_json, print_report
from brainsync.jobs.records import Job, JobState
from brainsync.report import Report

__all__ = [
    "SettingsSource",
    "err",
    "finish_job",
    "finish_report",
    "follow",
    "open_brain",
    "out",
    "print_enqueued",
]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class SettingsSource:
    """Resolves settings when a command needs them; commands may add overrides first."""

    def __init__(self, overrides: dict[str, Any], config: Path | None) -> None:
        self.overrides = overrides
        self._config = config

    def __call__(self) -> Settings:
        return load_settings(self.overrides, os.environ, self._config)


@contextmanager
def open_brain(ctx: typer.Context) -> Iterator[Brain]:
    """The facade for the settings the global options resolved."""
    source: SettingsSource = ctx.obj
    with Brain(source()) as brain:
        yield brain


def finish_report(report: Report, title: str, as_json: bool) -> None:
    """Print a report (always), then exit non-zero when items failed."""
    if as_json:
        print_json(out, report.to_dict())
    else:
        print_report(out, title, report)
    if not report.ok:
        raise typer.Exit(EXIT_ITEMS_FAILED)


def finish_job(job: Job, as_json: bool) -> None:
    """Print a finished job's report; exit with the code its outcome calls for."""
    if job.state is JobState.FAILED:
        raise error_from_description(job.error or "job failed")
    if job.state is JobState.CANCELLED:
        err.print(f"job {job.id} was cancelled; `brainsync job resume {job.id}` finishes it")
    finish_report(job.result or Report(), f"{job.kind} ({job.state.value})", as_json)


def print_enqueued(job_id: str, as_json: bool) -> None:
    """Say a job was queued, and who will run it."""
    if as_json:
        print_json(out, {"job_id": job_id, "state": "queued"})
        return
    out.print(job_id, markup=False, highlight=False)
    err.print(
        "queued: a worker (`brainsync worker`) or the next command that follows a job runs it"
    )


def follow(brain: Brain, job_id: str, *, quiet: bool) -> Job:
    """Wait for the job, with a progress bar on a terminal; Ctrl-C loses nothing."""
    try:
        if quiet or not err.is_terminal:
            return brain.wait(job_id)
        with _progress_bar() as show:
            return brain.wait(job_id, on_progress=show)
    except KeyboardInterrupt:
        err.print(
            f"stopped following job {job_id}. Nothing is lost: the job stops at its next chunk "
            "boundary and resumes from there when a worker starts (`brainsync worker`, or "
            f"`brainsync job follow {job_id}`)"
        )
        raise typer.Exit(130) from None


@contextmanager
def _progress_bar() -> Iterator[Callable[[Job], None]]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[errors]}"),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("queued", total=None, rate="", errors="")

        def show(job: Job) -> None:
            progress = job.progress
            rate = f"{progress.rate:.0f}/s" if progress.rate else ""
            failed = len(job.result.errors) if job.result else 0
            bar.update(
                task,
                description=f"{job.kind} {job.state.value}",
                completed=progress.current,
                total=progress.total or None,
                rate=rate,
                errors=f"{failed} errors" if failed else "",
            )

        yield show
