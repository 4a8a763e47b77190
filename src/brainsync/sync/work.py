"""What a chunk works on: its items, their results, and the file writes it defers.

Split from :mod:`brainsync.sync.chunk`, which decides and acts; this module holds the plain
data those decisions produce and the helpers that turn it into sync records.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from brainsync.entities import Entity, EntityKey
from brainsync.errors import BrainsyncError
from brainsync.events import ConflictFound
from brainsync.report import Report, Skip
from brainsync.store import ChangeSet, SyncRecord
from brainsync.sync.decision import Direction
from brainsync.sync.files import FileSnapshot, atomic_write, read_snapshot
from brainsync.sync.paths import PathGuard

__all__ = [
    "Item",
    "Result",
    "RunOptions",
    "Write",
    "conflict_copy_path",
    "expect",
    "make_record",
    "unreport_stale",
]


@dataclass(frozen=True)
class RunOptions:
    """How a run acts: its direction, conflict policy and switches."""

    direction: Direction
    #: The folder whose sync state the run reads and writes (None: dry run, no state).
    folder: str | None = None
    policy: str = "merge"
    propagate_deletes: bool = True
    dry_run: bool = False
    fsync: bool = False
    pause_seconds: float = 0.0  # throttle: a pause before each chunk leaves I/O to others
    #: One-way runs write back what the other side deleted (``export --restore``).
    restore: bool = False


@dataclass
class Item:
    path: str
    key: EntityKey
    record: SyncRecord | None
    entity: Entity | None
    guard: PathGuard
    snapshot: FileSnapshot | None = None
    move_from: SyncRecord | None = None
    move_entity: Entity | None = None
    read_error: BrainsyncError | OSError | None = None


@dataclass(frozen=True)
class Write:
    """A file write decided on, run later in the pool with the chunk's other writes."""

    item: Item
    entity: Entity
    data: bytes
    fsync: bool
    counted: str | None  # the report counter this write was counted in when decided

    def run(self) -> SyncRecord | Skip | str:
        """Write the file: its new sync record, a skip, or the reason it failed."""
        try:
            if changed_since_read(self.item):
                # edited on disk since this chunk looked: never overwrite an edit (C1)
                return Skip(self.item.path, "file changed during the run; not overwritten")
            info = atomic_write(
                self.item.guard, self.item.path, self.data, self.entity.updated, fsync=self.fsync
            )
        except (BrainsyncError, OSError) as exc:
            return str(exc)
        snapshot = FileSnapshot(
            self.item.path, b"", self.entity.content_hash, info.st_size, info.st_mtime_ns
        )
        return make_record(self.item.path, self.entity.key, snapshot, self.entity.content_hash)


@dataclass
class Result:
    report: Report = field(default_factory=Report)
    changes: ChangeSet = field(default_factory=ChangeSet)
    conflicts: list[ConflictFound] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)


def conflict_copy_path(path: str, entity_hash: str) -> str:
    """Where the database side of a conflict is written: predictable, never imported."""
    stem = path[: -len(".md")] if path.endswith(".md") else path
    return f"{stem}.conflict-{entity_hash[:8]}.md"


def changed_since_read(item: Item) -> bool:
    """Whether the file differs from what the chunk read (a stat, then bytes if needed)."""
    target = item.guard.locate(item.path)  # None: its folder is missing, so is the file
    info = None if target is None else _lstat(target)
    seen = item.snapshot
    if info is None or seen is None:
        return info is not None or seen is not None
    if (info.st_size, info.st_mtime_ns) == (seen.size, seen.mtime_ns):
        return False
    current = read_snapshot(item.guard, item.path)
    return current is None or current.file_hash != seen.file_hash


def _lstat(target: str) -> os.stat_result | None:
    try:
        return os.lstat(target)
    except (FileNotFoundError, NotADirectoryError):
        return None


def unreport_stale(
    stale: set[EntityKey], items: list[Item], results: list[Result], report: Report
) -> None:
    """Items whose entity changed in the database during the chunk were left alone."""
    for item, result in zip(items, results, strict=True):
        moved_key = item.move_from.key if item.move_from else None
        if item.key not in stale and moved_key not in stale:
            continue
        counted = result.report
        report.created -= counted.created
        report.updated -= counted.updated
        report.deleted -= counted.deleted
        report.moved -= counted.moved
        reason = "entity changed in the database during the run; re-checked next run"
        report.skipped.append(Skip(item.path, reason))


def expect(result: Result, key: EntityKey, seen: Entity | None) -> None:
    """Note the entity this change was decided on: a change to it meanwhile voids ours."""
    result.changes.expected[key] = seen.content_hash if seen is not None else None


def make_record(path: str, key: EntityKey, snapshot: FileSnapshot, entity_hash: str) -> SyncRecord:
    return SyncRecord(path, key, snapshot.size, snapshot.mtime_ns, snapshot.file_hash, entity_hash)
