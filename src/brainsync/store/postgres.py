"""The PostgreSQL backend (psycopg 3), for several hosts sharing one database."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, Table, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from brainsync.errors import ConfigError, StoreError
from brainsync.store.base import Store
from brainsync.store.pg_setup import connect_failure, create_database

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql

__all__ = ["ENTITY_CHANNEL", "PostgresStore"]

# Serialization failure, deadlock, lock not available, and the server shutting down.
_TRANSIENT_STATES = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03"})
#: The channel told after every commit that changed entities (watchers ``LISTEN`` on it).
ENTITY_CHANNEL = "brainsync_entities"
# An arbitrary constant naming the advisory lock taken while creating the schema.
_SCHEMA_LOCK = 0x6272_6E73_796E_63  # "brnsync"
# Rows written before the first ANALYZE; each later one waits until the count doubles.
_ANALYZE_AFTER = 2000


class PostgresStore(Store):
    """The store in a PostgreSQL database (``postgresql://user@host/db``).

    A database that does not exist is created (where the role may), unless
    ``create_database`` is False: then opening fails as the driver said.
    """

    def __init__(self, url: str | URL, *, create_database: bool = True) -> None:
        self._create_database = create_database
        self._written = 0
        self._analyze_at = _ANALYZE_AFTER
        super().__init__(url)

    def _create_engine(self, url: URL) -> Engine:
        """A pooled psycopg 3 engine that checks connections before use."""
        try:
            # a server cut off by the network fails a connect in 10 s, not the system's
            # two minutes (a URL's own ?connect_timeout= wins)
            connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": 10}
            return create_engine(
                url.set(drivername="postgresql+psycopg"),
                pool_pre_ping=True,
                connect_args=connect_args,
                # parameters hold note text: never in an error message, log or traceback
                hide_parameters=True,
            )
        except ImportError as exc:
            raise ConfigError(
                "PostgreSQL needs psycopg 3: pip install 'brainsync[postgres]'"
            ) from exc

    def _prepare_schema(self) -> None:
        """Create the database first when it does not exist yet (and the role may)."""
        try:
            super()._prepare_schema()
        except StoreError as exc:
            failure = connect_failure(exc)
            if failure is None or (failure.missing_database and not self._create_database):
                raise
            if not failure.missing_database:
                # the same class: a job step retries a transient one (a server restarting)
                raise type(exc)(failure.message("store", self._url)) from exc
            create_database(self._url)
            super()._prepare_schema()

    def _insert(self, table: Table) -> postgresql.Insert:
        """PostgreSQL's ``INSERT ... ON CONFLICT``."""
        from sqlalchemy.dialects import postgresql  # imported only where PostgreSQL is used

        return postgresql.insert(table)

    def _is_transient(self, exc: DBAPIError) -> bool:
        """Serialization failures, deadlocks and lost connections are worth retrying."""
        state = getattr(exc.orig, "sqlstate", None)
        if state is None:
            # psycopg raises OperationalError without a SQLSTATE when it cannot connect.
            return exc.__class__.__name__ == "OperationalError" or super()._is_transient(exc)
        return state in _TRANSIENT_STATES or state.startswith("08") or super()._is_transient(exc)

    def _lock_schema(self, conn: Connection) -> None:
        """Serialise hosts that create the schema at the same time."""
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})

    def _announce(self, conn: Connection) -> None:
        """``NOTIFY`` the watchers' channel; PostgreSQL delivers it when the write commits."""
        conn.execute(text(f"NOTIFY {ENTITY_CHANNEL}"))

    def _committed(self, rows: int) -> None:
        """Refresh planner statistics while a bulk import grows the tables.

        Autovacuum analyzes a table only after a minute or so; until then the planner
        takes ``type = :t`` for a rare value and answers every key lookup by reading all
        rows of the type, which makes a fresh import quadratic. Doubling the threshold
        keeps the ANALYZE runs logarithmic in the rows written.
        """
        self._written += rows
        if self._written < self._analyze_at:
            return
        self._analyze_at = 2 * self._written
        try:
            with self._engine.connect() as conn:
                conn.execute(text("ANALYZE entities, sync_state"))
                conn.commit()
        except SQLAlchemyError:
            pass  # only an optimisation, the changes are committed; autovacuum catches up
