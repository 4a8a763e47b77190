"""What every command shares: the consoles, opening the facade, following and finishing jobs.

Failures are reported in one place, :class:`Invocation`: a line or two on stderr, one JSON
object on stdout when the command was given ``--json``, and the error's exit code.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from brainsync.app import Brain
from brainsync.config import ConflictPolicy, Settings, load_settings, unknown_env_warning
from brainsync.errors import BrainsyncError, JobError, job_failure
from brainsync.interfaces.progress_lines import progress_lines
from brainsync.interfaces.render import print_json, print_report
from brainsync.interfaces.terminal import Terminal
from brainsync.jobs.records import Job, JobFailure, JobState
from brainsync.report import Report

if TYPE_CHECKING:
    from brainsync.jobs.service import JobService

__all__ = [
    "CtrlC",
    "Follower",
    "Invocation",
    "SettingsSource",
    "err",
    "error_json",
    "finish_job",
    "finish_report",
    "following",
    "open_brain",
    "out",
    "print_enqueued",
    "start_invocation",
]

out = Terminal()
err = Terminal(stderr=True)
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
        err.print(f"error: {exc}")
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
        err.print(line)
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
        echo = logging.StreamHandler(sys.stderr)  # the job engine's logger does not propagate
        echo.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logging.getLogger("dbos").addHandler(echo)


class SettingsSource:
    """Resolves settings when a command needs them; commands may add overrides first."""

    def __init__(self, overrides: dict[str, Any], config: Path | None) -> None:
        self.overrides = overrides
        self._config = config

    def __call__(self) -> Settings:
        warning = unknown_env_warning(os.environ)
        if warning is not None and not SettingsSource._warned:
            SettingsSource._warned = True  # once per process, however many brains it opens
            err.print(warning)
        return load_settings(self.overrides, os.environ, self._config)

    _warned = False


@contextmanager
def open_brain(ctx: typer.Context, *, read_only: bool = False) -> Iterator[Brain]:
    """The facade for the settings the global options resolved (``read_only``: a command
    that only reads, and creates nothing where no store exists yet)."""
    invocation = ctx.meta.get(_INVOCATION)
    if isinstance(invocation, Invocation):
        # Every --json command opens the facade first, so a failure from here on is JSON.
        invocation.as_json = bool(ctx.params.get("as_json"))
    source: SettingsSource = ctx.obj
    with Brain(source(), read_only=read_only) as brain:
        yield brain


def finish_report(report: Report, title: str, as_json: bool) -> None:
    """Print a report (always), then exit non-zero when items failed, policy ``fail``
    left conflicts, or (a dry run) the real run would be refused; stderr says why."""
    if as_json:
        print_json(out, report.to_dict())
    else:
        print_report(out, title, report)
    if report.refused:
        err.print(f"dry run: {report.refused}")
    elif report.unresolved:
        others = ", ".join(p.value for p in ConflictPolicy if p is not ConflictPolicy.FAIL)
        err.print(
            f"error: {_conflicts(report.unresolved)} left unresolved (policy fail): both "
            f"sides changed; sync with another --conflict policy ({others}) or edit one side"
        )
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def _conflicts(count: int) -> str:
    return f"{count} conflict" + ("" if count == 1 else "s")


def _outcome(job: Job, report: Report) -> str:
    """What a finished job's report title says it did: never "succeeded" beside a failure."""
    if job.state is not JobState.SUCCEEDED or report.exit_code == 0:
        return job.state.value
    if report.refused:
        return "dry run; the real run would be refused"
    if report.unresolved:
        return f"finished; {_conflicts(report.unresolved)} left unresolved by policy fail"
    return f"finished with {len(report.errors)} errors"


