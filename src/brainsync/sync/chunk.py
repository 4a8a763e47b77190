"""Running one chunk of a plan: decide each item afresh, do the file I/O, commit once.

A chunk re-reads everything it decides on (records, entities, file bytes), so it is
idempotent and never acts on a stale plan: running it twice, or after a crash half-way,
gives the same files and rows. File work for the items runs in the thread pool; the
database changes of the whole chunk go in one transaction, and events are published
after it commits.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from brainsync.entities import Entity, EntityKey, EntityType
from brainsync.errors import BrainsyncError, DiskFullError, InvalidInputError, disk_full
from brainsync.events import ConflictFound, EntityCreated, EntityDeleted, EntityUpdated, EventBus
from brainsync.report import ItemError, Merged, Outcome, Report, Skip
from brainsync.store import EntityChange, Store, SyncRecord
from brainsync.sync.conflicts import ConflictPolicies
from brainsync.sync.decision import Action, held_back, side_of
from brainsync.sync.durable import flush_file_system
from brainsync.sync.files import FileIO, read_snapshot, remove_file
from brainsync.sync.held import left_alone
from brainsync.sync.markdown import decode_file, parse
from brainsync.sync.paths import PathGuard
from brainsync.sync.work import (
    Item,
    PlanItem,
    Result,
    RunOptions,
    Write,
    expect,
    file_age,
    make_record,
    mid_write,
    report_of,
    same_stat,
    too_large,
    void_stale,
)

__all__ = ["ChunkRunner", "PlanItem", "RunOptions"]

#: What acts on one item once its action is decided.
Handler = Callable[["ChunkRunner", Item, RunOptions, Result], None]


class ChunkRunner(ConflictPolicies):
    """Executes chunks of plan items against one store and one sync root."""

    def __init__(
        self,
        store: Store,
        root: Path,
        types: Mapping[str, EntityType],
        io: FileIO,
        bus: EventBus[object] | None = None,
    ) -> None:
        self._store = store
        self._root = root
        self._types = types
        self._io = io
        self._bus = bus

    def run(self, items: list[PlanItem], options: RunOptions) -> Report:
        """Process ``items``; the report counts each item once the chunk has committed."""
        loaded = self._load(items, options.folder)
        # the reads (syscalls and hashing, which release the GIL) run in the pool; deciding
        # and parsing are pure Python, where threads only contend for the GIL
        self._io.map(self._read, loaded)
        total = Result()
        for item in loaded:
            total.merge(self._process(item, options))
        self._write_all(total)
        if not options.dry_run:
            if options.durable and _changed_files(total, loaded):
                flush_file_system(self._root)  # the files first: the records say they hold
            total.changes.folder = options.folder
            total.changes.writer = f"sync:{options.folder}"
            applied = self._store.apply(total.changes)
            void_stale(total.changes.stale, loaded)
            self._publish(applied, total.conflicts)
        self._stop_if_full(loaded)
        return report_of(loaded, options.dry_run)

    def _stop_if_full(self, loaded: list[Item]) -> None:
        """A full disk stops the run with one error, after what did get written committed."""
        full = sum(item.no_space for item in loaded)
        if full:
            raise DiskFullError(
                f"disk full: no space left in the synced folder {self._root}; {full} "
                f"file(s) of this chunk and the rest of the run were not written. Free "
                "space there, then run the command again"
            )

    def _load(self, items: list[PlanItem], folder: str | None) -> list[Item]:
        keys = [EntityKey.parse(i["key"]) for i in items]
        keys += [EntityKey.parse(i["from_key"]) for i in items if "from_key" in i]
        paths = [i["path"] for i in items] + [i["from"] for i in items if "from" in i]
        entities = self._store.get_many(keys)
        records = self._store.get_records(folder, paths)
        loaded = []
        guard = PathGuard(self._root)  # one per chunk: folders verified once per chunk
        for raw in items:
            key = EntityKey.parse(raw["key"])
            item = Item(raw["path"], key, records.get(raw["path"]), entities.get(key), guard)
            if "from" in raw:
                item.move_from = records.get(raw["from"])
                item.move_entity = entities.get(EntityKey.parse(raw["from_key"]))
            loaded.append(item)
        return loaded

    def _write_all(self, total: Result) -> None:
        """Run the chunk's file writes in the pool; a failed write is that item's error."""
        outcomes = self._io.map(Write.run, total.writes)
        for write, outcome in zip(total.writes, outcomes, strict=True):
            if isinstance(outcome, SyncRecord):
                total.changes.records.append(outcome)
            else:
                write.item.void(outcome)

    @staticmethod
    def _read(item: Item) -> None:
        try:
            item.snapshot = read_snapshot(item.guard, item.path)
        except (BrainsyncError, OSError) as exc:
            item.read_error = exc

    def _process(self, item: Item, options: RunOptions) -> Result:
        result = Result()
        try:
            if item.read_error is not None:
                raise item.read_error
            self._act(item, options, result)
        except InvalidInputError as exc:
            item.void(_invalid(item, options, exc))
        except BrainsyncError as exc:
            item.void(ItemError(item.path, str(exc)))
        except OSError as exc:
            item.no_space = disk_full(exc)
            item.void(ItemError(item.path, f"{exc.strerror or exc}"))
        except Exception as exc:  # one odd item must never stop the run: report it
            item.void(ItemError(item.path, f"{type(exc).__name__}: {exc}"))
        return result

    def _act(self, item: Item, options: RunOptions, result: Result) -> None:
        if item.snapshot is None and item.record is None and item.entity is None:
            item.outcome = Outcome.VANISHED  # planned, then gone before this chunk (B5)
            return
        renamed = item.move_from is not None and item.move_from.key == item.key
        if renamed:
            self._renamed(item, options, result)
            return
        action, held = self._decide(item, options)
        if held is not None:
            item.entries.append(
                left_alone(
                    item.path, str(item.key), held, options.direction, options.propagate_deletes
                )
            )
            return
        if item.move_from is not None and action is Action.IMPORT and self._movable(item):
            self._move(item, options, result)
            return
        if item.move_from is not None:
            # not a clean move after all: the old path is decided on its own next run
            item.entries.append(Skip(item.move_from.path, "possible move; re-checked next run"))
        self._HANDLERS[action](self, item, options, result)

    @staticmethod
    def _decide(item: Item, options: RunOptions) -> tuple[Action, Action | None]:
        """The action for the item, and the one the table wanted if this run may not."""
        snap, record, entity = item.snapshot, item.record, item.entity
        file_side = side_of(
            snap is not None,
            record is not None,
            bool(snap and record and snap.file_hash == record.file_hash),
        )
        entity_side = side_of(
            entity is not None,
            record is not None,
            bool(entity and record and entity.content_hash == record.entity_hash),
        )
        same = bool(snap and entity and snap.file_hash == entity.content_hash)
        return held_back(
            file_side,
            entity_side,
            same_content=same,
            direction=options.direction,
            propagate_deletes=options.propagate_deletes,
            restore=options.restore,
        )

    def _renamed(self, item: Item, options: RunOptions, result: Result) -> None:
        """The entity's file got another name that maps to the same id: follow the file."""
        old = item.move_from
        assert old is not None
        if item.snapshot is None or os.path.lexists(item.guard.check(old.path)):
            item.entries.append(Skip(item.path, "possible rename; re-checked next run"))
            return
        item.record = replace(old, path=item.path)  # judge both sides against the old record
        action, _ = self._decide(item, options)
        if action is Action.NOTHING:
            if item.snapshot.file_hash != old.file_hash:
                # renamed and edited, in a run that may not import: leave it for one that does
                item.entries.append(Skip(item.path, "renamed and edited; run sync"))
                return
            item.outcome = Outcome.MOVED
            if not options.dry_run:
                record = make_record(item.path, old.key, item.snapshot, old.entity_hash)
                result.changes.records.append(record)
        else:
            self._HANDLERS[action](self, item, options, result)
        if not options.dry_run:
            result.changes.drop_records.append(old.path)

    def _movable(self, item: Item) -> bool:
        source, old = item.move_from, item.move_entity
        if source is None or item.entity is not None:
            return False
        unchanged = old is None or old.content_hash == source.entity_hash
        return unchanged and not os.path.lexists(item.guard.check(source.path))

    # -- actions ------------------------------------------------------------------------

    def _do_nothing(self, item: Item, options: RunOptions, result: Result) -> None:
        item.outcome = Outcome.UNCHANGED
        snap, record = item.snapshot, item.record
        if options.dry_run or snap is None or record is None or snap.file_hash != record.file_hash:
            return
        if not same_stat(snap, record):
            # same bytes, new stat (a touch): remember the stat, or every plan re-reads it
            result.changes.records.append(
                make_record(item.path, record.key, snap, record.entity_hash)
            )

    def _do_record(self, item: Item, options: RunOptions, result: Result) -> None:
        assert item.snapshot is not None and item.entity is not None
        item.outcome = Outcome.UNCHANGED
        result.changes.records.append(
            make_record(item.path, item.key, item.snapshot, item.entity.content_hash)
        )

    def _do_import(self, item: Item, options: RunOptions, result: Result) -> None:
        entity = self._entity_from_file(item, result)
        if entity is None:
            return
        item.outcome = Outcome.CREATED if item.entity is None else Outcome.UPDATED
        if options.dry_run:
            return
        assert item.snapshot is not None
        result.changes.upserts.append(entity)
        expect(result, item.key, item.entity)
        result.changes.records.append(
            make_record(item.path, item.key, item.snapshot, entity.content_hash)
        )

    def _do_export(self, item: Item, options: RunOptions, result: Result) -> None:
        assert item.entity is not None
        if too_large(item, item.entity, options):
            return
        item.outcome = Outcome.CREATED if item.snapshot is None else Outcome.UPDATED
        if not options.dry_run:
            self._write_entity(item, item.entity, options, result)

    def _do_delete_entity(self, item: Item, options: RunOptions, result: Result) -> None:
        if os.path.lexists(item.guard.check(item.path)):
            item.entries.append(Skip(item.path, "file reappeared; not deleted"))
            return
        item.outcome = Outcome.DELETED
        if not options.dry_run:
            result.changes.deletes.append(item.key)
            expect(result, item.key, item.entity)
            result.changes.drop_records.append(item.path)

    def _do_delete_file(self, item: Item, options: RunOptions, result: Result) -> None:
        assert item.snapshot is not None
        if not options.dry_run:
            fresh = read_snapshot(item.guard, item.path)
            if fresh is not None and fresh.file_hash != item.snapshot.file_hash:
                item.entries.append(Skip(item.path, "file changed just now; not deleted"))
                return
            remove_file(item.guard, item.path)
            result.changes.drop_records.append(item.path)
        item.outcome = Outcome.DELETED

    def _do_reimport_deleted(self, item: Item, options: RunOptions, result: Result) -> None:
        self._conflict(
            item, "entity was deleted but the file was edited: re-imported", None, result
        )
        self._do_import(item, options, result)

    def _do_restore_file(self, item: Item, options: RunOptions, result: Result) -> None:
        self._conflict(
            item, "file was deleted but the entity was edited: file restored", None, result
        )
        self._do_export(item, options, result)

    def _do_drop_record(self, item: Item, options: RunOptions, result: Result) -> None:
        if not options.dry_run:
            result.changes.drop_records.append(item.path)

    def _move(self, item: Item, options: RunOptions, result: Result) -> None:
        assert item.move_from is not None
        entity = self._entity_from_file(item, result)
        if entity is None:
            return
        item.outcome = Outcome.MOVED
        if options.dry_run:
            return
        assert item.snapshot is not None
        result.changes.deletes.append(item.move_from.key)
        expect(result, item.move_from.key, item.move_entity)
        result.changes.drop_records.append(item.move_from.path)
        result.changes.upserts.append(entity)
        expect(result, item.key, item.entity)
        result.changes.records.append(
            make_record(item.path, item.key, item.snapshot, entity.content_hash)
        )

    # -- building blocks ----------------------------------------------------------------

    def _entity_from_file(self, item: Item, result: Result) -> Entity | None:
        """Parse and validate the file; ``None`` (with the reason reported) when it can't be."""
        assert item.snapshot is not None
        text = decode_file(item.snapshot.data)
        if mid_write(item, text):
            return None
        parsed = parse(text)
        entity_type = self._types.get(item.key.type)
        if entity_type is None:
            raise BrainsyncError(f"entity type {item.key.type!r} is not registered")
        entity_type.validate(parsed.metadata)
        updated = datetime.fromtimestamp(item.snapshot.mtime_ns / 1e9, tz=UTC)
        created = item.entity.created if item.entity else updated
        # strict UTF-8 round-trips: the document hashes exactly like the file's bytes
        return Entity(
            item.key,
            text,
            parsed.body,
            parsed.metadata,
            created,
            updated,
            content_hash=item.snapshot.file_hash,
        )

    def _write_entity(
        self, item: Item, entity: Entity, options: RunOptions, result: Result
    ) -> None:
        """Write the entity's document to the item's path, unless the file moved meanwhile."""
        if too_large(item, entity, options):
            return
        data = entity.document.encode("utf-8")
        snapshot = item.snapshot
        if snapshot is None or snapshot.data != data:
            result.writes.append(
                Write(item, entity, data, options.fsync, options.overwrite_readonly)
            )
            return
        # identical bytes are never rewritten: the mtime stays
        result.changes.records.append(
            make_record(item.path, entity.key, snapshot, entity.content_hash)
        )

    def _publish(self, applied: list[EntityChange], conflicts: list[ConflictFound]) -> None:
        if self._bus is None:
            return
        for change in applied:
            key = str(change.key)
            if change.kind == "deleted":
                self._bus.publish(EntityDeleted(key))
            elif change.entity is not None:
                event_type = EntityCreated if change.kind == "created" else EntityUpdated
                self._bus.publish(event_type(key, change.entity.content_hash))
        for conflict in conflicts:
            self._bus.publish(conflict)

    #: The handler of each action (every action has one: a unit test checks it).
    _HANDLERS: ClassVar[Mapping[Action, Handler]] = {
        Action.NOTHING: _do_nothing,
        Action.RECORD: _do_record,
        Action.IMPORT: _do_import,
        Action.EXPORT: _do_export,
        Action.CONFLICT: ConflictPolicies._do_conflict,
        Action.DELETE_ENTITY: _do_delete_entity,
        Action.DELETE_FILE: _do_delete_file,
        Action.REIMPORT_DELETED: _do_reimport_deleted,
        Action.RESTORE_FILE: _do_restore_file,
        Action.DROP_RECORD: _do_drop_record,
    }


def _invalid(item: Item, options: RunOptions, exc: InvalidInputError) -> Skip | ItemError:
    """An item that is no valid note: an error, unless its file changed just now in a run
    that takes that as mid-write (a watcher's: it looks again once the file is quiet)."""
    snapshot = item.snapshot
    if snapshot is not None and 0 <= file_age(snapshot) < options.mid_write_seconds:
        return Skip(item.path, "not a valid note yet, changed just now; probably mid-write")
    return ItemError(item.path, str(exc))


def _changed_files(total: Result, items: list[Item]) -> bool:
    """Whether the chunk wrote, copied, merged or removed a file (or may have)."""
    if total.writes or total.conflicts or total.changes.drop_records:
        return True
    return any(isinstance(entry, Merged) for item in items for entry in item.entries)
