"""The sync state of each folder, and the folder registry, as the store keeps them.

Every record belongs to one folder: a query names the folder, so nothing one folder does
can count another folder's files as deleted. ``folder=None`` stands for a folder that has
no state yet (a dry run of a folder that never synced): it has no records.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    and_,
    delete,
    exists,
    func,
    select,
    update,
)

from brainsync.entities import EntityKey
from brainsync.errors import InvalidInputError, NotFoundError, StoreError
from brainsync.store.database import Database, batches, positive
from brainsync.store.records import (
    FolderRecord,
    SyncedRow,
    SyncRecord,
    record_from_row,
    record_from_tuple,
    record_row,
)
from brainsync.store.schema import entities, entities_after, folders, key_in, sync_state

__all__ = ["RUN_KINDS", "SyncStateStore"]

#: A sync record's columns in :func:`record_from_tuple`'s order.
_RECORD_COLUMNS = (
    sync_state.c.path,
    sync_state.c.type,
    sync_state.c.id,
    sync_state.c.size,
    sync_state.c.mtime_ns,
    sync_state.c.file_hash,
    sync_state.c.entity_hash,
    sync_state.c.ctime_ns,
    sync_state.c.inode,
)

#: Joins a sync record with its entity.
_ENTITY_OF_RECORD = and_(entities.c.type == sync_state.c.type, entities.c.id == sync_state.c.id)
#: Joins a sync record with its entity only while the entity has the recorded hash. Every
#: column of the join is in ``ix_entities_key_hash``, so the database reads that index
#: alone: SQLite otherwise reads each entity's row, and finds the hash behind the
#: document and content (overflow pages): 0.25 -> 0.14 s for 100k records.
_UNCHANGED_ENTITY_OF_RECORD = and_(
    _ENTITY_OF_RECORD, entities.c.content_hash == sync_state.c.entity_hash
)


def _joined(
    folder: str, *columns: ColumnElement[Any], on: ColumnElement[bool] = _ENTITY_OF_RECORD
) -> Select[Any]:
    """``columns`` of ``folder``'s sync records joined with their entities (if any)."""
    return (
        select(*columns)
        .select_from(sync_state.outerjoin(entities, on))
        .where(sync_state.c.folder == folder)
    )


#: The kinds of run whose last finish a folder remembers.
RUN_KINDS = ("export", "import", "sync")


