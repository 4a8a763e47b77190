"""What a chunk does when both sides changed: merge, or keep the losing side, by policy.

``merge`` (the default) merges edits that do not overlap onto the version both sides last
agreed on (from the entity history) and writes the result to both sides in one step;
whatever does not merge, and every other policy but ``fail``, keeps the losing side as a
conflict copy, so nothing is lost. :class:`ConflictPolicies` is a part of
:class:`~brainsync.sync.chunk.ChunkRunner`, split out by concern.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from brainsync.config import ConflictPolicy
from brainsync.entities import Entity, EntityType
from brainsync.errors import BrainsyncError
from brainsync.events import ConflictFound
from brainsync.report import UNRESOLVED, Conflict, ItemError, Merged, Skip
from brainsync.store import Store
from brainsync.sync.files import atomic_write, is_read_only, snapshot_of
from brainsync.sync.markdown import decode_file, parse
from brainsync.sync.merge import NotMerged, merge_documents
from brainsync.sync.work import (
    Item,
    Result,
    RunOptions,
    changed_since,
    conflict_copy_path,
    current_stat,
    expect,
    make_record,
)

__all__ = ["ConflictPolicies"]

#: How the report words a conflict whose file version was imported, by policy.
_FILE_KEPT = {
    ConflictPolicy.FILE_WINS: "file version kept; database version saved as copy",
    ConflictPolicy.KEEP_BOTH: "kept both: file imported, database version saved as copy",
    ConflictPolicy.MERGE: "kept both: file imported, database version saved as copy",
}


class ConflictPolicies:
    """The conflict handler of a chunk runner, and the merge it tries first."""

    _store: Store
    _types: Mapping[str, EntityType]

    def _entity_from_file(self, item: Item, result: Result) -> Entity | None:
        raise NotImplementedError  # the chunk runner parses files

    def _write_entity(
        self, item: Item, entity: Entity, options: RunOptions, result: Result
    ) -> None:
        raise NotImplementedError  # the chunk runner defers writes to its pool

    def _do_conflict(self, item: Item, options: RunOptions, result: Result) -> None:
        """Both sides changed: ``merge`` merges edits that do not overlap; what does not
        merge, and every other policy but ``fail``, keeps the losing side as a copy."""
        assert item.entity is not None and item.snapshot is not None
        policy = options.policy
        not_merged = None
        if policy is ConflictPolicy.MERGE:
            not_merged = self._merge(item, options, result)
            if not_merged is None:
                return
        if policy is ConflictPolicy.FAIL:
            item.entries.append(ItemError(item.path, "conflict: file and entity both changed"))
            self._conflict(item, UNRESOLVED, None, result)
            return
        if policy is ConflictPolicy.DB_WINS:
            copy = conflict_copy_path(item.path, item.snapshot.file_hash)
            resolution = "database version kept; the file's version saved as copy"
            self._conflict(item, resolution, copy, result)
            if not options.dry_run:
                atomic_write(item.guard, copy, item.snapshot.data, None, fsync=options.fsync)
                self._write_entity(item, item.entity, options, result)
            return
        resolution = _FILE_KEPT[policy]
        if not_merged is not None:
            resolution = f"not merged ({not_merged}); {resolution}"
        self._keep_file_version(item, options, result, resolution)

    def _keep_file_version(
        self, item: Item, options: RunOptions, result: Result, resolution: str
    ) -> None:
        """Import the file's version; write the database's beside it as a conflict copy."""
        assert item.entity is not None and item.snapshot is not None
        entity = self._entity_from_file(item, result)
        if entity is None:
            return
        copy = conflict_copy_path(item.path, item.entity.content_hash)
        self._conflict(item, resolution, copy, result)
        if options.dry_run:
            return
        data = item.entity.document.encode("utf-8")
        atomic_write(item.guard, copy, data, item.entity.updated, fsync=options.fsync)
        result.changes.upserts.append(entity)
        expect(result, item.key, item.entity)
        result.changes.records.append(
            make_record(item.path, item.key, item.snapshot, entity.content_hash)
        )

    def _merge(self, item: Item, options: RunOptions, result: Result) -> str | None:
        """Merge both sides onto their last common version and write it to both in one step.

        None when merged (or skipped); otherwise why not, and nothing was changed.
        """
        assert item.entity is not None and item.snapshot is not None
        base = self._merge_base(item)
        if base is None:
            return "no common version to merge from"
        outcome = merge_documents(base, decode_file(item.snapshot.data), item.entity.document)
        if isinstance(outcome, NotMerged):
            return outcome.reason
        limit = options.max_file_bytes
        if len(outcome.document.encode("utf-8")) > limit:  # its file would never sync (B15)
            return f"the merge would be larger than the {limit}-byte limit (max_file_bytes)"
        try:
            merged = self._entity_from_text(item, outcome.document, item.entity.created)
        except BrainsyncError as exc:
            return f"the merge is not a valid {item.key.type}: {exc}"
        found_stat = current_stat(item)
        if is_read_only(found_stat) and not options.overwrite_readonly:
            return "the file is read-only (no write bit)"  # P3: the store's side is a copy
        if not options.dry_run and changed_since(item, found_stat):
            item.entries.append(Skip(item.path, "file changed during the run; not merged"))
            return None
        found = Merged(item.path, str(item.key), [*outcome.from_file], [*outcome.from_store])
        item.entries.append(found)
        if options.dry_run:
            return None
        # the file first: a crash before the commit leaves a conflict that merges the same
        data = outcome.document.encode("utf-8")
        info = atomic_write(
            item.guard, item.path, data, merged.updated, fsync=options.fsync, existing=found_stat
        )
        written = snapshot_of(item.path, merged.content_hash, info)
        result.changes.upserts.append(merged)
        expect(result, item.key, item.entity)
        record = make_record(item.path, item.key, written, merged.content_hash)
        result.changes.records.append(record)
        return None

    def _entity_from_text(self, item: Item, text: str, created: datetime) -> Entity:
        """The item's entity with document ``text``, validated for its type, updated now."""
        parsed = parse(text)
        self._types[item.key.type].validate(parsed.metadata)
        now = datetime.now(UTC)
        return Entity(item.key, text, parsed.body, parsed.metadata, created, now)

    def _merge_base(self, item: Item) -> str | None:
        """The document both sides last agreed on: the entity as of this folder's last sync."""
        if item.record is None:
            return None
        found = self._store.document_with_hash(item.key, item.record.entity_hash)
        if found is None and item.record.file_hash != item.record.entity_hash:
            found = self._store.document_with_hash(item.key, item.record.file_hash)
        return found

    @staticmethod
    def _conflict(item: Item, resolution: str, copy: str | None, result: Result) -> None:
        key = str(item.key)
        item.entries.append(Conflict(item.path, key, resolution, copy))
        result.conflicts.append(ConflictFound(key, item.path, resolution, copy))
