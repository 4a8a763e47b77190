"""Why a one-way run leaves an item alone, and which command settles it.

A report never calls an item ``unchanged`` when its two sides differ: an export that may
not read a changed file, or an import that may not delete a file, lists the item with the
reason and the command that resolves it (catalogue F2, and the issue of honest reports).
"""

from __future__ import annotations

from brainsync.report import LeftAlone
from brainsync.sync.decision import Action, Direction

__all__ = ["left_alone"]

_REASONS: dict[tuple[Direction, Action], tuple[str, str]] = {
    (Direction.EXPORT, Action.IMPORT): (
        "the file changed in this folder since the last sync; export does not read files",
        "brainsync import (or sync) reads it",
    ),
    (Direction.EXPORT, Action.DELETE_ENTITY): (
        "the file was deleted in this folder since the last sync; export keeps the entity",
        "brainsync sync deletes the entity; brainsync export --restore writes the file back",
    ),
    (Direction.EXPORT, Action.REIMPORT_DELETED): (
        "the entity was deleted in the store but the file was edited here",
        "brainsync sync (or import) imports the edited file again",
    ),
    (Direction.EXPORT, Action.RESTORE_FILE): (
        "the file was deleted here but the entity changed in the store since",
        "brainsync sync or brainsync export --restore writes the file back",
    ),
    (Direction.IMPORT, Action.EXPORT): (
        "the entity changed in the store, or has no file in this folder; import does not "
        "write files",
        "brainsync export (or sync) writes it",
    ),
    (Direction.IMPORT, Action.DELETE_FILE): (
        "the entity was deleted in the store since the last sync; import keeps the file",
        "brainsync sync (or export) removes the file; brainsync import --restore imports it again",
    ),
    (Direction.IMPORT, Action.RESTORE_FILE): (
        "the file was deleted here but the entity changed in the store since",
        "brainsync sync or brainsync export --restore writes the file back",
    ),
}

_NO_DELETES = (
    "deletes do not propagate (propagate_deletes = false)",
    "delete the other side by hand, or set propagate_deletes = true and sync",
)


def left_alone(
    path: str, key: str, held: Action, direction: Direction, propagate_deletes: bool
) -> LeftAlone:
    """The report entry for an item this run may not act on."""
    if held in (Action.DELETE_ENTITY, Action.DELETE_FILE) and not propagate_deletes:
        reason, resolve = _NO_DELETES
    else:
        reason, resolve = _REASONS.get(
            (direction, held),
            (f"{held.value} is not part of a one-way {direction.value}", "brainsync sync"),
        )
    return LeftAlone(path, key, reason, resolve)
