"""Which store a directory's default settings lead to: the store follows the folder.

With no ``db`` setting the store is a SQLite file in the state folder, named after the
directory (``<home>/<dirname>.sqlite``, and ``<dirname>.jobs.sqlite`` for the jobs). A
renamed directory keeps its store: the folder registry of the state folder remembers the
directory by device, inode and token (:mod:`brainsync.sync.folders`), so a store that
remembers this directory is used whatever its file is called, and the report says so. A
directory moved away from its state folder (to another parent, the state folder left
behind) says which state folder synced it (an extended attribute): its store is used there.
A store is never silently replaced by an empty one.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import event
from sqlalchemy.engine import make_url

from brainsync.config import Durability, Settings
from brainsync.errors import ConfigError, StoreError
from brainsync.store import SQLiteStore, Store, open_store
from brainsync.store.pg_setup import connect_failure
from brainsync.store.schema import STORE_ID_KEY, meta
from brainsync.sync.folders import marked_home, stores_remembering

__all__ = ["EmptyStore", "StatePlace", "open_brain_store", "place_state", "store_exists"]

_STORE_SUFFIX = ".sqlite"
_JOBS_SUFFIX = ".jobs.sqlite"


@dataclass(frozen=True)
class StatePlace:
    """The store and job store URLs a brain uses, and how they were found."""

    store_url: str
    jobs_url: str
    #: Said in the report when the store is not the one the directory's name gives.
    note: str | None = None
    #: The state folder to use instead of the default one (a folder moved away from it).
    home: Path | None = None


def place_state(settings: Settings) -> StatePlace:
    """The store URLs for ``settings``: as set, or the store that remembers this folder.

    First a store of the state folder that remembers the directory (renamed in place), then
    one of the state folder the directory was last synced with, when it was moved away from
    it and the default state folder is used; otherwise the directory's name. Nothing is
    created or written.
    """
    if settings.db is not None:
        return StatePlace(settings.store_url, settings.jobs_url)
    root, name = settings.root.resolve(), settings.root.name
    here = _remembered_in(settings.state_home, name, settings.host, root)
    if here:
        return _placed(settings, settings.state_home, here, moved=False)
    other = marked_home(root) if settings.home is None else None
    if other is None or other == settings.state_home:
        return StatePlace(settings.store_url, settings.jobs_url)
    there = _remembered_in(other, name, settings.host, root)
    if there:
        return _placed(settings, other, there, moved=True)
    gone = None
    if not other.exists() and not store_exists(settings.store_url):
        gone = (
            f"this folder was synced with the state folder {other}, which is gone: a new "
            f"store starts here (`--home` or `--db` pointed at the old one keeps it)"
        )
    return StatePlace(settings.store_url, settings.jobs_url, gone)


def _remembered_in(home: Path, name: str, host: str, root: Path) -> list[Path]:
    """The SQLite stores in ``home`` that remember the directory ``root`` (name's first)."""
    try:
        ids = stores_remembering(home, host, root)
    except ConfigError:
        return []  # an unreadable registry: the folder's join says so
    return _stores_with(home, home / f"{name}{_STORE_SUFFIX}", ids) if ids else []


def _placed(settings: Settings, home: Path, stores: list[Path], *, moved: bool) -> StatePlace:
    found, default = stores[0], home / f"{settings.root.name}{_STORE_SUFFIX}"
    stem = found.name.removesuffix(_STORE_SUFFIX)
    jobs = settings.jobs_db or _sqlite_url(home / f"{stem}{_JOBS_SUFFIX}")
    if moved:
        note: str | None = f"folder moved away from its state folder {home}; using store {found}"
    elif found != default:
        note = f"folder was renamed from {stem!r}; using store {found}"
    else:
        note = None
    notes = "; ".join(filter(None, [note, _others_note(stores)])) or None
    return StatePlace(_sqlite_url(found), jobs, notes, home if moved else None)


def _stores_with(home: Path, default: Path, ids: set[str]) -> list[Path]:
    """The SQLite stores in ``home`` with one of ``ids``, the default name first."""
    found: list[Path] = []
    for candidate in _store_files(home, default):
        if not ids:
            break  # the usual case: the default store, the one remembering, read alone
        store_id = _store_id(candidate) if candidate.is_file() else None
        if store_id in ids:
            found.append(candidate)
            ids = ids - {store_id}
    return found


def _store_files(home: Path, default: Path) -> Iterator[Path]:
    """``default``, then every other store file in ``home`` (listed only when asked for)."""
    yield default
    names = sorted(p for p in home.glob(f"*{_STORE_SUFFIX}") if not p.name.endswith(_JOBS_SUFFIX))
    yield from (p for p in names if p != default)


def _others_note(stores: list[Path]) -> str | None:
    """Say so when another store also holds a sync state of this folder (two stores
    claim it: made by an earlier release after a rename, or by a ``--db``)."""
    if len(stores) < 2:
        return None
    names = ", ".join(str(p) for p in stores[1:])
    return f"{names} also holds a sync state of this folder and is not used (`--db` picks it)"


def _store_id(file: Path) -> str | None:
    """The id a SQLite store file was given, read without writing (None: not a store)."""
    try:
        conn = sqlite3.connect(f"file:{quote(str(file))}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        query = f"SELECT value FROM {meta.name} WHERE name = ?"
        row = conn.execute(query, (STORE_ID_KEY,)).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return None if row is None else str(row[0])


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def store_exists(url: str) -> bool:
    """False when ``url`` names a SQLite file that does not exist yet (a server's database
    is not looked for: True)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return True
    return Path(parsed.database).exists()


def open_brain_store(settings: Settings, *, read_only: bool) -> Store:
    """The store ``settings`` name (resolved by :func:`place_state`), created when missing;
    ``read_only``: nothing is created, a store that does not exist yet reads as empty."""
    url = settings.store_url
    if not read_only:
        settings.state_home.mkdir(parents=True, exist_ok=True)
        return open_store(url, durable=settings.durability is Durability.FULL)
    if not store_exists(url):
        return EmptyStore(url)
    try:
        return open_store(url, create_database=False)
    except StoreError as exc:
        failure = connect_failure(exc)
        if failure is None or not failure.missing_database:
            raise
        return EmptyStore(url)


class EmptyStore(SQLiteStore):
    """What a read-only command reads where no store exists yet: an empty store that
    refuses writes, in a temporary folder removed on close; it shows the real URL."""

    def __init__(self, url: str) -> None:
        self._shown = make_url(url).render_as_string(hide_password=True)
        self._temp_dir = Path(tempfile.mkdtemp(prefix="brainsync-empty-"))
        try:
            super().__init__(f"sqlite:///{self._temp_dir / 'empty.sqlite'}")
        except BaseException:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            raise
        self._engine.dispose()  # the schema is made; every later connection only reads
        event.listen(self._engine, "connect", _query_only)

    @property
    def url(self) -> str:
        """The URL of the store that does not exist yet (password masked)."""
        return self._shown

    def close(self) -> None:
        """Close it and remove its temporary folder."""
        super().close()
        shutil.rmtree(self._temp_dir, ignore_errors=True)


def _query_only(dbapi_conn: sqlite3.Connection, record: Any) -> None:
    dbapi_conn.execute("PRAGMA query_only = ON")