def finish_job(job: Job, as_json: bool) -> None:
    """Print a finished job's report; exit with the code its outcome calls for."""
    if job.state is JobState.FAILED:
        unknown = JobFailure(JobError.__name__, job.error or "job failed", JobError.exit_code)
        failure = job.failure or unknown
        raise job_failure(failure.type, failure.message, failure.exit_code, job.id)
    if job.state is JobState.CANCELLED:
        err.print(f"job {job.id} was cancelled; `brainsync job resume {job.id}` finishes it")
    report = job.result or Report()
    finish_report(report, f"{job.kind} ({_outcome(job, report)})", as_json)


def print_enqueued(job_id: str, as_json: bool) -> None:
    """Say a job was queued, and who will run it."""
    if as_json:
        print_json(out, {"job_id": job_id, "state": "queued"})
        return
    out.print(job_id)
    err.print(
        "queued: a worker (`brainsync worker`) or the next command that follows a job runs it"
    )


class CtrlC:
    """Ctrl-C (SIGINT) recorded instead of raised, for as long as a followed command runs.

    Python raises KeyboardInterrupt wherever the main thread happens to be. Raised inside a
    read of the SQLite job store, it leaves the read's statement open; its traceback keeps
    that statement, and the read lock with it, alive while the worker shuts down, and the
    shutdown waits for the job's checkpoint, a write that waits for that lock: the command
    hung after its message. Recorded, Ctrl-C is acted on where the command looks for it.
    """

    def __init__(self) -> None:
        self.pressed = False
        #: Ctrl-C sets it, and so may whoever else the waiting main thread must look at.
        self.wake = threading.Event()

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.pressed = True
        self.wake.set()

    @contextmanager
    def recording(self) -> Iterator[CtrlC]:
        """Record SIGINT in this block (only the main thread can; no other one receives it).

        Also when SIGINT was ignored on entry (a background command of a script, or of a
        test runner started so), as ``worker`` and ``watch`` do: the interrupt someone
        sends must stop the following, not be lost while the job runs to its end.
        """
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.signal(signal.SIGINT, self._record)
        try:
            yield self
        finally:
            # None: a handler not set from Python (an embedding program); Python's own then
            signal.signal(
                signal.SIGINT, signal.default_int_handler if previous is None else previous
            )


class Follower:
    """A command that runs a job in this process and follows it: Ctrl-C loses nothing."""

    def __init__(self, brain: Brain, ctrl_c: CtrlC, quiet: bool) -> None:
        self._brain = brain
        self._ctrl_c = ctrl_c
        self._quiet = quiet
        self._told = False

    @property
    def brain(self) -> Brain:
        """The facade this command works with."""
        return self._brain

    def run(self, kind: str, params: dict[str, Any]) -> Job:
        """Queue a job of ``kind`` and follow it to its end.

        The worker starts first (the slow part): Ctrl-C meanwhile queues nothing. A run
        that cannot start is refused before that, and creates nothing.
        """
        self._brain.check_run(kind, params)
        self._say_resumed(self._brain.jobs(brief=True))
        if self._ctrl_c.pressed:
            nothing = "Nothing is lost: no job was queued and nothing changed"
            self._stop(None, f"stopped before the {kind} was queued. {nothing}")
        return self.follow(self._brain.start(kind, params))

    def follow(self, job_id: str) -> Job:
        """Wait for the job (this process runs jobs meanwhile), with a bar on a terminal."""
        # Opened here, in the main thread: a worker never starts in the waiting thread,
        # where the shutdown after Ctrl-C could miss it.
        jobs = self._brain.jobs(brief=True)  # this command ends with the job
        self._say_resumed(jobs, job_id)
        job = None if self._ctrl_c.pressed else self._wait(job_id)
        if job is not None:
            return job
        if jobs.worker_running:
            after = (
                "the job stops at its next chunk boundary and resumes from there when a "
                f"worker starts (`brainsync worker`, or `brainsync job follow {job_id}`)"
            )
        else:
            after = _elsewhere(jobs, job_id)
        self._stop(job_id, f"stopped following job {job_id}. Nothing is lost: {after}")

    def _say_resumed(self, jobs: JobService, followed: str | None = None) -> None:
        """Name the interrupted jobs this process's worker resumes (first), once."""
        if self._told:
            return
        self._told = True
        for job in jobs.resumed_here():
            if not job.state.finished:
                first = "" if job.id == followed else " first"
                err.print(
                    f"resuming{first} job {job.id} ({job.kind}): it was interrupted when "
                    "its worker's process ended, and goes on from its last finished chunk"
                )

    def _wait(self, job_id: str) -> Job | None:
        if self._quiet:
            return _wait_in_thread(self._brain, job_id, self._ctrl_c, None)
        if not err.is_terminal:  # a pipe or a log: a plain line every few seconds
            interval = self._brain.settings.progress_seconds
            with progress_lines(err, interval) as show:
                return _wait_in_thread(self._brain, job_id, self._ctrl_c, show)
        with _progress_bar() as show:
            return _wait_in_thread(self._brain, job_id, self._ctrl_c, show)

    def _stop(self, job_id: str | None, message: str) -> NoReturn:
        """Say what Ctrl-C stopped; exit 130 once the worker handed its job back."""
        if self._quiet:
            what = "stopped following" if job_id else "stopped before the job was queued"
            stopped = {"type": "KeyboardInterrupt", "message": what, "exit_code": 130}
            print_json(out, error_json(stopped, job_id))
        err.print(message)
        raise typer.Exit(130)


