"""The entity store: one interface, its SQL written once for every dialect.

Subclasses (:mod:`.sqlite`, :mod:`.postgres`) only build the engine, name the dialect's
``INSERT`` (for ``ON CONFLICT`` upserts) and say which driver errors are worth retrying.
Every SQLAlchemy or driver error leaves this module as a :class:`StoreError` (or a
:class:`TransientStoreError` for locks, serialization failures and lost connections).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    Table,
    delete,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, RowMapping, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from brainsync.entities import Entity, EntityKey
from brainsync.errors import InvalidInputError, StoreError, TransientStoreError
from brainsync.store.records import (
    ChangeSet,
    EntityChange,
    EntitySummary,
    SyncRecord,
    entity_from_row,
    entity_row,
    record_from_row,
    record_row,
)
from brainsync.store.schema import (
    SCHEMA_VERSION,
    SCHEMA_VERSION_KEY,
    entities,
    entities_after,
    key_in,
    meta,
    metadata,
    sync_state,
)

__all__ = ["BATCH_SIZE", "Store"]

#: Keys or paths per ``IN (...)`` query; keeps bound parameters well under every limit.
BATCH_SIZE = 500

_T = TypeVar("_T")
_Upsert = sqlite.Insert | postgresql.Insert


def _batches(items: Sequence[_T], size: int = BATCH_SIZE) -> Iterator[Sequence[_T]]:
    """Split ``items`` into slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _positive(name: str, value: int) -> int:
    """Refuse a page size or limit below one (it would loop or return nothing)."""
    if value < 1:
        raise InvalidInputError(f"{name} must be at least 1, not {value}")
    return value


