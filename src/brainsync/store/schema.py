"""The tables of the entity store, written once for SQLite and PostgreSQL.

Two column types smooth over the dialects:

- :class:`UTCDateTime` stores timezone-aware UTC datetimes: ``timestamptz`` on PostgreSQL,
  fixed-width ISO-8601 text on SQLite (which has no datetime type), and always hands back
  an aware UTC :class:`~datetime.datetime`.
- :data:`KeyText` is text compared bytewise (``COLLATE "C"`` on PostgreSQL, SQLite's
  default), so keyset pagination orders keys the same way on both backends and the same
  way Python sorts :class:`~brainsync.entities.EntityKey`.

It also holds the two key conditions every query uses (:func:`key_in`, :func:`entities_after`),
shaped so that both databases answer them with index seeks.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Dialect,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    and_,
    event,
    false,
    or_,
    text,
    tuple_,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

from brainsync.entities import EntityKey

__all__ = [
    "SCHEMA_VERSION",
    "SCHEMA_VERSION_KEY",
    "STORE_ID_KEY",
    "KeyText",
    "UTCDateTime",
    "entities",
    "entities_after",
    "entity_versions",
    "folders",
    "key_in",
    "meta",
    "metadata",
    "sync_state",
]

#: The schema version this code writes; a database with a newer one is refused, an older
#: one is upgraded in place on open (:mod:`brainsync.store.migrations`).
SCHEMA_VERSION = 5
#: The ``brainsync_meta`` row that holds the schema version.
SCHEMA_VERSION_KEY = "schema_version"
#: The ``brainsync_meta`` row that names this store (folders remember it locally).
STORE_ID_KEY = "store_id"


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime that always comes back as aware UTC."""

    impl = String(32)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Use ``timestamptz`` where the database has one, ISO text elsewhere."""
        if dialect.name == "postgresql":
            from sqlalchemy.dialects import postgresql  # not imported for SQLite

            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(String(32))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """Normalise to UTC; naive datetimes are refused rather than guessed."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store needs timezone-aware values")
        value = value.astimezone(UTC)
        if dialect.name == "postgresql":
            return value
        # Fixed width (always microseconds, always +00:00) keeps text order == time order.
        return value.isoformat(timespec="microseconds")

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Turn what the driver returns back into an aware UTC datetime."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.astimezone(UTC)


#: Text compared bytewise on every backend (see the module docstring).
KeyText: TypeEngine[str] = Text().with_variant(Text(collation="C"), "postgresql")

metadata = MetaData()

entities = Table(
    "entities",
    metadata,
    Column("type", KeyText, primary_key=True),
    Column("id", KeyText, primary_key=True),
    Column("document", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    #: Which life of the key this is (schema 4; see ``entity_versions``).
    Column("life", Integer, nullable=False, server_default=text("1")),
)
#: Every entity's key and hash, so that a plan compares 100k sync records with their
#: entities from this index alone (:mod:`brainsync.store.state`).
ENTITY_HASHES = Index(
    "ix_entities_key_hash", entities.c.type, entities.c.id, entities.c.content_hash
)
#: Indexes that only make reads faster, added to a store made before them at its next
#: open without a new schema version: a brainsync that predates one ignores it.
READ_INDEXES = (ENTITY_HASHES,)

#: Earlier versions of every entity (schema 3), newest last by ``seq``. A delete leaves a
#: tombstone (no document). Versions never repeat for a key: an entity created again after
#: a delete goes on from the deleted version, in a new ``life`` (schema 4; 1 for the first
#: one). Bounded by the retention settings.
entity_versions = Table(
    "entity_versions",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("type", KeyText, nullable=False),
    Column("id", KeyText, nullable=False),
    Column("version", Integer, nullable=False),
    Column("document", Text, nullable=True),
    Column("content_hash", Text, nullable=True),
    Column("updated", UTCDateTime, nullable=False),
    Column("recorded", UTCDateTime, nullable=False),
    #: What wrote it: ``sync:<folder id>``, ``api``, ``mcp``, ``revert``, ``upgrade``.
    Column("writer", Text, nullable=True),
    #: Which life of the key: 1, then one more at each creation after a delete.
    Column("life", Integer, nullable=False, server_default=text("1")),
    Index("ix_entity_versions_key", "type", "id", "seq"),
)

#: The tombstones alone: where an entity created again finds its last version and life
#: (a first import of new entities looks here at no cost). Plain DDL, the same on both
#: backends: an ``Index`` with ``postgresql_where`` would import the PostgreSQL dialect on
#: every SQLite open (about 45 ms on each quick command).
TOMBSTONE_INDEX = text(
    "CREATE INDEX IF NOT EXISTS ix_entity_versions_deleted "
    "ON entity_versions (type, id) WHERE document IS NULL"
)


@event.listens_for(entity_versions, "after_create")
def _create_tombstone_index(target: Table, connection: Connection, **kw: Any) -> None:
    connection.execute(TOMBSTONE_INDEX)


#: One row per folder (a directory on one host) that the store keeps in sync.
folders = Table(
    "folders",
    metadata,
    Column("id", KeyText, primary_key=True),
    Column("label", Text, nullable=False),
    Column("host", Text, nullable=False),
    #: The absolute path on ``host``; empty for the unclaimed state of a schema-1 store.
    Column("path", Text, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("last_export", UTCDateTime, nullable=True),
    Column("last_import", UTCDateTime, nullable=True),
    Column("last_sync", UTCDateTime, nullable=True),
)

#: The sync state: what the last successful run of each folder saw at each of its paths.
sync_state = Table(
    "sync_state",
    metadata,
    Column("folder", KeyText, primary_key=True),
    Column("path", KeyText, primary_key=True),
    Column("type", KeyText, nullable=False),
    Column("id", KeyText, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("file_hash", Text, nullable=False),
    Column("entity_hash", Text, nullable=False),
    #: Schema 5: the file's ctime and inode beside size and mtime (0: not known).
    Column("ctime_ns", BigInteger, nullable=False, server_default="0"),
    Column("inode", BigInteger, nullable=False, server_default="0"),
    Index("ix_sync_state_folder_key", "folder", "type", "id"),
)

meta = Table(
    "brainsync_meta",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)


def key_in(table: Table, keys: Iterable[EntityKey]) -> ColumnElement[bool]:
    """``(type = t AND id IN (...)) OR ...``: one index search per key on both dialects."""
    # Not a row-value IN: SQLite runs ``(type, id) IN (VALUES ...)`` as a full scan.
    ids: dict[str, list[str]] = {}
    for key in keys:
        ids.setdefault(key.type, []).append(key.id)
    if not ids:
        return false()
    return or_(*(and_(table.c.type == t, table.c.id.in_(group)) for t, group in ids.items()))


def entities_after(
    query: Select[Any], type_: str | None, after: EntityKey | None
) -> Select[Any] | None:
    """Restrict an entities query to one type and to keys after ``after``.

    None when no key can follow. Within one type the bound is ``id > :id``, because
    SQLite does not seek on ``(type, id) > (...)`` once ``type = :t`` is also given.
    """
    if type_ is None:
        if after is None:
            return query
        return query.where(tuple_(entities.c.type, entities.c.id) > (after.type, after.id))
    query = query.where(entities.c.type == type_)
    if after is None or after.type < type_:
        return query
    return None if after.type > type_ else query.where(entities.c.id > after.id)
