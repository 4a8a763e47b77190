"""Noticing that the store changed, from this process or any other, and what changed.

A signal is only a cheap "something may have changed": SQLite's ``PRAGMA data_version``
(it moves whenever another connection commits to the file), PostgreSQL's ``LISTEN`` on
:data:`CHANNEL` drained at every poll plus a fingerprint of the entities table, polled, so
that a notification nobody sent or one that got lost costs at most one poll interval.
What changed is then read from the store itself: the entity history's sequence is a feed
of every write, so a look reads only the entities written since the last one and compares
their hashes with the folder's sync records (:func:`paths_of_keys`), the same comparison a
sync makes, so the watcher's own writes (which update both) never look like a change.
:func:`changed_paths` compares every entity, when a look finds too many writes to read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from sqlalchemy.engine import make_url

from brainsync.entities import EntityKey
from brainsync.errors import BrainsyncError, StoreError
from brainsync.store import Store, SyncRecord
from brainsync.store.postgres import ENTITY_CHANNEL
from brainsync.store.sqlite import SqliteSignal
from brainsync.sync.paths import PathMapper

__all__ = [
    "CHANNEL",
    "StoreSignal",
    "StoreWatch",
    "changed_paths",
    "open_signal",
    "paths_of_keys",
]

CRASH = "the store watcher failed on an unexpected error ({error}); looking again"
log = logging.getLogger(__name__)

#: The PostgreSQL channel every commit that changed entities notifies (the store's).
CHANNEL = ENTITY_CHANNEL
#: Every entity write adds a history row (deletes a tombstone): its newest sequence number
#: moves with any change, and reading it is one index lookup at any size.
_FINGERPRINT = "SELECT max(seq) FROM entity_versions"
#: History rows read per look; more than this at once (a bulk import elsewhere) and the
#: whole comparison is cheaper than reading them.
_FEED_LIMIT = 20_000
#: PostgreSQL hands out sequence numbers before commit, so a transaction that commits
#: after a later one shows a number below one already read: look back this far.
_PG_LOOKBACK = 1_000


class StoreSignal(Protocol):
    """A cheap check for "the store may have changed since the last call"."""

    def changed(self) -> bool:
        """True when something may have changed since the previous call."""

    def close(self) -> None:
        """Release the signal's own connection."""


class PostgresSignal:
    """``LISTEN`` as a wake-up, with a polled fingerprint of the entity history behind it.

    A lost connection (a PostgreSQL restart) is opened again at the next look, which then
    says "changed": notifications sent meanwhile went nowhere, so the caller looks.
    """

    def __init__(self, dsn: str) -> None:
        import psycopg

        self._dsn = dsn
        self._conn: psycopg.Connection[Any] | None = None
        try:
            self._connect()
        except psycopg.Error as exc:
            raise StoreError(f"cannot watch the store: {exc}") from exc
        self._last = self._fingerprint()

    def _connect(self) -> None:
        import psycopg

        self._conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=10)
        self._conn.execute(f"LISTEN {CHANNEL}")

    def _fingerprint(self) -> tuple[Any, ...]:
        assert self._conn is not None
        row = self._conn.execute(_FINGERPRINT).fetchone()
        return tuple(row or ())

    def changed(self) -> bool:
        """True on a notification, when the history's fingerprint moved, or on the first
        look after the connection came back; StoreError while the store is unreachable."""
        import psycopg

        try:
            if self._conn is None:
                self._connect()
                self._last = self._fingerprint()
                return True
            notified = any(True for _ in self._conn.notifies(timeout=0))
            fingerprint = self._fingerprint()
        except psycopg.Error as exc:
            self.close()
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StoreError(f"lost the store's change signal: {first_line}") from exc
        moved, self._last = fingerprint != self._last, fingerprint
        return notified or moved

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()


