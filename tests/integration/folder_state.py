"""Reading a brain's own sync state in tests (the records of its folder)."""

from __future__ import annotations

from brainsync.app import Brain
from brainsync.store import SyncRecord


def folder_id(brain: Brain) -> str:
    """The id of the brain's folder (it must have joined: run something first)."""
    folder = brain.folder()
    assert folder is not None, "the folder has not joined the store yet"
    return folder.id


def tracked(brain: Brain) -> int:
    """How many sync records the brain's folder has."""
    return brain.store.count_records(folder_id(brain))


def records(brain: Brain) -> list[SyncRecord]:
    """The sync records of the brain's folder, in path order."""
    return list(brain.store.iter_records(folder_id(brain)))
