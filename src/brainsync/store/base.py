"""The entity store: one interface, its SQL written once for every dialect.

The layers, each in its own module: :class:`~.database.Database` (engine, transactions,
error translation, schema), :class:`~.state.SyncStateStore` (folders and their sync
records), :class:`~.history.HistoryStore` (earlier versions of entities) and
:class:`Store` here (entities, and :meth:`Store.apply`, which writes a chunk's entities,
their history and its records in one transaction).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Connection, Select, delete, func, select

from brainsync.entities import Entity, EntityKey
from brainsync.errors import InvalidInputError, TransientStoreError
from brainsync.store.database import BATCH_SIZE, batches, positive
from brainsync.store.history import HistoryStore, Latest
from brainsync.store.records import (
    ChangeSet,
    EntityChange,
    EntitySummary,
    entity_from_row,
    entity_row,
)
from brainsync.store.schema import entities, entities_after, key_in

if TYPE_CHECKING:
    from brainsync.store.database import Upsert

__all__ = ["BATCH_SIZE", "Store"]


class Store(HistoryStore):
    """Entities, folders and sync state in a SQL database; a context manager that closes it.

    Opening a store creates the tables when missing, upgrades an older schema and refuses
    a database written by a newer schema version. Writes go through :meth:`apply`, one
    transaction per change set.
    """

    #: Attempts :meth:`apply` makes when the database is locked or busy.
    retry_attempts: int = 3
    #: Seconds before the first retry; doubled for each further one.
    retry_delay: float = 0.05

    # -- entities: reads ---------------------------------------------------------------

    def get(self, key: EntityKey) -> Entity | None:
        """The entity with ``key``, or None."""
        return self.get_many([key]).get(key)

    def get_many(self, keys: Sequence[EntityKey]) -> dict[EntityKey, Entity]:
        """The entities among ``keys`` that exist (one query per 500 keys)."""
        found: dict[EntityKey, Entity] = {}
        for batch in batches(list(dict.fromkeys(keys))):
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
        query = query.order_by(entities.c.type, entities.c.id).limit(positive("limit", limit))
        return [entity_from_row(row) for row in self._read(query, "list entities")]

    def summaries_for(self, keys: Sequence[EntityKey]) -> dict[EntityKey, EntitySummary]:
        """The key and hash of the entities among ``keys`` that exist."""
        columns = (entities.c.type, entities.c.id, entities.c.content_hash)
        found: dict[EntityKey, EntitySummary] = {}
        for batch in batches(list(dict.fromkeys(keys))):
            query = select(*columns).where(key_in(entities, batch))
            for row in self._read(query, "read entity summaries"):
                key = EntityKey(row["type"], row["id"])
                found[key] = EntitySummary(key, row["content_hash"])
        return found

    def iter_summaries(
        self, types: Sequence[str] | None = None, page_size: int = 5000
    ) -> Iterator[EntitySummary]:
        """Every entity's key and hash in key order, paged by key."""
        positive("page_size", page_size)
        columns = (entities.c.type, entities.c.id, entities.c.content_hash)
        summaries: Select[Any] = select(*columns)
        # One keyset walk per type keeps every page an index seek (see entities_after).
        for type_ in [None] if types is None else sorted(set(types)):
            for row in self._rows_by_key(summaries, type_, page_size):
                key = EntityKey(row["type"], row["id"])
                yield EntitySummary(key, row["content_hash"])

    def count(self) -> int:
        """How many entities there are."""
        return int(self._scalar(select(func.count()).select_from(entities), "count entities"))

    def count_by_type(self) -> dict[str, int]:
        """How many entities of each type there are (types with none are absent)."""
        query = select(entities.c.type, func.count().label("n")).group_by(entities.c.type)
        return {row["type"]: int(row["n"]) for row in self._read(query, "count entities")}

    # -- entities: writes --------------------------------------------------------------

    def put(self, entity: Entity, writer: str | None = None) -> EntityChange | None:
        """Insert or update one entity; None when the stored one has the same hash."""
        changes = self.apply(ChangeSet(upserts=[entity], writer=writer))
        return changes[0] if changes else None

    def delete(self, key: EntityKey, writer: str | None = None) -> bool:
        """Delete one entity; False when it did not exist."""
        return bool(self.apply(ChangeSet(deletes=[key], writer=writer)))

    def apply(self, changes: ChangeSet) -> list[EntityChange]:
        """Apply a change set in one transaction; return the entity changes that happened.

        An upsert whose hash equals the stored one changes nothing and is not returned; a
        delete of a missing key is not an error. A locked or busy database is retried
        (``retry_attempts`` in all) before :class:`TransientStoreError` is raised.
        """
        if not changes:
            return []
        if (changes.records or changes.drop_records) and changes.folder is None:
            raise InvalidInputError("a change set with sync records must name its folder")
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
        if changes.folder is not None and (changes.records or changes.drop_records):
            self._lock_folder(conn, changes.folder)
        keys = [*changes.expected, *(e.key for e in changes.upserts), *changes.deletes]
        stored = self._stored(conn, keys)
        changes.stale = {
            key for key, seen in changes.expected.items() if _hash_of(stored.get(key)) != seen
        }
        if changes.stale:
            changes = self._without_stale(conn, changes)
        lives = {key: row.life for key, row in stored.items()}
        done = self._upsert_entities(conn, changes.upserts, stored, lives)
        present = set(stored) | {change.key for change in done}  # a key in both ends deleted
        done += self._delete_entities(conn, changes.deletes, present)
        versions = {key: row.version for key, row in stored.items()}
        versions.update((c.key, c.entity.version) for c in done if c.entity is not None)
        self._record_history(conn, done, versions, lives, changes.writer)
        if changes.folder is not None:
            self._upsert_records(conn, changes.folder, changes.records)
            self._drop_records(conn, changes.folder, changes.drop_records)
        if done:
            self._announce(conn)
        return done

    def _stored(self, conn: Connection, keys: list[EntityKey]) -> dict[EntityKey, _Stored]:
        """The stored hash, version and creation time of ``keys``, locked for this write.

        One query per batch serves the staleness check, the upserts and the deletes.
        """
        found: dict[EntityKey, _Stored] = {}
        columns = (
            entities.c.type, entities.c.id, entities.c.content_hash,
            entities.c.version, entities.c.created, entities.c.life,
        )  # fmt: skip
        for batch in batches(list(dict.fromkeys(keys))):
            query = select(*columns).where(key_in(entities, batch)).with_for_update()
            found.update(
                (EntityKey(r.type, r.id), _Stored(r.content_hash, r.version, r.created, r.life))
                for r in conn.execute(query)
            )
        return found

    def _without_stale(self, conn: Connection, changes: ChangeSet) -> ChangeSet:
        """The change set less everything that concerns a stale key."""
        stale = changes.stale
        keyed = {}
        if changes.folder is not None:
            keyed = self._record_keys(conn, changes.folder, changes.drop_records)
        dropped = [path for path in changes.drop_records if keyed.get(path) not in stale]
        return ChangeSet(
            folder=changes.folder,
            upserts=[e for e in changes.upserts if e.key not in stale],
            deletes=[k for k in changes.deletes if k not in stale],
            records=[r for r in changes.records if r.key not in stale],
            drop_records=dropped,
            stale=stale,
            writer=changes.writer,
        )

    def _upsert_entities(
        self,
        conn: Connection,
        upserts: list[Entity],
        stored: dict[EntityKey, _Stored],
        lives: dict[EntityKey, int],
    ) -> list[EntityChange]:
        """Write the entities whose hash changed, in one bulk upsert; one created again
        after a delete goes on from its last version, in a new life (added to ``lives``)."""
        unique = {entity.key: entity for entity in upserts}
        deleted = self._deleted(conn, [key for key in unique if key not in stored])
        done: list[EntityChange] = []
        for entity in unique.values():
            old = stored.get(entity.key)
            if old is None:
                last = deleted.get(entity.key, Latest(0, 0))
                lives[entity.key] = last.life + 1
                first = last.version + 1
                new = entity if entity.version == first else replace(entity, version=first)
                done.append(EntityChange("created", entity.key, new))
            elif old.content_hash != entity.content_hash:
                new = replace(entity, version=old.version + 1, created=old.created)
                done.append(EntityChange("updated", entity.key, new))
        rows = [
            {**entity_row(change.entity), "life": lives[change.key]}
            for change in done
            if change.entity is not None
        ]
        if rows:
            conn.execute(self._entity_upsert(), rows)
        return done

    def _entity_upsert(self) -> Upsert:
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
        for batch in batches(found):
            conn.execute(delete(entities).where(key_in(entities, batch)))
        return [EntityChange("deleted", key, None) for key in found]


class _Stored(NamedTuple):
    """What a write needs to know of a stored entity."""

    content_hash: str
    version: int
    created: datetime
    life: int


def _hash_of(row: _Stored | None) -> str | None:
    return None if row is None else row.content_hash