class SyncStateStore(Database):
    """Folders and their sync records."""

    # -- folders -----------------------------------------------------------------------

    def add_folder(self, folder: FolderRecord) -> None:
        """Register a new folder (its id must be new)."""
        row = {
            "id": folder.id,
            "label": folder.label,
            "host": folder.host,
            "path": folder.path,
            "created": folder.created,
        }
        with self._translate("register the folder"), self._write() as conn:
            conn.execute(folders.insert(), row)

    def claim_folder(
        self, folder_id: str, label: str, host: str, path: str, *, only_unclaimed: bool = False
    ) -> bool:
        """Give a folder its (new) label, host and path: a moved folder, or adopted state.

        ``only_unclaimed`` adopts the state of a schema-1 store only if no folder took it
        first (two hosts may try at once). False when nothing was changed.
        """
        values = {"label": label, "host": host, "path": path}
        stmt = update(folders).where(folders.c.id == folder_id).values(**values)
        if only_unclaimed:
            stmt = stmt.where(folders.c.path == "")
        with self._translate("update the folder"), self._write() as conn:
            return bool(conn.execute(stmt).rowcount)

    def get_folder(self, folder_id: str) -> FolderRecord | None:
        """The folder with ``folder_id``, with its tracked-file count, or None."""
        found = self.list_folders([folder_id])
        return found[0] if found else None

    def list_folders(self, ids: Sequence[str] | None = None) -> list[FolderRecord]:
        """Every folder (or those among ``ids``), oldest first, with tracked-file counts."""
        query = select(folders).order_by(folders.c.created, folders.c.id)
        counts = select(sync_state.c.folder, func.count().label("n")).group_by(sync_state.c.folder)
        if ids is not None:
            # count only these folders' records: every command looks up its own folder,
            # and counting every folder's made that O(all records) (30 ms at 6 x 10k)
            query = query.where(folders.c.id.in_(list(ids)))
            counts = counts.where(sync_state.c.folder.in_(list(ids)))
        rows = self._read(query, "list folders")
        tracked = {r["folder"]: int(r["n"]) for r in self._read(counts, "count records")}
        return [_folder_from_row(row, tracked.get(row["id"], 0)) for row in rows]

    def forget_folder(self, folder_id: str) -> int:
        """Drop a folder and its sync state (never an entity); returns the records dropped."""
        with self._translate("forget the folder"), self._write() as conn:
            found = conn.execute(
                select(folders.c.id).where(folders.c.id == folder_id).with_for_update()
            ).first()
            if found is None:
                raise NotFoundError(f"no folder {folder_id}")
            dropped = conn.execute(delete(sync_state).where(sync_state.c.folder == folder_id))
            conn.execute(delete(folders).where(folders.c.id == folder_id))
            return int(dropped.rowcount or 0)

    def folder_ran(self, folder_id: str, kind: str, when: datetime) -> None:
        """Remember that a run of ``kind`` finished for the folder at ``when``."""
        if kind not in RUN_KINDS:
            raise InvalidInputError(f"unknown run kind {kind!r}")
        column = f"last_{kind}"
        stmt = update(folders).where(folders.c.id == folder_id).values({column: when})
        with self._translate("record the run"), self._write() as conn:
            conn.execute(stmt)

    def _lock_folder(self, conn: Connection, folder_id: str) -> None:
        """Hold the folder's row for this write; a forgotten folder takes no more records."""
        query = select(folders.c.id).where(folders.c.id == folder_id).with_for_update()
        if conn.execute(query).first() is None:
            raise StoreError(
                f"folder {folder_id} is not registered in this store (forgotten while a run "
                "was going on?); run again to join it as a new folder"
            )

    # -- sync records --------------------------------------------------------------------

    def get_records(self, folder: str | None, paths: Sequence[str]) -> dict[str, SyncRecord]:
        """The sync records of those ``paths`` of ``folder`` that have one."""
        found: dict[str, SyncRecord] = {}
        if folder is None:
            return found
        for batch in batches(list(dict.fromkeys(paths))):
            query = select(sync_state).where(
                sync_state.c.folder == folder, sync_state.c.path.in_(batch)
            )
            for row in self._read(query, "read records"):
                found[row["path"]] = record_from_row(row)
        return found

    def records_for_keys(
        self, folder: str | None, keys: Sequence[EntityKey]
    ) -> dict[str, SyncRecord]:
        """The sync records of ``folder`` whose entity is among ``keys``, by path."""
        found: dict[str, SyncRecord] = {}
        if folder is None:
            return found
        for batch in batches(list(dict.fromkeys(keys))):
            query = select(sync_state).where(
                sync_state.c.folder == folder, key_in(sync_state, batch)
            )
            for row in self._read(query, "read records"):
                found[row["path"]] = record_from_row(row)
        return found

    def iter_records(self, folder: str | None, page_size: int = 5000) -> Iterator[SyncRecord]:
        """Every sync record of ``folder`` in path order, paged by path."""
        if folder is None:
            return
        base = select(*_RECORD_COLUMNS).where(sync_state.c.folder == folder)
        yield from map(record_from_tuple, self._rows_by_path(base, page_size))

    def iter_synced(self, folder: str | None, page_size: int = 5000) -> Iterator[SyncedRow]:
        """Every sync record of ``folder`` in path order, as the settled check reads it
        (see :class:`SyncedRow`), with whether its entity's hash is still the recorded
        one: one pass, paged by path, the hashes compared by the database."""
        if folder is None:
            return
        same_entity = entities.c.type.is_not(None)
        state = sync_state.c
        columns = (state.path, state.type, state.size, state.mtime_ns, state.ctime_ns, state.inode)
        query = _joined(folder, *columns, same_entity, on=_UNCHANGED_ENTITY_OF_RECORD)
        for row in self._rows_by_path(query, page_size):
            yield SyncedRow._make(row)

    def records_between(
        self, folder: str, after: str | None, upto: str, page_size: int = 5000
    ) -> Iterator[tuple[SyncRecord, str | None]]:
        """The sync records of ``folder`` with ``after < path <= upto`` (no lower bound
        when ``after`` is None) in path order, each with its entity's hash (None: gone).

        How a plan reads back the full records of a stretch of :meth:`iter_synced` where
        many paths were not settled: one range read instead of a lookup per path.
        """
        base = _joined(folder, *_RECORD_COLUMNS, entities.c.content_hash)
        base = base.where(sync_state.c.path <= upto)
        if after is not None:
            base = base.where(sync_state.c.path > after)
        for row in self._rows_by_path(base, page_size):
            yield record_from_tuple(row[:-1]), row[-1]

    def synced_records(
        self, folder: str, paths: Sequence[str]
    ) -> Iterator[tuple[SyncRecord, str | None]]:
        """The sync records of those ``paths`` of ``folder`` that have one, each with its
        entity's hash (None: gone): :meth:`records_between` for scattered paths, one
        joined query per batch."""
        base = _joined(folder, *_RECORD_COLUMNS, entities.c.content_hash)
        for batch in batches(list(dict.fromkeys(paths))):
            for row in self._read_rows(base.where(sync_state.c.path.in_(batch)), "read records"):
                yield record_from_tuple(row[:-1]), row[-1]

    def iter_unsynced(self, folder: str | None, page_size: int = 5000) -> Iterator[EntityKey]:
        """The keys of the entities with no sync record in ``folder``, in key order.

        Keys only: such an entity has nothing to be compared with here, and a first export
        of 100k entities held 50 MB of summaries for it. Type names are interned (a
        handful of distinct strings, otherwise one copy per row).
        """
        recorded = select(sync_state.c.id).where(
            sync_state.c.folder == folder,
            sync_state.c.type == entities.c.type,
            sync_state.c.id == entities.c.id,
        )
        unsynced = select(entities.c.type, entities.c.id).where(~exists(recorded))
        for row in self._rows_by_key(unsynced, None, page_size):
            yield EntityKey(sys.intern(row["type"]), row["id"])

    def _rows_by_path(self, base: Select[Any], page_size: int) -> Iterator[Row[Any]]:
        """The rows (path first) of a query on ``sync_state``, a page at a time in path
        order."""
        base = base.order_by(sync_state.c.path).limit(positive("page_size", page_size))
        query = base
        while True:
            rows = self._read_rows(query, "list records")
            yield from rows
            if len(rows) < page_size:
                return
            query = base.where(sync_state.c.path > rows[-1][0])

    def _rows_by_key(self, base: Select[Any], type_: str | None, page_size: int) -> Iterator[Any]:
        """The rows of a query on ``entities``, a page at a time in key order (one type,
        or every type when ``type_`` is None; see :func:`entities_after`)."""
        positive("page_size", page_size)
        after: EntityKey | None = None
        while (query := entities_after(base, type_, after)) is not None:
            query = query.order_by(entities.c.type, entities.c.id).limit(page_size)
            rows = self._read(query, "list entities")
            yield from rows
            if len(rows) < page_size:
                return
            after = EntityKey(rows[-1]["type"], rows[-1]["id"])

    def count_records(self, folder: str | None) -> int:
        """How many sync records ``folder`` has."""
        if folder is None:
            return 0
        query = select(func.count()).select_from(sync_state)
        return int(self._scalar(query.where(sync_state.c.folder == folder), "count records"))

    def _upsert_records(self, conn: Connection, folder: str, records: list[SyncRecord]) -> None:
        """Insert or replace sync records by path, in one bulk upsert."""
        latest = {record.path: record for record in records}
        if not latest:
            return
        rows = [record_row(folder, record) for record in latest.values()]
        stmt = self._insert(sync_state)
        columns = (
            "type", "id", "size", "mtime_ns", "file_hash", "entity_hash", "ctime_ns", "inode"
        )  # fmt: skip
        stmt = stmt.on_conflict_do_update(
            index_elements=[sync_state.c.folder, sync_state.c.path],
            set_={name: stmt.excluded[name] for name in columns},
        )
        conn.execute(stmt, rows)

    def _drop_records(self, conn: Connection, folder: str, paths: list[str]) -> None:
        for batch in batches(list(dict.fromkeys(paths))):
            conn.execute(
                delete(sync_state).where(
                    sync_state.c.folder == folder, sync_state.c.path.in_(batch)
                )
            )

    def _record_keys(self, conn: Connection, folder: str, paths: list[str]) -> dict[str, Any]:
        """The entity key recorded at each of ``paths`` (within this write)."""
        keyed: dict[str, Any] = {}
        for batch in batches(list(dict.fromkeys(paths))):
            rows = conn.execute(
                select(sync_state).where(
                    sync_state.c.folder == folder, sync_state.c.path.in_(batch)
                )
            )
            keyed.update((row.path, EntityKey(row.type, row.id)) for row in rows)
        return keyed


def _folder_from_row(row: Any, tracked: int) -> FolderRecord:
    last_runs = {kind: row[f"last_{kind}"] for kind in RUN_KINDS if row[f"last_{kind}"]}
    return FolderRecord(
        id=row["id"],
        label=row["label"],
        host=row["host"],
        path=row["path"],
        created=row["created"].astimezone(UTC),
        last_runs=last_runs,
        tracked_files=tracked,
    )