class Store:
    """Entities and sync state in a SQL database; a context manager that closes it.

    Opening a store creates the tables when missing and refuses a database written by a
    newer schema version. Writes go through :meth:`apply`, one transaction per change set.
    """

    #: Attempts :meth:`apply` makes when the database is locked or busy.
    retry_attempts: int = 3
    #: Seconds before the first retry; doubled for each further one.
    retry_delay: float = 0.05

    def __init__(self, url: str | URL) -> None:
        self._url = make_url(url)
        self._engine = self._create_engine(self._url)
        try:
            self._prepare_schema()
        except BaseException:
            self._engine.dispose()
            raise

    # -- what a backend provides -------------------------------------------------------

    def _create_engine(self, url: URL) -> Engine:
        """Build the configured engine for ``url``."""
        raise NotImplementedError

    def _insert(self, table: Table) -> _Upsert:
        """The dialect's ``INSERT`` construct, which knows ``ON CONFLICT``."""
        raise NotImplementedError

    def _is_transient(self, exc: DBAPIError) -> bool:
        """Whether retrying the transaction that raised ``exc`` may succeed."""
        return bool(exc.connection_invalidated)

    def _lock_schema(self, conn: Connection) -> None:
        """Serialise concurrent schema creation (a no-op where the write lock does it)."""

    def _committed(self, rows: int) -> None:
        """Note that a committed :meth:`apply` wrote about ``rows`` rows (for statistics)."""

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The database URL with any password masked."""
        return self._url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """The SQL dialect name: ``"sqlite"`` or ``"postgresql"``."""
        return str(self._engine.dialect.name)

    def close(self) -> None:
        """Close every pooled connection; the store cannot be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    # -- plumbing ----------------------------------------------------------------------

    @contextmanager
    def _translate(self, doing: str) -> Iterator[None]:
        """Re-raise database errors as store errors, saying what was being done."""
        try:
            yield
        except DBAPIError as exc:
            kind = TransientStoreError if self._is_transient(exc) else StoreError
            raise kind(f"could not {doing}: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"could not {doing}: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A connection inside a write transaction, committed on success."""
        with self._engine.connect() as conn:
            # SQLite reads this option to take the write lock up front (BEGIN IMMEDIATE).
            conn.execution_options(brainsync_write=True)
            with conn.begin():
                yield conn

    def _read(self, query: Select[Any], doing: str) -> list[RowMapping]:
        """Run one query on a pooled connection and return all its rows."""
        with self._translate(doing), self._engine.connect() as conn:
            return list(conn.execute(query).mappings().all())

    def _scalar(self, query: Select[Any], doing: str) -> Any:
        """Run one query and return the first column of its first row (or None)."""
        with self._translate(doing), self._engine.connect() as conn:
            return conn.execute(query).scalar()

    def _prepare_schema(self) -> None:
        """Create missing tables and check the schema version, in one transaction."""
        with self._translate("prepare the schema"), self._write() as conn:
            self._lock_schema(conn)
            metadata.create_all(conn)
            query = select(meta.c.value).where(meta.c.name == SCHEMA_VERSION_KEY)
            found = conn.execute(query).scalar()
            if found is None:
                conn.execute(
                    meta.insert(), {"name": SCHEMA_VERSION_KEY, "value": str(SCHEMA_VERSION)}
                )
            elif not found.isdigit() or int(found) > SCHEMA_VERSION:
                raise StoreError(
                    f"database {self.url} has schema version {found!r}; this brainsync "
                    f"understands up to {SCHEMA_VERSION}: upgrade brainsync"
                )

    # -- entities: reads ---------------------------------------------------------------

    def get(self, key: EntityKey) -> Entity | None:
        """The entity with ``key``, or None."""
        return self.get_many([key]).get(key)

    def get_many(self, keys: Sequence[EntityKey]) -> dict[EntityKey, Entity]:
        """The entities among ``keys`` that exist (one query per 500 keys)."""
        found: dict[EntityKey, Entity] = {}
        for batch in _batches(list(dict.fromkeys(keys))):
            rows = self._read(select(entities).where(key_in(entities, batch)), "read entities")
            found.update((entity.key, entity) for entity in map(entity_from_row, rows))
        return found

    def list_entities(
        self, type: str | None = None, after: EntityKey | None = None, limit: int = 500
    ) -> list[Entity]:
        """One page of entities in key order, starting after ``after`` (keyset paging)."""
        query = entities_after(select(entities), type, after)
        if query is None:
            return []
        query = query.order_by(entities.c.type, entities.c.id).limit(_positive("limit", limit))
        return [entity_from_row(row) for row in self._read(query, "list entities")]

    def iter_summaries(
        self, types: Sequence[str] | None = None, page_size: int = 5000
    ) -> Iterator[EntitySummary]:
        """Every entity's key, hash and update time in key order, paged by key."""
        _positive("page_size", page_size)
        columns = (entities.c.type, entities.c.id, entities.c.content_hash, entities.c.updated)
        summaries: Select[Any] = select(*columns)
        # One keyset walk per type keeps every page an index seek (see entities_after).
        for type_ in [None] if types is None else sorted(set(types)):
            after: EntityKey | None = None
            while (query := entities_after(summaries, type_, after)) is not None:
                query = query.order_by(entities.c.type, entities.c.id).limit(page_size)
                rows = self._read(query, "list entity summaries")
                for row in rows:
                    key = EntityKey(row["type"], row["id"])
                    yield EntitySummary(key, row["content_hash"], row["updated"])
                if len(rows) < page_size:
                    break
                after = EntityKey(rows[-1]["type"], rows[-1]["id"])

    def count(self) -> int:
        """How many entities there are."""
        return int(self._scalar(select(func.count()).select_from(entities), "count entities"))

    def count_by_type(self) -> dict[str, int]:
        """How many entities of each type there are (types with none are absent)."""
        query = select(entities.c.type, func.count().label("n")).group_by(entities.c.type)
        return {row["type"]: int(row["n"]) for row in self._read(query, "count entities")}

    # -- entities: writes --------------------------------------------------------------

    def put(self, entity: Entity) -> EntityChange | None:
        """Insert or update one entity; None when the stored one has the same hash."""
        changes = self.apply(ChangeSet(upserts=[entity]))
        return changes[0] if changes else None

    def delete(self, key: EntityKey) -> bool:
        """Delete one entity; False when it did not exist."""
        return bool(self.apply(ChangeSet(deletes=[key])))

    def apply(self, changes: ChangeSet) -> list[EntityChange]:
        """Apply a change set in one transaction; return the entity changes that happened.

        An upsert whose hash equals the stored one changes nothing and is not returned; a
        delete of a missing key is not an error. A locked or busy database is retried
        (``retry_attempts`` in all) before :class:`TransientStoreError` is raised.
        """
        if not changes:
            return []
        for attempt in range(1, self.retry_attempts + 1):
            try:
                with self._translate("apply changes"), self._write() as conn:
                    done = self._apply(conn, changes)
                self._committed(len(changes.upserts) + len(changes.records))
                return done
            except TransientStoreError:
                if attempt >= self.retry_attempts:
                    raise
                time.sleep(self.retry_delay * 2 ** (attempt - 1))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _apply(self, conn: Connection, changes: ChangeSet) -> list[EntityChange]:
        """The body of :meth:`apply`, inside its transaction."""
        keys = [*changes.expected, *(e.key for e in changes.upserts), *changes.deletes]
        stored = self._stored(conn, keys)
        changes.stale = {
            key for key, seen in changes.expected.items() if _hash_of(stored.get(key)) != seen
        }
        if changes.stale:
            changes = self._without_stale(conn, changes)
        done = self._upsert_entities(conn, changes.upserts, stored)
        present = set(stored) | {change.key for change in done}  # a key in both ends deleted
        done += self._delete_entities(conn, changes.deletes, present)
        self._upsert_records(conn, changes.records)
        for batch in _batches(list(dict.fromkeys(changes.drop_records))):
            conn.execute(delete(sync_state).where(sync_state.c.path.in_(batch)))
        return done

    def _stored(self, conn: Connection, keys: list[EntityKey]) -> dict[EntityKey, _Stored]:
        """The stored hash, version and creation time of ``keys``, locked for this write.

        One query per batch serves the staleness check, the upserts and the deletes.
        """
        found: dict[EntityKey, _Stored] = {}
        columns = (
            entities.c.type, entities.c.id, entities.c.content_hash,
            entities.c.version, entities.c.created,
        )  # fmt: skip
        for batch in _batches(list(dict.fromkeys(keys))):
            query = select(*columns).where(key_in(entities, batch)).with_for_update()
            found.update(
                (EntityKey(r.type, r.id), _Stored(r.content_hash, r.version, r.created))
                for r in conn.execute(query)
            )
        return found

    def _without_stale(self, conn: Connection, changes: ChangeSet) -> ChangeSet:
        """The change set less everything that concerns a stale key."""
        stale = changes.stale
        dropped: list[str] = []
        for batch in _batches(list(dict.fromkeys(changes.drop_records))):
            rows = conn.execute(select(sync_state).where(sync_state.c.path.in_(batch)))
            keyed = {row.path: EntityKey(row.type, row.id) for row in rows}
            dropped += [path for path in batch if keyed.get(path) not in stale]
        return ChangeSet(
            upserts=[e for e in changes.upserts if e.key not in stale],
            deletes=[k for k in changes.deletes if k not in stale],
            records=[r for r in changes.records if r.key not in stale],
            drop_records=dropped,
            stale=stale,
        )

    def _upsert_entities(
        self, conn: Connection, upserts: list[Entity], stored: dict[EntityKey, _Stored]
    ) -> list[EntityChange]:
        """Write the entities whose hash changed, in one bulk upsert."""
        done: list[EntityChange] = []
        for entity in {entity.key: entity for entity in upserts}.values():
            old = stored.get(entity.key)
            if old is None:
                new = entity if entity.version == 1 else replace(entity, version=1)
                done.append(EntityChange("created", entity.key, new))
            elif old.content_hash != entity.content_hash:
                new = replace(entity, version=old.version + 1, created=old.created)
                done.append(EntityChange("updated", entity.key, new))
        rows = [entity_row(change.entity) for change in done if change.entity is not None]
        if rows:
            conn.execute(self._entity_upsert(), rows)
        return done

    def _entity_upsert(self) -> _Upsert:
        """Upsert of one entity row that keeps ``created`` and bumps ``version``."""
        stmt = self._insert(entities)
        new = stmt.excluded
        columns = ("document", "content", "metadata", "content_hash", "updated")
        return stmt.on_conflict_do_update(
            index_elements=[entities.c.type, entities.c.id],
            set_={**{name: new[name] for name in columns}, "version": entities.c.version + 1},
            # Guards R4 even against a writer that slipped in after our SELECT.
            where=entities.c.content_hash != new.content_hash,
        )

    def _delete_entities(
        self, conn: Connection, keys: list[EntityKey], present: set[EntityKey]
    ) -> list[EntityChange]:
        """Delete the entities among ``keys`` that exist."""
        found = [key for key in dict.fromkeys(keys) if key in present]
        for batch in _batches(found):
            conn.execute(delete(entities).where(key_in(entities, batch)))
        return [EntityChange("deleted", key, None) for key in found]

    def _upsert_records(self, conn: Connection, records: list[SyncRecord]) -> None:
        """Insert or replace sync records by path, in one bulk upsert."""
        latest = {record.path: record for record in records}
        if not latest:
            return
        rows = [record_row(record) for record in latest.values()]
        stmt = self._insert(sync_state)
        columns = ("type", "id", "size", "mtime_ns", "file_hash", "entity_hash")
        stmt = stmt.on_conflict_do_update(
            index_elements=[sync_state.c.path],
            set_={name: stmt.excluded[name] for name in columns},
        )
        conn.execute(stmt, rows)

    # -- sync records ------------------------------------------------------------------

    def get_records(self, paths: Sequence[str]) -> dict[str, SyncRecord]:
        """The sync records of those ``paths`` that have one."""
        found: dict[str, SyncRecord] = {}
        for batch in _batches(list(dict.fromkeys(paths))):
            query = select(sync_state).where(sync_state.c.path.in_(batch))
            for row in self._read(query, "read records"):
                found[row["path"]] = record_from_row(row)
        return found

    def records_for_keys(self, keys: Sequence[EntityKey]) -> dict[EntityKey, SyncRecord]:
        """The sync record of each of ``keys`` that has one (the first path if several)."""
        found: dict[EntityKey, SyncRecord] = {}
        for batch in _batches(list(dict.fromkeys(keys))):
            query = select(sync_state).where(key_in(sync_state, batch))
            for row in self._read(query.order_by(sync_state.c.path), "read records"):
                record = record_from_row(row)
                found.setdefault(record.key, record)
        return found

    def iter_records(self, page_size: int = 5000) -> Iterator[SyncRecord]:
        """Every sync record in path order, paged by path."""
        base = select(sync_state).order_by(sync_state.c.path)
        base = base.limit(_positive("page_size", page_size))
        query = base
        while True:
            rows = self._read(query, "list records")
            yield from map(record_from_row, rows)
            if len(rows) < page_size:
                return
            query = base.where(sync_state.c.path > rows[-1]["path"])

    def count_records(self) -> int:
        """How many sync records there are."""
        query = select(func.count()).select_from(sync_state)
        return int(self._scalar(query, "count records"))

    # -- settings kept in the database -------------------------------------------------

    def get_meta(self, name: str) -> str | None:
        """The value stored under ``name`` in ``brainsync_meta``, or None."""
        value = self._scalar(select(meta.c.value).where(meta.c.name == name), "read meta")
        return None if value is None else str(value)

    def set_meta(self, name: str, value: str) -> None:
        """Store ``value`` under ``name`` in ``brainsync_meta``, replacing any old one."""
        stmt = self._insert(meta)
        stmt = stmt.on_conflict_do_update(
            index_elements=[meta.c.name], set_={"value": stmt.excluded.value}
        )
        with self._translate("write meta"), self._write() as conn:
            conn.execute(stmt, {"name": name, "value": value})


class _Stored(NamedTuple):
    """What a write needs to know of a stored entity."""

    content_hash: str
    version: int
    created: datetime


def _hash_of(row: _Stored | None) -> str | None:
    return None if row is None else row.content_hash
