"""Planning a run: which items might need work, cheaply, and in chunks.

The plan walks the directory (stat only), the sync records and the entity hashes, and
keeps only the items where something moved: a file whose size or mtime differs from its
record, an entity whose hash differs, or a side that appeared or vanished. Everything else
is counted unchanged without a single file read. The safety guards run here, before any
chunk acts: a missing or unreadable root is an error, an empty root is an error unless
forced, and too large a share of deletions needs ``force_deletes``.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
from collections import defaultdict
from collections.abc import Container, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import NamedTuple

from brainsync.entities import EntityKey
from brainsync.errors import BrainsyncError, MassDeleteError, RootUnavailableError
from brainsync.report import Report, Skip
from brainsync.store import Store, SyncRecord
from brainsync.sync.decision import Direction
from brainsync.sync.files import read_snapshot
from brainsync.sync.ignore import IgnoreRule
from brainsync.sync.inventory import Inventory, load_inventory
from brainsync.sync.limits import PathLimits
from brainsync.sync.paths import PathGuard, PathMapper, clash_key
from brainsync.sync.scan import FileStat
from brainsync.sync.settle import retyped
from brainsync.sync.twins import twin_groups
from brainsync.sync.watch_paths import root_is_empty
from brainsync.sync.work import PlanItem, same_stat

__all__ = ["Candidate", "Plan", "PlanRequest", "Planner"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanRequest:
    """What to plan: a direction, an optional type filter and the guard settings."""

    direction: Direction
    #: The folder whose sync state the run compares with (None: a folder with no state).
    folder: str | None = None
    types: tuple[str, ...] = ()
    force_deletes: bool = False
    propagate_deletes: bool = True
    delete_share: float = 0.5
    mass_delete_min: int = 5
    max_file_bytes: int = 5 * 1024 * 1024
    chunk_size: int = 500
    #: Only these paths (a folder: everything under it); empty: the whole directory.
    #: Other paths are never looked at, so they can never count as deleted.
    paths: tuple[str, ...] = ()
    #: A dry run: a tripped delete guard is reported (``Report.refused``), not raised,
    #: and an export into a folder that does not exist yet plans as if it were empty.
    dry_run: bool = False


class Candidate(NamedTuple):
    """One path that may need work, as the plan holds it until its chunk is handed out
    (a tuple: a first run of 100k files holds one per file; a chunk's items are built
    from them when the chunk is stored or run)."""

    path: str
    key: EntityKey
    #: The synced path this one is a move or a rename of, and that path's entity.
    source: str | None = None
    source_key: EntityKey | None = None

    def item(self) -> PlanItem:
        """The chunk item of this candidate."""
        item: PlanItem = {"path": self.path, "key": str(self.key)}
        if self.source is not None and self.source_key is not None:
            item["from"], item["from_key"] = self.source, str(self.source_key)
        return item


@dataclass
class Plan:
    """Candidates in chunks, plus what the plan already knows (unchanged, skipped)."""

    candidates: list[Candidate] = field(default_factory=list)
    chunk_size: int = 500
    report: Report = field(default_factory=Report)
    #: The temp files of brainsync's own writes the scan found (see ``sweep_temp_files``).
    temp_files: list[str] = field(default_factory=list)
    #: A dry-run export into a folder that does not exist yet (the real export makes it).
    new_folder: bool = False

    @property
    def chunk_count(self) -> int:
        """How many chunks the candidates make."""
        return -(-len(self.candidates) // self.chunk_size)

    def chunk(self, index: int) -> list[PlanItem]:
        """The items of chunk ``index``, built now (see :class:`Candidate`)."""
        start = index * self.chunk_size
        return [c.item() for c in self.candidates[start : start + self.chunk_size]]


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause the cycle collector: planning allocates ~10 objects per file and frees them
    all together, and at 100k files the collector's passes took a third of the plan."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Planner:
    """Builds a :class:`Plan` from one directory walk and two keyset-paged listings."""

    def __init__(self, store: Store, mapper: PathMapper, root: Path) -> None:
        self._store = store
        self._mapper = mapper
        self._root = root

    @functools.cached_property
    def _limits(self) -> PathLimits:
        return PathLimits.of(self._root)

    def plan(self, request: PlanRequest) -> Plan:
        """Plan one run; raises a SafetyError when acting could lose data."""
        with _no_cycle_collection():
            return self._plan(request)

    def _plan(self, request: PlanRequest) -> Plan:
        inventory = self._inventory(request)
        plan = Plan(chunk_size=request.chunk_size, new_folder=inventory.new_folder)
        plan.report.skipped.extend(inventory.scan.skipped)
        plan.report.ignored = inventory.scan.ignored_counts()
        plan.temp_files = inventory.scan.ignored.get(IgnoreRule.BRAINSYNC_TEMP.value, [])
        renames: dict[str, str] = {}
        items = self._items(inventory, request, plan.report, renames)
        candidates = [
            # a path in renames: the same entity under a new file name
            Candidate(path, key, renames[path], key) if path in renames else Candidate(path, key)
            for path, key in items
            if not self._settled(path, key, inventory)
        ]
        plan.report.unchanged += inventory.settled + len(items) - len(candidates)
        del items
        if request.direction is not Direction.EXPORT and request.propagate_deletes:
            # moves first: a renamed folder is many moves, not many deletions
            candidates = self._pair_moves(candidates, inventory)
        plan.report.refused = self._guard(inventory, candidates, request)
        plan.candidates = candidates
        return plan

    def _inventory(self, request: PlanRequest) -> Inventory:
        return load_inventory(self._store, self._root, self._mapper, request)

    def _items(
        self, inv: Inventory, request: PlanRequest, report: Report, renames: dict[str, str]
    ) -> list[tuple[str, EntityKey]]:
        by_path: dict[str, EntityKey] = {}
        for path in inv.scan.files:
            key = self._key_for_file(path, inv.records.get(path), report)
            if key is not None:
                by_path[path] = key
        for path, record in inv.records.items():
            if path not in by_path and path not in inv.scan.files:
                if inv.scan.is_shadowed(path):
                    continue  # present but unreadable or held back: absence means nothing
                by_path[path] = record.key
        record_paths = {record.key: record.path for record in inv.records.values()}
        new_paths = {path: key for path, key in by_path.items() if path not in inv.records}
        self._one_path_per_key(by_path, new_paths, record_paths, inv, report, renames)
        # only entities left to place need it: a first import has none, and 100k keys
        placed_new = (
            {key for path, key in new_paths.items() if path in by_path}
            if inv.entities or inv.unplaced
            else set()
        )
        del new_paths
        for key in chain(inv.entities, inv.unplaced):
            known = record_paths.get(key)
            if (known is not None and known in by_path) or key in placed_new:
                continue  # an entity already at a file keeps that file
            self._place_entity(key, record_paths, by_path, report)
        wanted = set(request.types)
        # a held path (too large, a link) or one in an unreadable folder was reported by the
        # scan; its entity must neither import it through a chunk's read nor overwrite it
        items = sorted(by_path.items())  # the dict's own tuples: no second copy at 100k
        del by_path
        items = [item for item in items if not inv.scan.is_shadowed(item[0])]
        # clashes are judged over every type (a note folder can clash with a type folder),
        # and a path that is already synced keeps its place against a newcomer
        kept = self._drop_clashes(items, inv.records, report)
        return [item for item in kept if item[1].type in wanted] if wanted else kept

    def _one_path_per_key(
        self,
        by_path: dict[str, EntityKey],
        new_paths: dict[str, EntityKey],
        record_paths: dict[EntityKey, str],
        inv: Inventory,
        report: Report,
        renames: dict[str, str],
    ) -> None:
        """Keep one path per entity: hand-made names can decode to one id (``a%20b``, ``a b``).

        Two files of one entity would overwrite each other, and a synced name that
        vanished while its twin exists is a rename, never a deletion. Only a new file can
        make a second path for an entity, so only new files are grouped.
        """
        for key, paths in twin_groups(new_paths, record_paths):
            known = record_paths.get(key)
            # a synced twin out of this plan's sight (another batch's path, a held file)
            # still holds the entity if it is on disk: the new name is the extra one
            out_of_sight = known is not None and self._unseen_but_present(known, inv)
            if known is not None and (known in by_path or out_of_sight):
                paths = [*paths, known]
            if len(paths) < 2:
                continue
            files = inv.scan.files
            present = sorted(p for p in paths if p in files or (out_of_sight and p == known))
            gone = sorted(p for p in paths if p not in present)
            synced = [p for p in present if p in inv.records]
            keep = (synced or present or gone)[0]
            for path in paths:
                if path == keep:
                    continue
                del by_path[path]
                if path in inv.scan.files:
                    report.skipped.append(Skip(path, f"names the same entity as {keep}"))
            if keep not in inv.records and gone:
                renames[keep] = gone[0]

    def _unseen_but_present(self, path: str, inv: Inventory) -> bool:
        return inv.scan.is_shadowed(path) and os.path.lexists(self._root / path)

    def _key_for_file(
        self, path: str, record: SyncRecord | None, report: Report
    ) -> EntityKey | None:
        if record is not None and not retyped(path, record.key.type, self._mapper):
            return record.key  # a synced path keeps its key: no need to derive it again
        try:
            derived = self._mapper.to_key(path)
        except BrainsyncError as exc:
            if record is None:
                report.skipped.append(Skip(path, f"not an entity path: {exc}"))
                return None
            return record.key
        if record is not None and record.key != derived:
            folder = self._mapper.type_folder_of(path)
            report.skipped.append(
                Skip(
                    path,
                    f"folder {folder!r} is now a registered type; kept as {record.key} "
                    "(move the file to re-type it)",
                )
            )
            return None
        return derived

    def _place_entity(
        self,
        key: EntityKey,
        record_paths: dict[EntityKey, str],
        by_path: dict[str, EntityKey],
        report: Report,
    ) -> None:
        path = record_paths.get(key)
        if path is None:
            try:
                path = str(self._mapper.to_path(key))
                self._limits.check(key, path, self._root)  # B13: the folder's own limits
            except BrainsyncError as exc:
                report.skipped.append(Skip(str(key), f"id cannot be a file name: {exc}"))
                return
        other = by_path.setdefault(path, key)
        if other != key:
            report.skipped.append(Skip(path, f"{key} maps to the same file as {other}"))

    @staticmethod
    def _drop_clashes(
        items: list[tuple[str, EntityKey]], synced: Container[str], report: Report
    ) -> list[tuple[str, EntityKey]]:
        """Keep the first of paths that clash (synced ones first, then by path); sorted."""
        seen: dict[str, str] = {}
        kept: list[tuple[str, EntityKey]] = []
        for first_pass in (True, False):
            for item in items:
                path = item[0]
                if (path in synced) is not first_pass:
                    continue
                key = clash_key(path)
                first = seen.setdefault(path if key == path else key, path)
                if first != path:
                    reason = f"clashes with {first} on case-insensitive or normalising file systems"
                    report.skipped.append(Skip(path, reason))
                    continue
                kept.append(item)
        kept.sort()
        return kept

    @staticmethod
    def _settled(path: str, key: EntityKey, inv: Inventory) -> bool:
        record = inv.records.get(path)
        stat = inv.scan.files.get(path)
        entity = inv.entities.get(key)
        if record is None or stat is None or entity is None or path in inv.named:
            return False
        same_file = same_stat(stat, record)  # ctime and inode too: a touch -r (B14)
        # a future mtime (clock skew) is racy too: its tick has not even passed yet
        racy = inv.racy_window_ns > 0 and inv.now_ns - record.mtime_ns < inv.racy_window_ns
        return same_file and not racy and entity.content_hash == record.entity_hash

    def _guard(self, inv: Inventory, candidates: list[Candidate], req: PlanRequest) -> str | None:
        """Raise when acting could lose data; a dry run gets the refusal back instead (and
        goes on as if forced: its paths show what ``--force-deletes`` would do)."""
        refusal = self._refusal(inv, candidates, req)
        if refusal is not None and not req.dry_run:
            raise refusal
        return None if refusal is None else f"the real run would be refused: {refusal}"

    def _refusal(
        self, inv: Inventory, candidates: list[Candidate], req: PlanRequest
    ) -> BrainsyncError | None:
        tracked = inv.tracked
        found = inv.scan.files or inv.settled  # settled files are out of the scan's dict
        empty = root_is_empty(self._root) if req.paths else not found
        emptied = empty and tracked and req.direction is not Direction.EXPORT
        if emptied and not req.force_deletes:
            return RootUnavailableError(
                f"sync directory {self._root} is empty but {tracked} files were synced "
                "before; refusing to delete every entity (unmounted? use --force-deletes "
                "if you really emptied it)"
            )
        if not req.propagate_deletes or req.force_deletes:
            return None
        deletions = sum(1 for item in candidates if self._would_delete(item, inv, req.direction))
        if deletions >= req.mass_delete_min and deletions > req.delete_share * max(tracked, 1):
            return MassDeleteError(
                f"{deletions} of {tracked} synced items would be deleted, more than "
                f"{req.delete_share:.0%}; nothing was changed. Check the directory and the "
                "database, then run again with --force-deletes to delete them"
            )
        return None

    @staticmethod
    def _would_delete(item: Candidate, inv: Inventory, direction: Direction) -> bool:
        record = inv.records.get(item.path)
        if record is None:
            return False
        file_gone = item.path not in inv.scan.files
        entity = inv.entities.get(record.key)
        entity_gone = entity is None
        if file_gone and not entity_gone and direction is not Direction.EXPORT:
            return entity is not None and entity.content_hash == record.entity_hash
        if entity_gone and not file_gone and direction is not Direction.IMPORT:
            stat = inv.scan.files[item.path]
            return stat.size == record.size and stat.mtime_ns == record.mtime_ns
        return False

    def _pair_moves(self, candidates: list[Candidate], inv: Inventory) -> list[Candidate]:
        """Turn 'file gone here, identical new file there' into one move item (same type)."""
        gone: dict[tuple[str, int], list[SyncRecord]] = defaultdict(list)
        for item in candidates:
            record = inv.records.get(item.path)
            if record and item.path not in inv.scan.files:
                gone[(record.key.type, record.size)].append(record)
        if not gone:
            return candidates
        moved: dict[str, SyncRecord] = {}
        guard = PathGuard(self._root)  # one for the whole pairing: folders verified once
        for item in candidates:
            stat = inv.scan.files.get(item.path)
            if stat is None or item.path in inv.records or item.source is not None:
                continue
            source = self._match_move(item, stat, gone, guard)
            if source is not None:
                moved[item.path] = source
        sources = {record.path for record in moved.values()}
        return [
            item._replace(source=moved[item.path].path, source_key=moved[item.path].key)
            if item.path in moved
            else item
            for item in candidates
            if item.path not in sources
        ]

    def _match_move(
        self,
        item: Candidate,
        stat: FileStat,
        gone: dict[tuple[str, int], list[SyncRecord]],
        guard: PathGuard,
    ) -> SyncRecord | None:
        sources = gone.get((item.key.type, stat.size))
        if not sources:
            return None
        try:
            snapshot = read_snapshot(guard, item.path)
        except (BrainsyncError, OSError):
            return None  # not a move then; the chunk reads it again and reports why
        if snapshot is None:
            return None
        for source in sources:
            if source.file_hash == snapshot.file_hash:
                sources.remove(source)
                return source
        return None
