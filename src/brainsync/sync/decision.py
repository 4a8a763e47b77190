"""The sync decision table: what to do with one item, given both sides and the last sync.

Pure functions only. ``Side`` says how a file or an entity compares with the sync record
(the state at the last successful sync); :func:`decide` turns the pair into an
:class:`Action`. The table is the one in ``architecture.md``::

    file \\ entity      unchanged      changed/new     absent(synced)   absent(never)
    unchanged          nothing        export          delete file      -
    changed/new        import         conflict        import (*)       import
    absent(synced)     delete entity  restore (*)     drop record      -
    absent(never)      -              export          -                -

    (*) reported as a conflict: one side deleted what the other side changed; the changed
        side wins so no edit is ever lost.

A one-way export never resurrects a file deleted on disk since the last sync (a late
entity update must not bring it back); only a two-way sync restores it, as a conflict, or
an export asked to ``restore``. What a one-way run may not do is *held back*
(:func:`held_back`): the run lists the item with the reason instead of calling it
unchanged.
"""

from __future__ import annotations

import enum

__all__ = ["Action", "Direction", "Side", "decide", "held_back", "side_of"]


class Side(enum.Enum):
    """How one side of an item compares with the sync record."""

    UNCHANGED = "unchanged"
    CHANGED = "changed"
    NEW = "new"  # present, and no sync record exists
    DELETED = "deleted"  # absent, and a sync record exists
    NEVER = "never"  # absent, and no sync record exists


class Action(enum.Enum):
    """What the sync does with one item."""

    NOTHING = "nothing"
    RECORD = "record"  # both sides already equal: only (re)write the sync record
    IMPORT = "import"
    EXPORT = "export"
    CONFLICT = "conflict"
    DELETE_ENTITY = "delete-entity"
    DELETE_FILE = "delete-file"
    REIMPORT_DELETED = "reimport-deleted"  # entity deleted, file edited: the edit wins
    RESTORE_FILE = "restore-file"  # file deleted, entity edited: the edit wins
    DROP_RECORD = "drop-record"


class Direction(enum.Enum):
    """Which way a run may move data."""

    EXPORT = "export"
    IMPORT = "import"
    SYNC = "sync"


def side_of(present: bool, has_record: bool, same_as_record: bool) -> Side:
    """Classify one side from presence, the existence of a record and a hash comparison."""
    if not present:
        return Side.DELETED if has_record else Side.NEVER
    if not has_record:
        return Side.NEW
    return Side.UNCHANGED if same_as_record else Side.CHANGED


_TABLE: dict[tuple[Side, Side], Action] = {
    (Side.UNCHANGED, Side.UNCHANGED): Action.NOTHING,
    (Side.UNCHANGED, Side.CHANGED): Action.EXPORT,
    (Side.UNCHANGED, Side.DELETED): Action.DELETE_FILE,
    (Side.CHANGED, Side.UNCHANGED): Action.IMPORT,
    (Side.CHANGED, Side.CHANGED): Action.CONFLICT,
    (Side.CHANGED, Side.DELETED): Action.REIMPORT_DELETED,
    (Side.NEW, Side.NEVER): Action.IMPORT,
    (Side.NEW, Side.NEW): Action.CONFLICT,
    (Side.NEVER, Side.NEW): Action.EXPORT,
    (Side.DELETED, Side.UNCHANGED): Action.DELETE_ENTITY,
    (Side.DELETED, Side.CHANGED): Action.RESTORE_FILE,
    (Side.DELETED, Side.DELETED): Action.DROP_RECORD,
}

_ALLOWED: dict[Direction, frozenset[Action]] = {
    Direction.SYNC: frozenset(Action),
    Direction.IMPORT: frozenset(
        {
            Action.NOTHING,
            Action.RECORD,
            Action.IMPORT,
            Action.CONFLICT,
            Action.DELETE_ENTITY,
            Action.REIMPORT_DELETED,
            Action.DROP_RECORD,
        }
    ),
    Direction.EXPORT: frozenset(
        {
            Action.NOTHING,
            Action.RECORD,
            Action.EXPORT,
            Action.CONFLICT,
            Action.DELETE_FILE,
            Action.DROP_RECORD,
        }
    ),
}


#: What ``restore`` turns a deletion into: the deleted side is written back instead.
_RESTORED: dict[Direction, dict[Action, Action]] = {
    Direction.EXPORT: {
        Action.DELETE_ENTITY: Action.EXPORT,
        Action.RESTORE_FILE: Action.RESTORE_FILE,
    },
    Direction.IMPORT: {
        Action.DELETE_FILE: Action.IMPORT,
        Action.REIMPORT_DELETED: Action.REIMPORT_DELETED,
    },
    Direction.SYNC: {},
}


def _table_action(file: Side, entity: Side, same_content: bool) -> Action:
    present = (Side.UNCHANGED, Side.CHANGED, Side.NEW)
    if same_content and file in present and entity in present:
        both_unchanged = (file, entity) == (Side.UNCHANGED, Side.UNCHANGED)
        return Action.NOTHING if both_unchanged else Action.RECORD
    return _TABLE.get((file, entity), Action.NOTHING)


def decide(
    file: Side,
    entity: Side,
    *,
    same_content: bool,
    direction: Direction = Direction.SYNC,
    propagate_deletes: bool = True,
    restore: bool = False,
) -> Action:
    """The action for one item; ``NOTHING`` when the direction or settings forbid it.

    ``same_content`` says the file's bytes hash like the entity's document: whatever the
    table says, two equal sides only need their sync record written. ``restore`` makes a
    one-way run write back what the other side deleted instead of leaving it alone.
    """
    action = _table_action(file, entity, same_content)
    if restore and action in _RESTORED[direction]:
        return _RESTORED[direction][action]
    if action in (Action.DELETE_ENTITY, Action.DELETE_FILE) and not propagate_deletes:
        return Action.NOTHING
    if action not in _ALLOWED[direction]:
        return Action.NOTHING
    return action


def held_back(
    file: Side,
    entity: Side,
    *,
    same_content: bool,
    direction: Direction = Direction.SYNC,
    propagate_deletes: bool = True,
    restore: bool = False,
) -> tuple[Action, Action | None]:
    """The action for one item, and the one the table calls for if this run may not take it.

    The second value is None when nothing is held back.
    """
    wanted = _table_action(file, entity, same_content)
    taken = decide(
        file,
        entity,
        same_content=same_content,
        direction=direction,
        propagate_deletes=propagate_deletes,
        restore=restore,
    )
    held = wanted if taken is Action.NOTHING and wanted is not Action.NOTHING else None
    return taken, held
