"""What a chunk works on: its items, their results, and the file writes it defers.

Split from :mod:`brainsync.sync.chunk`, which decides and acts; this module holds the plain
data those decisions produce and the helpers that turn it into sync records and a report.
A plan hands a chunk :class:`PlanItem` mappings (a durable job checkpoints them as JSON);
the chunk loads each into an :class:`Item`, which collects its one counted
:class:`~brainsync.report.Outcome` and its listed entries until the chunk has committed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypedDict

from brainsync.config import ConflictPolicy
from brainsync.entities import Entity, EntityKey
from brainsync.errors import BrainsyncError, InvalidDocumentError, disk_full
from brainsync.events import ConflictFound
from brainsync.report import Entry, ItemError, LeftAlone, Merged, Outcome, Report, Skip
from brainsync.store import ChangeSet, SyncRecord
from brainsync.sync.decision import Direction
from brainsync.sync.files import (
    FileSnapshot,
    atomic_write,
    is_read_only,
    read_snapshot,
    snapshot_of,
)
from brainsync.sync.markdown import is_probably_incomplete
from brainsync.sync.paths import PathGuard
from brainsync.sync.racy import is_racy, signed_inode
from brainsync.sync.scan import FileStat

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
    "same_stat",
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
    #: The folder side's size limit: an entity whose file would be larger is not written.
    max_file_bytes: int
    #: A file that is no valid note and changed less than this long ago is taken as
    #: caught mid-write (skipped, looked at again by the watcher), not as an error.
    mid_write_seconds: float
    #: Flush the file system after a chunk's file changes, before its commit (K2).
    durable: bool
    #: Replace files that have no write bit (P3); otherwise they are left alone.
    overwrite_readonly: bool = False


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
    #: The item failed for a full disk (the chunk then stops the run, catalogue B12).
    no_space: bool = False
    #: What the report counts for the item once the chunk commits (None: nothing).
    outcome: Outcome | None = None
    #: What the report lists for the item: conflicts, merges, skips, errors.
    entries: list[Entry] = field(default_factory=list)

    def void(self, reason: LeftAlone | Skip | ItemError) -> None:
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
    overwrite_readonly: bool = False

    def run(self) -> SyncRecord | LeftAlone | Skip | ItemError:
        """Write the file: its new sync record, a skip, or the reason it failed."""
        item = self.item
        try:
            found = current_stat(item)
            if changed_since(item, found):
                # edited on disk since this chunk looked: never overwrite an edit (C1)
                return Skip(item.path, "file changed during the run; not overwritten")
            if is_read_only(found) and not self.overwrite_readonly:
                return LeftAlone(item.path, str(item.key), *READ_ONLY)  # P3
            info = atomic_write(
                item.guard,
                item.path,
                self.data,
                self.entity.updated,
                fsync=self.fsync,
                existing=found,
            )
        except (BrainsyncError, OSError) as exc:
            item.no_space = disk_full(exc)
            return ItemError(item.path, str(exc))
        # the stat of the file just written, as the file system keeps it: echoes match it
        snapshot = snapshot_of(item.path, self.entity.content_hash, info)
        return make_record(item.path, self.entity.key, snapshot, self.entity.content_hash)


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


#: Why a file without its write bit is not replaced, and what settles it (P3).
READ_ONLY = (
    "the file is read-only (no write bit): not replaced with the store's version",
    "make it writable (chmod u+w) and run again, or set overwrite_readonly = true",
)


def current_stat(item: Item) -> os.stat_result | None:
    """The ``lstat`` of the item's file now (None: it does not exist)."""
    target = item.guard.locate(item.path)  # None: its folder is missing, so is the file
    return None if target is None else _lstat(target)


