"""``brainsync hosts``: every worker of the brain's job store, alive or silent since when."""

from __future__ import annotations

from typing import Annotated

import typer

from brainsync.interfaces.console import open_brain, out
from brainsync.interfaces.render import print_json
from brainsync.jobs.hosts import WorkerRecord
from brainsync.jobs.records import iso_time
from brainsync.placement import store_exists

__all__ = ["register"]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def register(app: typer.Typer) -> None:
    """Add the ``hosts`` command to the main app."""
    app.command("hosts")(hosts_cmd)


def hosts_cmd(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the workers of every host: alive, stopped, or not seen since when."""
    with open_brain(ctx, read_only=True) as brain:
        # no job store yet: no worker has run (and none is created by looking)
        ran = store_exists(brain.settings.jobs_url)
        workers = brain.jobs(worker=False).hosts() if ran else []
    if as_json:
        print_json(out, {"workers": [worker.to_dict() for worker in workers]})
        return
    if not workers:
        out.print("no worker has run yet: `brainsync worker` starts one on this host")
    for worker in workers:
        out.print(_line(worker))


def _line(worker: WorkerRecord) -> str:
    if worker.alive:
        state = f"alive (seen {worker.silent_seconds:.0f} s ago)"
    else:
        verb = "stopped" if worker.stopped else "not seen since"
        state = f"{verb} {iso_time(worker.last_seen)}"
    return f"{worker.host:<20} {worker.executor_id:<24} pid {worker.pid:<7} {state}"
