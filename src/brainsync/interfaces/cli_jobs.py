"""Job commands: ``jobs``, ``job show|follow|cancel|resume|takeover`` and ``worker``."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer

from brainsync.errors import InvalidInputError, JobError
from brainsync.interfaces.completion import complete_states
from brainsync.interfaces.console import err, finish_job, following, open_brain, out
from brainsync.interfaces.render import job_dict, print_job, print_job_header, print_json
from brainsync.jobs.records import Job, JobState

__all__ = ["register"]

job_app = typer.Typer(help="Inspect and control one background job.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
IdArg = Annotated[str, typer.Argument(help="The job's id (or a unique prefix of 4+ characters).")]


def register(app: typer.Typer) -> None:
    """Add the job commands to the main app."""
    app.add_typer(job_app, name="job")
    app.command("jobs")(jobs_cmd)
    app.command("worker")(worker_cmd)


def _state(value: str | None) -> JobState | None:
    if value is None:
        return None
    try:
        return JobState(value)
    except ValueError:
        allowed = ", ".join(s.value for s in JobState)
        raise InvalidInputError(f"job state must be one of {allowed}") from None


def jobs_cmd(
    ctx: typer.Context,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            help="queued, running, succeeded, failed or cancelled.",
            autocompletion=complete_states,
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="At most this many (1 or more), newest first.")
    ] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List recent jobs, newest first."""
    with open_brain(ctx, read_only=True) as brain:
        jobs = brain.job_records().list(_state(state), limit)
    if as_json:
        print_json(out, [job_dict(job) for job in jobs])
        return
    if not jobs:
        out.print("no jobs" + (f" {state}" if state else ""))
        return
    out.print(f"{'RUNS ON':<24} ", end="")
    print_job_header(out)
    for job in jobs:
        # where it runs first: from any host, `jobs` lists every host's jobs
        out.print(f"{_runs_on(job):<24} ", end="")
        print_job(out, job, brief=True)


def _runs_on(job: Job) -> str:
    where = job.host or "any-host"
    return where if job.executor is None or job.executor == where else f"{where}/{job.executor}"


@job_app.command("show")
def job_show(ctx: typer.Context, job_id: IdArg, as_json: JsonOpt = False) -> None:
    """One job: state, progress, times, result and every per-item error."""
    with open_brain(ctx, read_only=True) as brain:
        job = brain.job_records().status(brain.job_id(job_id))
    if as_json:
        print_json(out, job_dict(job))
    else:
        print_job(out, job, brief=False)


@job_app.command("follow")
def job_follow(ctx: typer.Context, job_id: IdArg, as_json: JsonOpt = False) -> None:
    """Follow a job to its end (this process runs jobs meanwhile), then print its report."""
    with following(ctx, quiet=as_json) as follower:
        job = follower.follow(follower.brain.job_id(job_id))
    finish_job(job, as_json)


@job_app.command("cancel")
def job_cancel(ctx: typer.Context, job_id: IdArg, as_json: JsonOpt = False) -> None:
    """Cancel a job: at once when queued or stalled, else at its next chunk boundary.

    A job that already ended is not cancelled: that is an error (exit 7).
    """
    with open_brain(ctx) as brain:
        job_id = brain.job_id(job_id)
        jobs = brain.jobs(worker=False)
        if (before := jobs.status(job_id)).state.finished:
            raise _already_ended(before)
        job = jobs.cancel(job_id)
    if job.state.finished and job.state is not JobState.CANCELLED:
        raise _already_ended(job)  # it ended before the cancel reached it
    if as_json:
        print_json(out, job_dict(job))
    elif job.state is JobState.CANCELLED:
        out.print(f"job {job.id}: cancelled")
    else:
        out.print(
            f"job {job.id}: cancel requested; it stops after the current chunk "
            f"(`brainsync job show {job.id}` tells when)"
        )


def _already_ended(job: Job) -> JobError:
    return JobError(f"job {job.id} already {job.state.value}; nothing was cancelled")


@job_app.command("resume")
def job_resume(ctx: typer.Context, job_id: IdArg, as_json: JsonOpt = False) -> None:
    """Resume a cancelled or interrupted job from its last finished chunk."""
    with open_brain(ctx) as brain:
        job = brain.jobs(worker=False).resume(brain.job_id(job_id))
    _print_state(job_dict(job), as_json)


@job_app.command("takeover")
def job_takeover(ctx: typer.Context, job_id: IdArg, as_json: JsonOpt = False) -> None:
    """Move a shared folder's running job off a dead host; refused while that host lives."""
    with open_brain(ctx) as brain:
        job = brain.jobs(worker=False).takeover(brain.job_id(job_id))
    _print_state(job_dict(job), as_json)


def _print_state(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(out, data)
    else:
        out.print(f"job {data['id']}: {data['state']}")


def worker_cmd(
    ctx: typer.Context,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency", min=1, help="Jobs run at once [BRAINSYNC_WORKER_CONCURRENCY; 4]."
        ),
    ] = None,
) -> None:
    """Run queued jobs until interrupted (SIGINT or SIGTERM stop at a chunk boundary)."""
    if concurrency is not None:
        ctx.obj.overrides["worker_concurrency"] = concurrency
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with open_brain(ctx) as brain:
        from brainsync.jobs import run_worker

        service = brain.jobs(worker=True, require_worker=True)
        err.print(f"worker {brain.settings.executor_id} running; Ctrl-C stops it")
        run_worker(service, stop)
    err.print("worker stopped; unfinished jobs resume when a worker starts again")
