"""The SQLite backend: a WAL-mode file, one writer at a time, readers never blocked."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from brainsync.errors import ConfigError, StoreError
from brainsync.store.base import Store

__all__ = ["SQLiteStore"]

# SQLITE_BUSY and SQLITE_LOCKED; extended codes (BUSY_SNAPSHOT, ...) share the low byte.
_BUSY_CODES = frozenset({5, 6})


class SQLiteStore(Store):
    """The store in a SQLite file (``sqlite:///path/to/brain.db``).

    ``busy_timeout_ms`` is how long a statement waits for another writer's lock before
    failing with a (retried) :class:`~brainsync.errors.TransientStoreError`.

    ``durable`` (the default) runs every connection at ``synchronous=FULL``: each commit
    syncs the write-ahead log, so a committed write survives a power cut (catalogue K2).
    ``durable=False`` is ``synchronous=NORMAL``, which SQLite documents as not durable
    across a power cut in WAL mode: the last commits may be lost (never a corruption).
    """

    def __init__(
        self, url: str | URL, *, busy_timeout_ms: int = 5000, durable: bool = True
    ) -> None:
        self._busy_timeout_ms = busy_timeout_ms
        self._synchronous = "FULL" if durable else "NORMAL"
        super().__init__(url)

    def _create_engine(self, url: URL) -> Engine:
        """An engine on the file, with pragmas set on every new connection."""
        database = url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            raise ConfigError(f"SQLite store needs a file path (sqlite:///path), got {url}")
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder of {database}: {exc}") from exc
        # parameters hold note text: never in an error message, log line or traceback
        engine = create_engine(url.set(drivername="sqlite+pysqlite"), hide_parameters=True)
        event.listen(engine, "connect", self._configure_connection)
        event.listen(engine, "begin", _begin)
        return engine

    def _configure_connection(self, dbapi_conn: sqlite3.Connection, record: Any) -> None:
        """Set the pragmas, and hand transaction control to SQLAlchemy's ``begin``."""
        # The driver's implicit BEGIN would defer the write lock to the first write,
        # where a busy database fails without waiting; we issue BEGIN ourselves instead.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute(f"PRAGMA synchronous = {self._synchronous}")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    def _insert(self, table: Table) -> sqlite.Insert:
        """SQLite's ``INSERT ... ON CONFLICT``."""
        return sqlite.insert(table)

    def _is_transient(self, exc: DBAPIError) -> bool:
        """Locked or busy database files are worth retrying."""
        orig = exc.orig
        code = getattr(orig, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in _BUSY_CODES:
            return True
        message = str(orig).lower()
        return "locked" in message or "busy" in message or super()._is_transient(exc)


def _begin(conn: Connection) -> None:
    """Open a transaction; writes take the write lock at once so busy_timeout applies."""
    write = conn.get_execution_options().get("brainsync_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class SqliteSignal:
    """``PRAGMA data_version`` on a connection of its own: it moves whenever another
    connection commits to the file, and reading it costs a few microseconds."""

    def __init__(self, path: str) -> None:
        try:
            self._conn = sqlite3.connect(path, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot watch the store {path}: {exc}") from exc
        self._last = self._version()

    def _version(self) -> int:
        row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def changed(self) -> bool:
        """True when another connection committed since the previous call."""
        version = self._version()
        moved, self._last = version != self._last, version
        return moved

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
