"""What a plan compares: the scan of the folder, its sync records and the entities' hashes.

A full plan walks the folder and streams the sync state joined with the entities' hashes,
keeping only what is not settled (:mod:`brainsync.sync.settle`): memory grows with what
changed, not with the folder. A plan over named files, a watcher's batch, reads only what
those files concern, so a batch costs O(paths) and not O(folder) (:func:`_named_files`).
"""

from __future__ import annotations

import os
import time
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from brainsync.entities import EntityKey
from brainsync.errors import BrainsyncError
from brainsync.store import EntitySummary, Store, SyncRecord
from brainsync.sync.decision import Direction
from brainsync.sync.paths import PathMapper
from brainsync.sync.scan import ScanResult, scan
from brainsync.sync.settle import split_settled
from brainsync.sync.watch_paths import PartialScan, scan_paths

if TYPE_CHECKING:
    from brainsync.sync.planner import PlanRequest

__all__ = ["RACY_WINDOW_NS", "Inventory", "load_inventory"]

#: A file whose recorded mtime is this close to now may have changed again within the
#: same timestamp tick without its size moving ("racily clean", as git calls it): hash it.
RACY_WINDOW_NS = 2_000_000_000


@dataclass
class Inventory:
    """What one plan compares: the scan, the sync records, the entities' hashes."""

    scan: ScanResult
    records: dict[str, SyncRecord]
    entities: dict[EntityKey, EntitySummary]
    #: Paths an event named: a hint that they changed, so a stat match is not enough.
    named: frozenset[str] = frozenset()
    #: Records written this close to now are hashed again (0 in full plans, see _settled).
    racy_window_ns: int = 0
    now_ns: int = field(default_factory=time.time_ns)
    #: The folder's synced files, all of them (a restricted plan loads only some records).
    tracked: int = -1
    #: Synced files left out of :attr:`scan` and :attr:`records` as settled (unchanged).
    settled: int = 0
    #: Entities with no sync record in this folder, as keys in the store's order (no
    #: record, nothing to compare); a plan over the whole inventory has them in entities.
    unplaced: list[EntityKey] = field(default_factory=list)

    #: A dry-run export into a folder that does not exist yet: planned as an empty one.
    new_folder: bool = False

    def __post_init__(self) -> None:
        if self.tracked < 0:
            self.tracked = len(self.records)


def load_inventory(store: Store, root: Path, mapper: PathMapper, request: PlanRequest) -> Inventory:
    """The inventory ``request`` plans over (the whole folder, or some named paths)."""
    if _previews_new_folder(root, request):
        return Inventory(ScanResult(), {}, _all_entities(store, request), new_folder=True)
    if not request.paths:
        scanned: ScanResult = scan(root, request.max_file_bytes)
        if request.folder is None or request.types:
            records, entities = _all_records(store, request), _all_entities(store, request)
            return Inventory(scanned, records, entities)
        return _residue(store, mapper, request.folder, scanned)
    # Full plans stay stat-only: the sync state has no record-write time, so a racy
    # window there would re-read every file written in the last seconds (R1).
    partial = scan_paths(root, request.paths, request.max_file_bytes)
    if not partial.folders:
        return _named_files(store, mapper, request, partial)
    named = frozenset(request.paths)
    records, entities = _all_records(store, request), _all_entities(store, request)
    return Inventory(partial, records, entities, named, RACY_WINDOW_NS)


def _previews_new_folder(root: Path, request: PlanRequest) -> bool:
    """A dry-run export into a folder that does not exist and never joined: the real
    export creates it (a restore), so its preview plans over an empty folder."""
    export = request.direction is Direction.EXPORT and not request.paths
    unknown = request.folder is None and not os.path.lexists(root)
    return request.dry_run and export and unknown


def _residue(store: Store, mapper: PathMapper, folder: str, scanned: ScanResult) -> Inventory:
    """The inventory of a full plan without its settled files (counted, not held)."""
    residue = split_settled(store, folder, scanned.files, mapper)
    unsettled = {p: s for p, s in scanned.files.items() if p not in residue.settled}
    return Inventory(
        replace(scanned, files=unsettled),
        residue.records,
        residue.entities,
        tracked=residue.tracked,
        settled=len(residue.settled),
        unplaced=residue.unplaced,
    )


def _all_records(store: Store, request: PlanRequest) -> dict[str, SyncRecord]:
    return {r.path: r for r in store.iter_records(request.folder)}


def _all_entities(store: Store, request: PlanRequest) -> dict[EntityKey, EntitySummary]:
    types = list(request.types) or None
    return {s.key: s for s in store.iter_summaries(types)}


def _named_files(
    store: Store, mapper: PathMapper, request: PlanRequest, scanned: PartialScan
) -> Inventory:
    """The inventory of a plan over named files (a watcher's batch): O(paths), not O(N).

    Every other path is out of sight for such a plan (shadowed), so it needs only the
    records at the named paths, the entities those paths and records name, and the
    other records of those entities (a file renamed to a name that decodes to the same
    id). A named folder, or a path that vanished, takes the whole inventory instead.
    """
    records = store.get_records(request.folder, sorted(scanned.selected))
    keys = {record.key for record in records.values()}
    for path in scanned.selected:
        # not an entity path: the plan reports it when it meets the file
        with suppress(BrainsyncError):
            keys.add(mapper.to_key(path))
    ordered = sorted(keys)
    for path, record in store.records_for_keys(request.folder, ordered).items():
        records.setdefault(path, record)
    entities = store.summaries_for(ordered)
    if request.types:
        entities = {k: v for k, v in entities.items() if k.type in request.types}
    tracked = store.count_records(request.folder)
    named = frozenset(request.paths)
    return Inventory(scanned, records, entities, named, RACY_WINDOW_NS, tracked=tracked)