def _elsewhere(jobs: JobService, job_id: str) -> str:
    """What becomes of a job this process did not run, as its record says now."""
    resume = f"`brainsync job follow {job_id}` (or `brainsync worker`) runs it"
    try:
        job = jobs.status(job_id)
    except BrainsyncError:
        return f"if no worker takes the job, {resume}"
    if job.state is JobState.RUNNING:
        where = job.executor or "another process"
        return f"the job goes on in worker {where}; `brainsync job follow {job_id}` follows it"
    if job.state.finished:
        return f"the job ended meanwhile ({job.state.value}); `brainsync job show {job_id}`"
    return f"the job is still queued; it runs when a worker takes it: {resume}"


@contextmanager
def following(ctx: typer.Context, *, quiet: bool) -> Iterator[Follower]:
    """:func:`open_brain` for a command that follows a job; Ctrl-C is recorded throughout,
    the worker's shutdown at the end included (see :class:`CtrlC`)."""
    with CtrlC().recording() as ctrl_c, open_brain(ctx) as brain:
        yield Follower(brain, ctrl_c, quiet)


#: How often the main thread looks at Ctrl-C on its own: a signal that lands on another
#: thread wakes nothing, and is then handled only when the main thread runs again.
_LOOK_SECONDS = 0.2


def _wait_in_thread(
    brain: Brain, job_id: str, ctrl_c: CtrlC, on_progress: Callable[[Job], None] | None
) -> Job | None:
    """The finished job, or None when Ctrl-C came first.

    A helper thread does the waiting (the reads of the job store); the main thread only
    waits for it or for Ctrl-C. After Ctrl-C the helper ends with the process: it only reads.
    """
    outcome: list[Job | BaseException] = []

    def wait() -> None:
        try:
            outcome.append(brain.wait(job_id, on_progress=on_progress))
        except BaseException as exc:  # raised again by the main thread
            outcome.append(exc)
        ctrl_c.wake.set()

    threading.Thread(target=wait, name="brainsync-follow", daemon=True).start()
    while not outcome and not ctrl_c.pressed:
        ctrl_c.wake.wait(_LOOK_SECONDS)
    if ctrl_c.pressed:
        return None
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


@contextmanager
def _progress_bar() -> Iterator[Callable[[Job], None]]:
    # Imported here: only a command followed on a terminal draws a bar (see Terminal).
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[errors]}"),
    )
    with Progress(*columns, console=err.rich, transient=True) as bar:
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
