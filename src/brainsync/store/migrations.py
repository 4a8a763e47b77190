"""Upgrades of an older store schema, run in place inside the opening transaction.

Schema 5 records each synced file's ctime and inode with its size and mtime. Existing
records get 0 (not known), so the next run hashes each file once and records them.

Schema 4 numbers versions so that none repeats for a key: schema 3 began again at version 1
when an entity was created after a delete. Each later life of a key goes on from the last
version of the one before, and its rows (and the entity, when it is that life) are
renumbered by as much; ``life`` says which life a row belongs to.

Schema 3 adds ``entity_versions`` (entity history); every existing entity gets its
current version as its first history row, so the next conflict has a merge base.

Schema 1 (the first release) kept one sync state keyed by path alone, so a store knew
one folder. Schema 2 keys it by (folder, path) and lists the folders. The schema-1 state
moves to an *unclaimed* folder (no host, no path: that store never recorded which
directory it served); the first folder that opens the store and whose files match those
records adopts it (:mod:`brainsync.sync.folders`), so nothing is re-imported or rewritten.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, Row, text

from brainsync.store.schema import TOMBSTONE_INDEX, entity_versions, folders, sync_state

__all__ = ["UNCLAIMED_LABEL", "upgrade"]

#: The label of the folder that holds a schema-1 store's state until a folder adopts it.
UNCLAIMED_LABEL = "unclaimed state of a schema-1 store"


def upgrade(conn: Connection, found: int) -> None:
    """Bring a database at schema version ``found`` up to the current one."""
    if found < 2:
        _from_1_to_2(conn)
    if found < 3:
        _from_2_to_3(conn)  # the table as schema 4 has it, one row per entity
    if found < 4:
        _from_3_to_4(conn, found)
    if 2 <= found < 5:  # a schema-1 store got the current sync_state table above
        _from_4_to_5(conn)


def _from_3_to_4(conn: Connection, found: int) -> None:
    conn.execute(text("ALTER TABLE entities ADD COLUMN life INTEGER NOT NULL DEFAULT 1"))
    if found < 3:
        return  # a history made just now: one row per entity, all in their first life
    conn.execute(text("ALTER TABLE entity_versions ADD COLUMN life INTEGER NOT NULL DEFAULT 1"))
    conn.execute(TOMBSTONE_INDEX)
    rows = conn.execute(
        text(
            "SELECT seq, type, id, version, document IS NULL AS dead FROM entity_versions "
            "ORDER BY type, id, seq"
        )
    )
    moved: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    for (type_, id_), group in groupby(rows, key=lambda row: (row.type, row.id)):
        offset, life = _renumber(list(group), moved)
        if life > 1:
            current.append({"type": type_, "id": id_, "offset": offset, "life": life})
    if moved:
        conn.execute(
            text("UPDATE entity_versions SET version = :version, life = :life WHERE seq = :seq"),
            moved,
        )
    if current:
        conn.execute(
            text(
                "UPDATE entities SET version = version + :offset, life = :life "
                "WHERE type = :type AND id = :id"
            ),
            current,
        )


def _renumber(rows: list[Row[Any]], moved: list[dict[str, Any]]) -> tuple[int, int]:
    """Number one key's rows (oldest first) so no version repeats; add the rows that
    change to ``moved``; return what the last life's versions moved by, and that life.

    A life begins at a row with a document after a tombstone, or at one whose version
    is not above the row before it (retention pruned the tombstone between them).
    """
    life, offset, last, before = 1, 0, 0, None
    for row in rows:
        if before is not None and not row.dead and (before.dead or row.version <= before.version):
            life, offset = life + 1, last
        last = row.version + offset
        if life > 1:
            moved.append({"seq": row.seq, "version": last, "life": life})
        before = row
    return offset, life


def _from_4_to_5(conn: Connection) -> None:
    for column in ("ctime_ns", "inode"):
        conn.execute(text(f"ALTER TABLE sync_state ADD COLUMN {column} BIGINT NOT NULL DEFAULT 0"))


def _from_2_to_3(conn: Connection) -> None:
    entity_versions.create(conn)
    columns = "type, id, version, document, content_hash, updated"
    conn.execute(
        text(
            f"INSERT INTO entity_versions ({columns}, recorded, writer) "
            f"SELECT {columns}, updated, 'upgrade' FROM entities ORDER BY type, id"
        )
    )


def _from_1_to_2(conn: Connection) -> None:
    conn.execute(text("DROP INDEX IF EXISTS ix_sync_state_key"))
    conn.execute(text("ALTER TABLE sync_state RENAME TO sync_state_v1"))
    folders.create(conn)
    sync_state.create(conn)
    if not conn.execute(text("SELECT count(*) FROM sync_state_v1")).scalar():
        conn.execute(text("DROP TABLE sync_state_v1"))
        return
    folder_id = uuid.uuid4().hex
    conn.execute(
        folders.insert(),
        {
            "id": folder_id,
            "label": UNCLAIMED_LABEL,
            "host": "",
            "path": "",
            "created": datetime.now(UTC),
        },
    )
    columns = "path, type, id, size, mtime_ns, file_hash, entity_hash"
    conn.execute(
        text(
            f"INSERT INTO sync_state (folder, {columns}) "
            f"SELECT :folder, {columns} FROM sync_state_v1"
        ),
        {"folder": folder_id},
    )
    conn.execute(text("DROP TABLE sync_state_v1"))