def open_signal(url: str) -> StoreSignal:
    """The change signal for the store at ``url`` (SQLite or PostgreSQL)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return SqliteSignal(parsed.database or "")
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    return PostgresSignal(dsn)


def changed_paths(store: Store, folder: str, mapper: PathMapper) -> dict[str, str]:
    """Paths whose entity differs from the folder's sync record, with the entity's hash.

    An entity with no record maps to its canonical path; a record whose entity is gone
    maps to ``""``. The hash lets a caller tell a change it already handled from a new one.
    """
    # one pass over the records joined with their entities, held only where they differ
    differ = [row.path for row in store.iter_synced(folder) if not row.same_entity]
    found: dict[str, str] = {}
    gone: list[SyncRecord] = []
    for record, content_hash in store.synced_records(folder, differ):
        if content_hash is None:
            gone.append(record)
        else:
            found[record.path] = content_hash
    unsynced = store.summaries_for(list(store.iter_unsynced(folder)))
    for key, summary in unsynced.items():
        try:
            found[str(mapper.to_path(key))] = summary.content_hash
        except BrainsyncError:
            continue  # an id no file can hold: the sync reports it
    found.update(_gone(gone))
    return found


def paths_of_keys(
    store: Store, folder: str, mapper: PathMapper, keys: list[EntityKey]
) -> tuple[dict[str, str], set[str]]:
    """:func:`changed_paths` for some entities only: the paths of ``keys`` that differ,
    and every path of ``keys`` looked at (settled ones included)."""
    records = store.records_for_keys(folder, keys)
    summaries = store.summaries_for(keys)
    found: dict[str, str] = {}
    looked = set(records)
    for path, record in records.items():
        summary = summaries.get(record.key)
        if summary is None:
            found[path] = ""
        elif summary.content_hash != record.entity_hash:
            found[path] = summary.content_hash
    placed = {record.key for record in records.values()}
    for key, summary in summaries.items():
        if key in placed:
            continue
        try:
            path = str(mapper.to_path(key))
        except BrainsyncError:
            continue  # an id no file can hold: the sync reports it
        found[path] = summary.content_hash
        looked.add(path)
    return found, looked


def _gone(records: Iterable[SyncRecord]) -> dict[str, str]:
    return {record.path: "" for record in records}


class StoreWatch:
    """Looks for store changes in a thread and hands over the paths they concern.

    It wakes on :meth:`wake` (an entity event in this process) and every poll interval
    (the signal, for other processes and hosts). A change already handed over is not
    handed over again while it stays the same, so a path no sync can settle (an id no file
    can hold, say) costs one job, not one per poll.
    """

    def __init__(
        self,
        store: Store,
        store_url: str,
        folder: str,
        mapper: PathMapper,
        poll_seconds: float,
        on_paths: Callable[[list[str]], None],
        on_warning: Callable[[str], None],
    ) -> None:
        self._store, self._url, self._folder, self._mapper = store, store_url, folder, mapper
        self._poll = poll_seconds
        self._on_paths, self._on_warning = on_paths, on_warning
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._collecting = False
        self._handled: dict[str, str] = {}
        #: The newest history row read (changes after it are still to look at).
        self._cursor = store.latest_change()
        self._lookback = _PG_LOOKBACK if make_url(store_url).get_backend_name() != "sqlite" else 0
        self.paused = False
        self._unreachable = False
        self._thread = threading.Thread(target=self._run, name="brainsync-watch-store")

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it."""
        self._stop.set()
        self._dirty.set()
        if self._thread.is_alive():
            self._thread.join()

    def wake(self) -> None:
        """Something changed in this process: look now (cheap, any thread)."""
        self._dirty.set()

    def busy(self) -> bool:
        """True while a change is known or being read and not yet handed over."""
        return self._collecting or self._dirty.is_set()

    def _run(self) -> None:
        signal: StoreSignal | None = None
        try:
            signal = open_signal(self._url)
        except BrainsyncError as exc:
            self._on_warning(f"{exc}; other processes' changes wait for the next rescan")
        try:
            while not self._stop.is_set():
                fired = self._dirty.wait(self._poll)
                self._collecting = True  # before the clear, so busy() never flickers
                self._dirty.clear()
                try:
                    moved = self._signalled(signal)
                    if (fired or moved) and not self._stop.is_set() and not self.paused:
                        self._collect()
                except Exception as exc:  # a bug must not end watching silently: say, retry
                    log.exception("the store watcher failed")
                    self._dirty.set()  # look again after a poll interval
                    self._on_warning(CRASH.format(error=f"{type(exc).__name__}: {exc}"))
                    self._stop.wait(self._poll)
                finally:
                    self._collecting = False
        finally:
            if signal is not None:
                signal.close()

    def _signalled(self, signal: StoreSignal | None) -> bool:
        """Whether the signal fired; an unreachable store is told once per outage, and
        the first look after it reads everything written meanwhile."""
        if signal is None:
            return False
        try:
            moved = signal.changed()
        except BrainsyncError as exc:
            if not self._unreachable:
                self._on_warning(f"{exc}; retrying every {self._poll:g} s")
            self._unreachable = True
            return False
        if self._unreachable:
            self._unreachable = False
            self._on_warning("the store is reachable again; catching up")
            return True
        return moved

    def _collect(self) -> None:
        try:
            found, looked = self._changes()
        except BrainsyncError as exc:
            if not self._unreachable:
                self._on_warning(f"cannot read the store's changes: {exc}")
            return
        fresh = [path for path, digest in found.items() if self._handled.get(path) != digest]
        for path in looked - set(found):
            self._handled.pop(path, None)  # settled: a later change to any hash is news
        self._handled.update(found)
        if fresh:
            self._on_paths(fresh)

    def _changes(self) -> tuple[dict[str, str], set[str]]:
        """What changed since the last look: O(changes) from the history's feed."""
        since = max(0, self._cursor - self._lookback)
        keys, newest = self._store.changes_since(since, _FEED_LIMIT)
        if len(keys) >= _FEED_LIMIT:
            self._cursor = self._store.latest_change()
            found = changed_paths(self._store, self._folder, self._mapper)
            self._handled = {}
            return found, set(found)
        self._cursor = max(self._cursor, newest)
        return paths_of_keys(self._store, self._folder, self._mapper, keys)
