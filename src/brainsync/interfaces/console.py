"""What every command shares: the consoles, opening the facade, following and finishing jobs.

Failures are reported in one place, :class:`Invocation`: a line or two on stderr, one JSON
object on stdout when the command was given ``--json``, and the error's exit code.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from brainsync.app import Brain
from brainsync.config import Settings, load_settings
from brainsync.errors import EXIT_ITEMS_FAILED, BrainsyncError, JobError, job_failure
from brainsync.interfaces.render import print_json, print_report
from brainsync.jobs.records import Job, JobFailure, JobState
from brainsync.report import Report

__all__ = [
    "Invocation",
    "SettingsSource",
    "err",
    "error_json",
    "finish_job",
    "finish_report",
    "follow",
    "open_brain",
    "out",
    "print_enqueued",
    "start_invocation",
]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
#: Where a run's :class:`Invocation` sits in ``ctx.meta`` (shared by all its contexts).
_INVOCATION = "brainsync.invocation"


class Invocation:
    """One run of the command line: reports its failure the way its options asked."""

    def __init__(self) -> None:
        self.verbose = False
        #: Set from the running command's ``--json`` when it opens the facade.
        self.as_json = False

    def refuse(self, exc: BrainsyncError) -> NoReturn:
        """An expected failure: its message (and JSON), then its exit code."""
        if self.verbose and exc.job_id is None:
            # A job's error was rebuilt here: its own traceback is in the engine's log.
            traceback.print_exception(exc)
        if self.as_json:
            print_json(out, error_json(exc.to_dict(), exc.job_id))
        err.print(f"error: {exc}", markup=False, highlight=False)
        if exc.job_id is not None:
            err.print(f"job {exc.job_id} failed; its record: brainsync job show {exc.job_id}")
        sys.exit(exc.exit_code)

    def crash(self, exc: Exception) -> NoReturn:
        """A bug: one line (the traceback with --verbose), then exit 1."""
        name = type(exc).__name__
        if self.as_json:
            print_json(out, error_json({"type": name, "message": str(exc), "exit_code": 1}))
        line = f"error: internal error: {name}: {exc}"
        if self.verbose:
            traceback.print_exception(exc)
        else:
            line += " (run with --verbose for the traceback)"
        err.print(line, markup=False, highlight=False)
        sys.exit(1)


def error_json(error: dict[str, Any], job_id: str | None = None) -> dict[str, Any]:
    """The one JSON object a failed ``--json`` command prints."""
    return {"error": error} if job_id is None else {"error": error, "job_id": job_id}


def start_invocation(ctx: typer.Context, *, verbose: bool) -> None:
    """Keep ``main()``'s :class:`Invocation` where every command finds it; apply --verbose."""
    invocation = ctx.obj if isinstance(ctx.obj, Invocation) else Invocation()
    invocation.verbose = verbose
    ctx.meta[_INVOCATION] = invocation
    if verbose:
        # Libraries' warnings (the job engine's tracebacks among them) reach stderr too.
        logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


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
    invocation = ctx.meta.get(_INVOCATION)
    if isinstance(invocation, Invocation):
        # Every --json command opens the facade first, so a failure from here on is JSON.
        invocation.as_json = bool(ctx.params.get("as_json"))
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
        unknown = JobFailure(JobError.__name__, job.error or "job failed", JobError.exit_code)
        failure = job.failure or unknown
        raise job_failure(failure.type, failure.message, failure.exit_code, job.id)
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
        if quiet:
            stopped = {
                "type": "KeyboardInterrupt",
                "message": "stopped following",
                "exit_code": 130,
            }
            print_json(out, error_json(stopped, job_id))
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
