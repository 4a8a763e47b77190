"""The decision table, row by row, and how direction and settings narrow it."""

from __future__ import annotations

import pytest

from brainsync.sync.decision import Action, Direction, Side, decide, side_of

U, C, N, D, X = Side.UNCHANGED, Side.CHANGED, Side.NEW, Side.DELETED, Side.NEVER


@pytest.mark.parametrize(
    ("file", "entity", "expected"),
    [
        (U, U, Action.NOTHING),
        (C, U, Action.IMPORT),
        (N, X, Action.IMPORT),
        (U, C, Action.EXPORT),
        (X, N, Action.EXPORT),
        (C, C, Action.CONFLICT),
        (N, N, Action.CONFLICT),
        (D, U, Action.DELETE_ENTITY),
        (U, D, Action.DELETE_FILE),
        (D, C, Action.RESTORE_FILE),
        (C, D, Action.REIMPORT_DELETED),
        (D, D, Action.DROP_RECORD),
    ],
)
def test_sync_table(file: Side, entity: Side, expected: Action) -> None:
    assert decide(file, entity, same_content=False) is expected


@pytest.mark.parametrize(("file", "entity"), [(C, C), (N, N), (C, U), (U, C)])
def test_equal_sides_only_need_a_record(file: Side, entity: Side) -> None:
    assert decide(file, entity, same_content=True) is Action.RECORD


@pytest.mark.parametrize(
    ("file", "entity", "expected"),
    [
        (C, U, Action.IMPORT),
        (D, U, Action.DELETE_ENTITY),
        (U, C, Action.NOTHING),
        (U, D, Action.NOTHING),
        (D, C, Action.NOTHING),
        (C, C, Action.CONFLICT),
    ],
)
def test_import_direction_never_writes_files_for_db_changes(
    file: Side, entity: Side, expected: Action
) -> None:
    assert decide(file, entity, same_content=False, direction=Direction.IMPORT) is expected


@pytest.mark.parametrize(
    ("file", "entity", "expected"),
    [
        (U, C, Action.EXPORT),
        (U, D, Action.DELETE_FILE),
        (C, U, Action.NOTHING),
        (D, U, Action.NOTHING),
        # a late update after the file was deleted: a one-way export never resurrects it
        (D, C, Action.NOTHING),
        (C, C, Action.CONFLICT),
    ],
)
def test_export_direction(file: Side, entity: Side, expected: Action) -> None:
    assert decide(file, entity, same_content=False, direction=Direction.EXPORT) is expected


def test_deletes_can_be_switched_off() -> None:
    assert decide(D, U, same_content=False, propagate_deletes=False) is Action.NOTHING
    assert decide(U, D, same_content=False, propagate_deletes=False) is Action.NOTHING
    # an edit still wins over a deletion, whatever the setting
    assert decide(D, C, same_content=False, propagate_deletes=False) is Action.RESTORE_FILE


def test_side_of() -> None:
    assert side_of(present=False, has_record=True, same_as_record=False) is D
    assert side_of(present=False, has_record=False, same_as_record=False) is X
    assert side_of(present=True, has_record=False, same_as_record=False) is N
    assert side_of(present=True, has_record=True, same_as_record=True) is U
    assert side_of(present=True, has_record=True, same_as_record=False) is C


def test_every_action_has_a_handler() -> None:
    from brainsync.sync.chunk import ChunkRunner

    assert set(ChunkRunner._HANDLERS) == set(Action)
