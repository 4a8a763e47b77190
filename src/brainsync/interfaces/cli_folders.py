"""Folder commands: ``folders`` (list every folder of the store) and ``folders forget ID``."""

from __future__ import annotations

from typing import Annotated

import typer

from brainsync.interfaces.console import open_brain, out
from brainsync.interfaces.render import print_folders, print_json

__all__ = ["register"]

folders_app = typer.Typer(
    help="The folders this store keeps in sync (every host).", invoke_without_command=True
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def register(app: typer.Typer) -> None:
    """Add the folder commands to the main app."""
    app.add_typer(folders_app, name="folders")


@folders_app.callback()
def folders_cmd(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the folders: id, label, host, path, last run, tracked files."""
    if ctx.invoked_subcommand is not None:
        return
    with open_brain(ctx, read_only=True) as brain:
        folders = brain.folders()
        here = brain.folder()
    if as_json:
        current = None if here is None else here.id
        print_json(out, {"folders": [f.to_dict() for f in folders], "this_folder": current})
        return
    print_folders(out, folders, None if here is None else here.id)


@folders_app.command("forget")
def forget_cmd(
    ctx: typer.Context,
    folder_id: Annotated[str, typer.Argument(help="The folder's id (or a unique prefix).")],
    as_json: JsonOpt = False,
) -> None:
    """Drop a folder's sync state; no entity and no file is deleted.

    The directory joins again as a new folder at its next run (a join deletes nothing).
    """
    with open_brain(ctx) as brain:
        folder = brain.forget_folder(folder_id)
    if as_json:
        print_json(out, {"forgotten": folder.to_dict()})
        return
    out.print(
        f"forgot folder {folder.id} ({folder.label}, {folder.host}:{folder.path}): "
        f"{folder.tracked_files} sync records dropped; no entity or file was deleted"
    )
