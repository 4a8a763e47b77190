"""The SQLite store's hot queries are answered the way their comments promise."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Select
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from brainsync.store import open_store
from brainsync.store import state as store_state
from brainsync.store.schema import sync_state


def _plan(database: Path, query: Select[tuple[str]]) -> str:
    sql = str(query.compile(dialect=sqlite_dialect(), compile_kwargs={"literal_binds": True}))
    with sqlite3.connect(database) as conn:
        return " ".join(str(step[-1]) for step in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))


def test_the_settled_check_reads_the_entities_hashes_from_their_index(tmp_path: Path) -> None:
    """Otherwise SQLite reads each entity's row, past its document, for the hash (the
    planner picks the primary key's index when the join names only the key)."""
    database = tmp_path / "brain.sqlite"
    with open_store(f"sqlite:///{database}"):
        pass
    settled = store_state._joined(
        "f", sync_state.c.path, on=store_state._UNCHANGED_ENTITY_OF_RECORD
    )
    assert "COVERING INDEX ix_entities_key_hash" in _plan(database, settled)
