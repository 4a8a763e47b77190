"""A SQLite job store keeps a write-ahead log instead of a rollback journal.

DBOS opens a SQLite system database in SQLite's default mode, a rollback journal with
``synchronous=FULL``: every commit writes and syncs the journal, then the database file,
then deletes the journal. A job commits often (enqueue, claim, every step's checkpoint,
its status), and on this kind of disk a commit then costs about 1.2 ms against 0.2 ms
with a write-ahead log at the same ``synchronous=FULL`` (the same durability: a
committed checkpoint survives a power cut). A write-ahead log also lets ``status`` and
``jobs`` read while a worker writes. The mode is stored in the file, so setting it once
is enough; a process that finds the store busy leaves the mode for the next one.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

from sqlalchemy.engine import make_url

__all__ = ["prefer_write_ahead_log"]

#: How long to wait for another process's transaction before leaving the mode as it is
#: (a command pays it at most once per open, until a quieter moment switches the store).
_BUSY_SECONDS = 0.2


def prefer_write_ahead_log(url: str) -> bool:
    """Switch the SQLite job store at ``url`` to a write-ahead log; True when it uses one.

    Nothing happens for PostgreSQL, an in-memory database, or a URL with query options
    (``mode=ro``, ``uri=true``...): those open the file in ways a plain path would not
    honour, so the store keeps the mode it has. A store another process holds locked
    keeps its mode too: the jobs run the same, each commit a little slower.
    """
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or parsed.query:
        return False
    if not database or database == ":memory:":
        return False
    try:
        with closing(sqlite3.connect(database, timeout=_BUSY_SECONDS)) as conn:
            (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
            if mode != "wal":
                (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return bool(mode == "wal")
    except sqlite3.Error:
        return False
