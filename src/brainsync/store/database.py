"""The plumbing every store shares: the engine, transactions, error translation, meta rows.

Subclasses (:mod:`.sqlite`, :mod:`.postgres`) only build the engine, name the dialect's
``INSERT`` (for ``ON CONFLICT`` upserts) and say which driver errors are worth retrying.
Every SQLAlchemy or driver error leaves this layer as a :class:`StoreError` (or a
:class:`TransientStoreError` for locks, serialization failures and lost connections).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from sqlalchemy import Connection, Engine, Select, Table, select
from sqlalchemy.engine import URL, Row, RowMapping, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from brainsync.errors import (
    DiskFullError,
    InvalidInputError,
    StoreError,
    TransientStoreError,
    disk_full,
)
from brainsync.store.migrations import upgrade
from brainsync.store.schema import (
    READ_INDEXES,
    SCHEMA_VERSION,
    SCHEMA_VERSION_KEY,
    STORE_ID_KEY,
    meta,
    metadata,
)

__all__ = ["BATCH_SIZE", "Database", "batches", "driver_text", "positive"]

#: Keys or paths per ``IN (...)`` query; keeps bound parameters well under every limit.
BATCH_SIZE = 500

_T = TypeVar("_T")
log = logging.getLogger(__name__)
if TYPE_CHECKING:
    # the PostgreSQL dialect costs ~45 ms to import: a SQLite brain never needs it
    from sqlalchemy.dialects import postgresql, sqlite

    Upsert = sqlite.Insert | postgresql.Insert


def batches(items: Sequence[_T], size: int = BATCH_SIZE) -> Iterator[Sequence[_T]]:
    """Split ``items`` into slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def positive(name: str, value: int) -> int:
    """Refuse a page size or limit below one (it would loop or return nothing)."""
    if value < 1:
        raise InvalidInputError(f"{name} must be at least 1, not {value}")
    return value


