"""The settled part of a full plan, found while streaming the sync state.

A full plan compares every scanned file with its sync record and its entity, and on a
typical run almost every one is *settled*: same size, mtime, ctime and inode as recorded
(an edit that keeps size and mtime moves the ctime), entity hash as recorded. Holding
every record and every entity summary in dictionaries for that made
a no-change sync of 100k files peak at 229 MB (62 MB at 10k). Instead, the records are
streamed a page at a time in path order, each as its path, type, stat and whether its
entity still has the recorded hash (the database compares the hashes), and looked up in
the scan: a settled path is only remembered (one set of path strings the scan already
holds), and only the rest, the *residue*, is read in full (:class:`_Stretch`) and becomes
the planner's inventory.

The planner's other rules look across paths (a new file decoding to a synced entity's
id, an entity whose canonical name is taken, names that clash on case-insensitive file
systems). A settled path that such a rule could need is put back into the residue
(:func:`_unsettle`), so the plan is the one the whole inventory would give. Settled paths
never clash with one another: the planner never records a second path that clashes.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from brainsync.entities import EntityKey
from brainsync.errors import BrainsyncError
from brainsync.store import EntitySummary, Store, SyncedRow, SyncRecord
from brainsync.sync.paths import PathMapper, clash_key
from brainsync.sync.scan import FileStat

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Residue", "retyped", "split_settled"]

#: Streamed paths per stretch whose unsettled records are read back together.
_STRETCH_ROWS = 5000
#: A stretch is read back as a range when at least one path in this many is unsettled.
_DENSE_SHARE = 3


@dataclass
class Residue:
    """What is left to plan once settled paths are set aside."""

    records: dict[str, SyncRecord] = field(default_factory=dict)
    entities: dict[EntityKey, EntitySummary] = field(default_factory=dict)
    #: Entities without a sync record in the folder (keys only: nothing to compare).
    unplaced: list[EntityKey] = field(default_factory=list)
    #: Scanned paths that are synced and untouched on both sides (counted unchanged).
    settled: set[str] = field(default_factory=set)
    #: How many sync records the folder has, settled ones included.
    tracked: int = 0


def retyped(path: str, type_: str, mapper: PathMapper) -> bool:
    """A synced note of type ``type_`` under a folder that has since become another
    registered type's folder."""
    folder, slash, _ = path.partition("/")
    return bool(slash) and folder != type_ and folder in mapper.type_folders


def split_settled(
    store: Store, folder: str, files: dict[str, FileStat], mapper: PathMapper
) -> Residue:
    """Stream ``folder``'s sync state against the scanned ``files``; keep the residue."""
    residue = Residue()
    stretch = _Stretch()
    for row in store.iter_synced(folder):
        residue.tracked += 1
        stat = files.get(row.path)
        settled = stat is not None and _settled(row, stat, mapper)
        if settled:
            residue.settled.add(row.path)
        if stretch.add(row.path, settled):
            stretch.read_back(store, folder, residue)
    stretch.read_back(store, folder, residue)
    residue.unplaced.extend(store.iter_unsynced(folder))
    _unsettle(store, folder, files, mapper, residue)
    return residue


def _settled(row: SyncedRow, stat: FileStat, mapper: PathMapper) -> bool:
    same_file = (
        stat.size == row.size
        and stat.mtime_ns == row.mtime_ns
        and stat.ctime_ns == row.ctime_ns  # a touch -r edit, or racy when recorded (B14)
        and stat.inode == row.inode
    )
    return same_file and row.same_entity and not retyped(row.path, row.type, mapper)


class _Stretch:
    """A run of streamed paths whose unsettled ones still need their full records.

    Read back path by path where few are unsettled, and as one range read where many are
    (a touched tree, a bulk change of entities): looking a path up (its record, then its
    entity) costs about three times as much as reading one row of a range.
    """

    def __init__(self) -> None:
        self.after: str | None = None  # the stretch holds the paths after this one
        self.last: str | None = None
        self.seen = 0
        self.unsettled: list[str] = []

    def add(self, path: str, settled: bool) -> bool:
        """Count ``path`` in; True when the stretch is long enough to be read back."""
        self.last = path
        self.seen += 1
        if not settled:
            self.unsettled.append(path)
        return self.seen >= _STRETCH_ROWS

    def read_back(self, store: Store, folder: str, residue: Residue) -> None:
        """Add the unsettled paths' records and entity summaries to the residue."""
        if self.unsettled and self.last is not None:
            if len(self.unsettled) * _DENSE_SHARE >= self.seen:
                _read_range(store, folder, self.after, self.last, set(self.unsettled), residue)
            else:
                _read_paths(store, folder, self.unsettled, residue)
        self.after, self.seen, self.unsettled = self.last, 0, []


def _read_range(
    store: Store, folder: str, after: str | None, upto: str, wanted: set[str], residue: Residue
) -> None:
    pairs = store.records_between(folder, after, upto)
    _take(residue, ((record, hashed) for record, hashed in pairs if record.path in wanted))


def _read_paths(store: Store, folder: str, paths: list[str], residue: Residue) -> None:
    _take(residue, store.synced_records(folder, paths))


def _take(residue: Residue, pairs: Iterable[tuple[SyncRecord, str | None]]) -> None:
    """Add records, and the summaries of their entities that exist, to the residue."""
    for record, content_hash in pairs:
        residue.records[record.path] = record
        if content_hash is not None:
            residue.entities[record.key] = EntitySummary(record.key, content_hash)


def _unsettle(
    store: Store, folder: str, files: dict[str, FileStat], mapper: PathMapper, residue: Residue
) -> None:
    """Put back the settled paths a cross-path rule of the planner needs to see."""
    if not residue.settled:
        return
    new_files = [p for p in files if p not in residue.settled and p not in residue.records]
    needed = {
        path
        for path in store.records_for_keys(folder, sorted(_keys_of(new_files, mapper)))
        if path in residue.settled
    }
    residual = (*new_files, *residue.records, *_paths_of(residue.unplaced, mapper))
    nearby = {clash_key(path) for path in residual}
    if nearby:
        needed.update(path for path in residue.settled if clash_key(path) in nearby)
    if not needed:
        return
    residue.settled -= needed
    _read_paths(store, folder, sorted(needed), residue)


def _keys_of(paths: Iterable[str], mapper: PathMapper) -> set[EntityKey]:
    keys: set[EntityKey] = set()
    for path in paths:
        with suppress(BrainsyncError):  # not an entity path: the planner reports it
            keys.add(mapper.to_key(path))
    return keys


def _paths_of(keys: Iterable[EntityKey], mapper: PathMapper) -> list[str]:
    paths: list[str] = []
    for key in keys:
        with suppress(BrainsyncError):  # no file can hold the id: the planner reports it
            paths.append(str(mapper.to_path(key)))
    return paths
