"""What a chunk works on: its items, their results, and the file writes it defers.

Split from :mod:`brainsync.sync.chunk`, which decides and acts; this module holds the plain
data those decisions produce and the helpers that turn it into sync records and a report.
A plan hands a chunk :class:`PlanItem` mappings (a durable job checkpoints them as JSON);
the chunk loads each into an :class:`Item`, which collects its one counted
:class:`~brainsync.report.Outcome` and its listed entries until the chunk has committed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypedDict

from brainsync.config import ConflictPolicy
from brainsync.entities import Entity, EntityKey
from brainsync.errors import BrainsyncError
from brainsync.events import ConflictFound
from brainsync.report import Entry, ItemError, Merged, Outcome, Report, Skip
from brainsync.store import ChangeSet, SyncRecord
from brainsync.sync.decision import Direction
from brainsync.sync.files import FileSnapshot, atomic_write, read_snapshot
from brainsync.sync.paths import PathGuard

__all__ = [
    "Item",
    "PlanItem",
    "Result",
    "RunOptions",
    "Write",
    "conflict_copy_path",
    "expect",
    "make_record",
    "report_of",
    "void_stale",
]

# "from" is a keyword: the optional keys need the functional form.
_Move = TypedDict("_Move", {"from": str, "from_key": str}, total=False)


class PlanItem(_Move):
    """One candidate of a plan: a path and the key of the entity it maps to.

    ``from`` and ``from_key`` name the path and key of a synced file that this one may
    be a move or rename of.
    """

    path: str
    key: str


@dataclass(frozen=True)
class RunOptions:
    """How a run acts: its direction, conflict policy and switches (no defaults here:
    they are the settings', see :func:`brainsync.sync.requests.run_request`)."""

    direction: Direction
    #: The folder whose sync state the run reads and writes (None: dry run, no state).
    folder: str | None
    policy: ConflictPolicy
    propagate_deletes: bool
    dry_run: bool
    fsync: bool
    pause_seconds: float  # throttle: a pause before each chunk leaves I/O to others
    #: One-way runs write back what the other side deleted (``export --restore``).
    restore: bool
    #: Flush the file system after a chunk's file changes, before its commit (K2).
    durable: bool


@dataclass
class Item:
    """One plan item as a chunk loaded it, and what the chunk made of it."""

    path: str
    key: EntityKey
    record: SyncRecord | None
    entity: Entity | None
    guard: PathGuard
    snapshot: FileSnapshot | None = None
    move_from: SyncRecord | None = None
    move_entity: Entity | None = None
    read_error: BrainsyncError | OSError | None = None
    #: What the report counts for the item once the chunk commits (None: nothing).
    outcome: Outcome | None = None
    #: What the report lists for the item: conflicts, merges, skips, errors.
    entries: list[Entry] = field(default_factory=list)

    def void(self, reason: Skip | ItemError) -> None:
        """What the item was to do did not happen (a failed write, a stale entity)."""
        self.outcome = None
        self.entries = [e for e in self.entries if not isinstance(e, Merged)]
        self.entries.append(reason)


@dataclass(frozen=True)
class Write:
    """A file write decided on, run later in the pool with the chunk's other writes."""

    item: Item
    entity: Entity
    data: bytes
    fsync: bool

    def run(self) -> SyncRecord | Skip | ItemError:
        """Write the file: its new sync record, a skip, or the reason it failed."""
        try:
            if changed_since_read(self.item):
                # edited on disk since this chunk looked: never overwrite an edit (C1)
                return Skip(self.item.path, "file changed during the run; not overwritten")
            info = atomic_write(
                self.item.guard, self.item.path, self.data, self.entity.updated, fsync=self.fsync
            )
        except (BrainsyncError, OSError) as exc:
            return ItemError(self.item.path, str(exc))
        # the stat of the file just written, as the file system keeps it: echoes match it
        snapshot = FileSnapshot(
            self.item.path, b"", self.entity.content_hash, info.st_size, info.st_mtime_ns
        )
        return make_record(self.item.path, self.entity.key, snapshot, self.entity.content_hash)


@dataclass
class Result:
    """The store changes, events and deferred writes of one item, or of a whole chunk."""

    changes: ChangeSet = field(default_factory=ChangeSet)
    conflicts: list[ConflictFound] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)

    def merge(self, other: Result) -> Result:
        """Add ``other`` into this result (in place) and return it."""
        changes, more = self.changes, other.changes
        changes.upserts.extend(more.upserts)
        changes.deletes.extend(more.deletes)
        changes.records.extend(more.records)
        changes.drop_records.extend(more.drop_records)
        changes.expected.update(more.expected)
        self.conflicts.extend(other.conflicts)
        self.writes.extend(other.writes)
        return self


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


def void_stale(stale: set[EntityKey], items: Iterable[Item]) -> None:
    """Items whose entity changed in the database during the chunk were left alone."""
    reason = "entity changed in the database during the run; re-checked next run"
    for item in items:
        moved_key = item.move_from.key if item.move_from else None
        if item.key in stale or moved_key in stale:
            item.void(Skip(item.path, reason))


def report_of(items: Iterable[Item], dry_run: bool) -> Report:
    """The report of a chunk's items: each one's outcome and entries, once final."""
    report = Report(dry_run=dry_run)
    for item in items:
        if item.outcome is not None:
            report.count(item.outcome)
        for entry in item.entries:
            report.add(entry)
    return report


def expect(result: Result, key: EntityKey, seen: Entity | None) -> None:
    """Note the entity this change was decided on: a change to it meanwhile voids ours."""
    result.changes.expected[key] = seen.content_hash if seen is not None else None


def make_record(path: str, key: EntityKey, snapshot: FileSnapshot, entity_hash: str) -> SyncRecord:
    return SyncRecord(path, key, snapshot.size, snapshot.mtime_ns, snapshot.file_hash, entity_hash)