def changed_since(item: Item, info: os.stat_result | None) -> bool:
    """Whether the file, whose :func:`current_stat` is ``info``, differs from what the chunk
    read (the stat first, then the bytes if needed)."""
    seen = item.snapshot
    if info is None or seen is None:
        return info is not None or seen is not None
    stat = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, signed_inode(info.st_ino))
    if stat == (seen.size, seen.mtime_ns, seen.ctime_ns, seen.inode):
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


#: How long after its last change an empty file (or a lone ``---``) counts as being
#: written: until then it is left for a later run, which looks again (B2).
SETTLE_SECONDS = 2.0


def file_age(snapshot: FileSnapshot) -> float:
    """Seconds since the file's last change as read (negative for an mtime ahead)."""
    return time.time() - snapshot.mtime_ns / 1e9


def mid_write(item: Item, text: str) -> bool:
    """Whether the item's file is empty, blank or a lone ``---`` and still young; if so
    the item says so (a skip that the watcher and the next run look at again).

    Once settled, an empty or blank file is an empty note (``touch idea.md``), and a lone
    ``---`` is an error: a frontmatter block opened and never written.
    """
    if not is_probably_incomplete(text):
        return False
    assert item.snapshot is not None
    if abs(file_age(item.snapshot)) < SETTLE_SECONDS:
        item.entries.append(Skip(item.path, "empty or incomplete; probably mid-write"))
        return True
    if text.removeprefix("\ufeff").strip() == "---":
        raise InvalidDocumentError("incomplete frontmatter: a lone '---' and nothing else")
    return False


def too_large(item: Item, entity: Entity, options: RunOptions) -> bool:
    """Whether the entity's file would pass the folder's size limit; if so the item says
    so, as a skip naming the limit. Such a file is never written: every later scan would
    leave it out, and the file and the entity would never converge again (B15)."""
    limit = options.max_file_bytes
    if len(entity.document) * 4 <= limit:  # a character is at most 4 UTF-8 bytes
        return False
    size = len(entity.document.encode("utf-8"))
    if size <= limit:
        return False
    reason = f"{entity.key} is {size} bytes, larger than the {limit}-byte limit (max_file_bytes)"
    item.void(Skip(item.path, f"{reason}; not written"))
    return True


def report_of(items: Iterable[Item], dry_run: bool) -> Report:
    """The report of a chunk's items: each one's outcome and entries, once final."""
    report = Report(dry_run=dry_run)
    for item in items:
        if item.outcome is not None:
            report.count(item.outcome)
            if dry_run:  # which paths: a dry run is for checking them before the real run
                report.list_path(item.outcome, _listed_path(item))
        for entry in item.entries:
            report.add(entry)
    return report


def _listed_path(item: Item) -> str:
    source = item.move_from
    if source is not None and item.outcome is Outcome.MOVED:
        return f"{source.path} -> {item.path}"
    return item.path


def expect(result: Result, key: EntityKey, seen: Entity | None) -> None:
    """Note the entity this change was decided on: a change to it meanwhile voids ours."""
    result.changes.expected[key] = seen.content_hash if seen is not None else None


def make_record(path: str, key: EntityKey, snapshot: FileSnapshot, entity_hash: str) -> SyncRecord:
    """The sync record of ``snapshot``. A racy file (:func:`is_racy`: it may change again
    within its timestamps' tick, size and all) is recorded without its ctime, so the next
    plan hashes it again (B14)."""
    ctime_ns = 0 if is_racy(snapshot) else snapshot.ctime_ns
    return SyncRecord(
        path,
        key,
        snapshot.size,
        snapshot.mtime_ns,
        snapshot.file_hash,
        entity_hash,
        ctime_ns,
        snapshot.inode,
    )


def same_stat(info: FileSnapshot | FileStat | SyncRecord, record: SyncRecord) -> bool:
    """Whether a file's stat is the one ``record`` holds: size, mtime, ctime and inode."""
    return (info.size, info.mtime_ns, info.ctime_ns, info.inode) == (
        record.size,
        record.mtime_ns,
        record.ctime_ns,
        record.inode,
    )
