"""The ``watch`` command: keep the folder and the store in sync until interrupted."""

from __future__ import annotations

import json
import signal
import threading
from typing import Annotated

import typer

from brainsync.interfaces.console import err, open_brain, out
from brainsync.sync.watch_jobs import WatchEvent

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the watch command to the main app."""
    app.command("watch")(watch_cmd)


def watch_cmd(
    ctx: typer.Context,
    no_export: Annotated[
        bool, typer.Option("--no-export", help="Only import file changes; never write files.")
    ] = False,
    no_import: Annotated[
        bool, typer.Option("--no-import", help="Only export store changes; never read files.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Watch the directory and the store; sync every change both ways until Ctrl-C.

    Each batch of file changes (and each store change) runs as one sync job, visible in
    `brainsync jobs`. Ctrl-C or SIGTERM stop at a chunk boundary; nothing is lost.
    """
    if no_export and no_import:
        raise typer.BadParameter("--no-export and --no-import leave nothing to watch")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def show(event: WatchEvent) -> None:
        if as_json:
            out.file.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")
            out.file.flush()
        else:
            out.print(event.message)

    with open_brain(ctx) as brain:
        watcher = brain.watch(
            import_files=not no_import, export_entities=not no_export, on_event=show
        )
        with watcher:
            while not stop.wait(0.5):
                pass
        err.print("watch stopped; a job in flight finishes or resumes with the next worker")
