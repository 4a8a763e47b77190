"""The entity store: entities and sync state in SQLite or PostgreSQL.

Open one with :func:`open_store`; the URL picks the backend::

    with open_store("sqlite:///.brainsync/brain.db") as store:
        store.put(entity)
"""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from brainsync.errors import ConfigError
from brainsync.store.base import Store
from brainsync.store.postgres import PostgresStore
from brainsync.store.records import (
    ChangeSet,
    EntityChange,
    EntitySummary,
    FolderRecord,
    SyncedRow,
    SyncRecord,
)
from brainsync.store.schema import SCHEMA_VERSION
from brainsync.store.sqlite import SQLiteStore

__all__ = [
    "SCHEMA_VERSION",
    "ChangeSet",
    "EntityChange",
    "EntitySummary",
    "FolderRecord",
    "PostgresStore",
    "SQLiteStore",
    "Store",
    "SyncRecord",
    "SyncedRow",
    "open_store",
]

_SQLITE_DRIVERS = frozenset({"sqlite", "sqlite+pysqlite"})
_POSTGRES_DRIVERS = frozenset({"postgresql", "postgresql+psycopg", "postgres"})


def open_store(url: str, *, create_database: bool = True, durable: bool = True) -> Store:
    """Open the store at ``url``: ``sqlite:///path`` or ``postgresql://...``.

    A PostgreSQL database that does not exist is created (where the role may) unless
    ``create_database`` is False. ``durable=False`` lets a SQLite store trade power-cut
    durability for speed (see :class:`SQLiteStore`); PostgreSQL's durability is the
    server's ``synchronous_commit``, which brainsync never changes.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        # no echo of the text: a malformed URL may still carry a password
        raise ConfigError(
            "not a database URL (expected sqlite:///path or postgresql://user@host/db)"
        ) from exc
    if parsed.drivername in _SQLITE_DRIVERS:
        return SQLiteStore(parsed, durable=durable)
    if parsed.drivername in _POSTGRES_DRIVERS:
        return PostgresStore(parsed, create_database=create_database)
    raise ConfigError(
        f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}: "
        "use sqlite:///path or postgresql://user@host/db"
    )