class Database:
    """A SQL database with brainsync's schema; a context manager that closes it.

    Opening creates the tables when missing, upgrades an older schema in place and
    refuses a database written by a newer schema version.
    """

    def __init__(self, url: str | URL) -> None:
        self._url = make_url(url)
        self._engine = self._create_engine(self._url)
        self._store_id = ""
        try:
            self._prepare_schema()
        except BaseException:
            self._engine.dispose()
            raise

    # -- what a backend provides -------------------------------------------------------

    def _create_engine(self, url: URL) -> Engine:
        """Build the configured engine for ``url``."""
        raise NotImplementedError

    def _insert(self, table: Table) -> Upsert:
        """The dialect's ``INSERT`` construct, which knows ``ON CONFLICT``."""
        raise NotImplementedError

    def _is_transient(self, exc: DBAPIError) -> bool:
        """Whether retrying the transaction that raised ``exc`` may succeed."""
        return bool(exc.connection_invalidated)

    def _lock_schema(self, conn: Connection) -> None:
        """Serialise concurrent schema creation (a no-op where the write lock does it)."""

    def _committed(self, rows: int) -> None:
        """Note that a committed write wrote about ``rows`` rows (for statistics)."""

    def _announce(self, conn: Connection) -> None:
        """Tell other processes, at commit, that entities changed (where the database can;
        watchers poll behind it, so a lost announcement loses nothing)."""

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The database URL with any password masked."""
        return self._url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """The SQL dialect name: ``"sqlite"`` or ``"postgresql"``."""
        return str(self._engine.dialect.name)

    @property
    def store_id(self) -> str:
        """A random id given to the store when it was created; folders remember it."""
        return self._store_id

    def close(self) -> None:
        """Close every pooled connection; the store cannot be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Self:
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
            if disk_full(exc, self._folder()):
                raise DiskFullError(self._disk_full(doing)) from exc
            kind = TransientStoreError if self._is_transient(exc) else StoreError
            text = driver_text(exc.orig)
            if text != str(exc.orig):
                _cut_row_values(exc, text)
            raise kind(f"could not {doing}: {text}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"could not {doing}: {exc}") from exc

    def _folder(self) -> str | None:
        """The folder of a SQLite file (None for a server)."""
        if self._url.get_backend_name() == "sqlite" and self._url.database:
            return str(Path(self._url.database).resolve().parent)
        return None

    def _disk_full(self, doing: str) -> str:
        """One line: which disk is full, and what was left undone."""
        undone = f"could not {doing} (nothing of it was stored)"
        if self._url.get_backend_name() == "sqlite" and self._url.database:
            file = Path(self._url.database).resolve()
            return (
                f"disk full: no space left in the state folder {file.parent} (entity store "
                f"{file.name}); {undone}. Free space there, then run the command again"
            )
        return (
            f"disk full on the database server of {self.url}; {undone}. "
            "Free space there, then run the command again"
        )

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

    def _read_rows(self, query: Select[Any], doing: str) -> Sequence[Row[Any]]:
        """:meth:`_read` as tuples: cheaper per row where a query returns one per file."""
        with self._translate(doing), self._engine.connect() as conn:
            return conn.execute(query).all()

    def _scalar(self, query: Select[Any], doing: str) -> Any:
        """Run one query and return the first column of its first row (or None)."""
        with self._translate(doing), self._engine.connect() as conn:
            return conn.execute(query).scalar()

    def _prepare_schema(self) -> None:
        """Create or upgrade the tables and check the schema version, in one transaction."""
        with self._translate("prepare the schema"), self._write() as conn:
            self._lock_schema(conn)
            found = _schema_version(conn)
            if found is not None and (not found.isdigit() or int(found) > SCHEMA_VERSION):
                raise StoreError(
                    f"database {self.url} has schema version {found!r}; this brainsync "
                    f"understands up to {SCHEMA_VERSION}: upgrade brainsync"
                )
            if found is not None and int(found) < SCHEMA_VERSION:
                upgrade(conn, int(found))
            metadata.create_all(conn)
            _add_read_indexes(conn)
            self._set(conn, SCHEMA_VERSION_KEY, str(SCHEMA_VERSION))
            store_id = _meta_value(conn, STORE_ID_KEY)
            if store_id is None:
                store_id = uuid.uuid4().hex
                self._set(conn, STORE_ID_KEY, store_id)
            self._store_id = store_id

    # -- settings kept in the database -------------------------------------------------

    def get_meta(self, name: str) -> str | None:
        """The value stored under ``name`` in ``brainsync_meta``, or None."""
        value = self._scalar(select(meta.c.value).where(meta.c.name == name), "read meta")
        return None if value is None else str(value)

    def set_meta(self, name: str, value: str) -> None:
        """Store ``value`` under ``name`` in ``brainsync_meta``, replacing any old one."""
        with self._translate("write meta"), self._write() as conn:
            self._set(conn, name, value)

    def _set(self, conn: Connection, name: str, value: str) -> None:
        stmt = self._insert(meta)
        stmt = stmt.on_conflict_do_update(
            index_elements=[meta.c.name], set_={"value": stmt.excluded.value}
        )
        conn.execute(stmt, {"name": name, "value": value})


def driver_text(orig: object) -> str:
    """A driver error's message without the lines that may quote row values.

    PostgreSQL's ``DETAIL`` can hold a whole failing row ("Failing row contains ..."), a
    note's text among it; SQLAlchemy's own text adds the statement's parameters, which is
    why every engine is made with ``hide_parameters`` and only the driver's text is shown.
    """
    kept: list[str] = []
    for line in str(orig).splitlines():
        if line.startswith(_ROW_LINES):
            break
        kept.append(line)
    return "\n".join(kept)


_ROW_LINES = ("DETAIL:", "CONTEXT:", "LINE ")


def _cut_row_values(exc: DBAPIError, text: str) -> None:
    """Cut the row-quoting lines out of a driver error and its wrapper, in place: they stay
    chained (a traceback shows where the error came from), without the note's text."""
    orig = exc.orig
    if isinstance(orig, BaseException):
        orig.args = (text,)
        exc.args = (f"({type(orig).__module__}.{type(orig).__name__}) {text}",)


def _add_read_indexes(conn: Connection) -> None:
    """Add the indexes that only speed reads to a store made before them.

    A role that may write the tables but does not own them (a shared PostgreSQL brain
    set up by an administrator) may not add an index; the store then works as before,
    reading a little slower, so the refusal is logged and the open goes on.
    """
    for index in READ_INDEXES:
        try:
            with conn.begin_nested():
                index.create(conn, checkfirst=True)
        except DBAPIError as exc:
            log.warning(
                "index %s not added (%s); reads work, slower", index.name, driver_text(exc.orig)
            )


def _meta_value(conn: Connection, name: str) -> str | None:
    value = conn.execute(select(meta.c.value).where(meta.c.name == name)).scalar()
    return None if value is None else str(value)


def _schema_version(conn: Connection) -> str | None:
    """The stored schema version; None for an empty database."""
    if not conn.dialect.has_table(conn, meta.name):
        return None
    return _meta_value(conn, SCHEMA_VERSION_KEY)
