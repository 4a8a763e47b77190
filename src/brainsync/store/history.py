"""Entity history: earlier versions of every entity, written with each change, pruned.

:meth:`Store.apply <brainsync.store.base.Store.apply>` records every created or updated
entity, and a tombstone for every delete, in the same transaction as the change, with the
change set's ``writer``. Retention (:class:`Retention`) bounds the rows of each entity by
count and age; pruning touches only the keys a change set updated or deleted, so a bulk
import of new entities pays nothing for it. The newest row of an entity is never pruned:
it is the base of the next three-way merge of a folder that synced it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.engine import RowMapping

from brainsync.entities import EntityKey
from brainsync.store.database import batches
from brainsync.store.records import EntityChange
from brainsync.store.schema import entity_versions, key_in
from brainsync.store.state import SyncStateStore

__all__ = ["EntityVersion", "HistoryStore", "Latest", "Retention"]


@dataclass(frozen=True)
class Retention:
    """How much history to keep per entity: at most ``versions`` rows, none older than
    ``days`` (None: no bound). The newest row of each entity always stays."""

    versions: int | None = None
    days: float | None = None

    @property
    def bounded(self) -> bool:
        """Whether pruning can ever drop a row."""
        return self.versions is not None or self.days is not None


@dataclass(frozen=True, slots=True)
class EntityVersion:
    """One row of an entity's history; ``document`` is None for a delete (a tombstone)."""

    seq: int
    key: EntityKey
    version: int
    document: str | None
    content_hash: str | None
    updated: datetime
    recorded: datetime
    writer: str | None
    #: Which life of the key (1; one more each time it is created again after a delete).
    life: int = 1

    @property
    def deleted(self) -> bool:
        """True for the tombstone a delete leaves."""
        return self.document is None

    def to_dict(self, *, with_document: bool = False) -> dict[str, Any]:
        """The JSON view shared by the CLI's ``--json``, MCP and Python."""
        data: dict[str, Any] = {
            "type": self.key.type,
            "id": self.key.id,
            "version": self.version,
            "deleted": self.deleted,
            "content_hash": self.content_hash,
            "updated": self.updated.isoformat(),
            "recorded": self.recorded.isoformat(),
            "writer": self.writer,
            "life": self.life,
        }
        if with_document:
            data["document"] = self.document
        return data


def _version_from_row(row: RowMapping) -> EntityVersion:
    return EntityVersion(
        seq=row["seq"],
        key=EntityKey(row["type"], row["id"]),
        version=row["version"],
        document=row["document"],
        content_hash=row["content_hash"],
        updated=row["updated"],
        recorded=row["recorded"],
        writer=row["writer"],
        life=row["life"],
    )


class Latest(NamedTuple):
    """The highest version and life a key's history holds."""

    version: int
    life: int


class HistoryStore(SyncStateStore):
    """Reads of the entity history, and the writes :meth:`Store.apply` makes to it."""

    #: Set by the facade from the settings; a bare store keeps everything.
    retention: Retention = Retention()

    def latest_change(self) -> int:
        """The sequence number of the newest history row (0 when there is none)."""
        query = select(func.max(entity_versions.c.seq))
        return int(self._scalar(query, "read the latest change") or 0)

    def changes_since(self, seq: int, limit: int) -> tuple[list[EntityKey], int]:
        """Keys written after ``seq`` (from at most ``limit`` rows, oldest first), and the
        newest sequence number read (``seq`` when there is none): a feed of every write."""
        v = entity_versions.c
        query = select(v.seq, v.type, v.id).where(v.seq > seq).order_by(v.seq).limit(limit)
        rows = self._read(query, "read the changes")
        keys = list(dict.fromkeys(EntityKey(row["type"], row["id"]) for row in rows))
        return keys, (int(rows[-1]["seq"]) if rows else seq)

    def entity_history(self, key: EntityKey) -> list[EntityVersion]:
        """Every kept version of ``key``, oldest first (tombstones included)."""
        query = (
            select(entity_versions)
            .where(entity_versions.c.type == key.type, entity_versions.c.id == key.id)
            .order_by(entity_versions.c.seq)
        )
        return [_version_from_row(row) for row in self._read(query, "read entity history")]

    def entity_version(self, key: EntityKey, version: int) -> EntityVersion | None:
        """The latest kept row of ``key`` at ``version`` that has a document, or None."""
        query = self._newest(key).where(
            entity_versions.c.version == version, entity_versions.c.document.is_not(None)
        )
        rows = self._read(query, "read an entity version")
        return _version_from_row(rows[0]) if rows else None

    def document_with_hash(self, key: EntityKey, content_hash: str) -> str | None:
        """The document ``key`` had when its hash was ``content_hash`` (a merge base)."""
        query = self._newest(key).where(entity_versions.c.content_hash == content_hash)
        rows = self._read(query, "read a merge base")
        return rows[0]["document"] if rows else None

    @staticmethod
    def _newest(key: EntityKey) -> Any:
        return (
            select(entity_versions)
            .where(entity_versions.c.type == key.type, entity_versions.c.id == key.id)
            .order_by(entity_versions.c.seq.desc())
            .limit(1)
        )

    def _deleted(self, conn: Connection, keys: Iterable[EntityKey]) -> dict[EntityKey, Latest]:
        """The last version and life of each key that was deleted (from its newest
        tombstone, which pruning keeps while the key has no entity): an entity created
        again goes on from there, so no version repeats for a key."""
        v = entity_versions.c
        found: dict[EntityKey, Latest] = {}
        keys = list(dict.fromkeys(keys))
        tombstone = select(v.seq).where(v.document.is_(None)).limit(1)
        if not keys or conn.execute(tombstone).first() is None:
            # a store without a delete (a first import) asks no more than that (an index)
            return found
        for batch in batches(keys):
            query = (
                select(v.type, v.id, func.max(v.version), func.max(v.life))
                .where(v.document.is_(None), key_in(entity_versions, batch))
                .group_by(v.type, v.id)
            )
            for type_, id_, version, life in conn.execute(query):
                found[EntityKey(type_, id_)] = Latest(int(version), int(life))
        return found

    def _record_history(
        self,
        conn: Connection,
        done: list[EntityChange],
        versions: Mapping[EntityKey, int],
        lives: Mapping[EntityKey, int],
        writer: str | None,
    ) -> None:
        """Add a history row per change (inside :meth:`Store.apply`'s transaction)."""
        now = datetime.now(UTC)
        rows = [_history_row(change, versions, lives, writer, now) for change in done]
        if rows:
            conn.execute(entity_versions.insert(), rows)
        if self.retention.bounded:
            # only updates and deletes can push a key over its bound; creations seldom do
            self._prune(conn, [c.key for c in done if c.kind != "created"], now)

    def _prune(self, conn: Connection, keys: Iterable[EntityKey], now: datetime) -> None:
        """Drop the rows of ``keys`` beyond the retention bounds, the newest always kept."""
        keep, days = self.retention.versions, self.retention.days
        cutoff = None if days is None else now - timedelta(days=days)
        v = entity_versions.c
        doomed: list[int] = []
        for batch in batches(list(dict.fromkeys(keys))):
            query = (
                select(v.seq, v.type, v.id, v.recorded)
                .where(key_in(entity_versions, batch))
                .order_by(v.type, v.id, v.seq.desc())
            )
            newer: dict[tuple[str, str], int] = {}
            for row in conn.execute(query):
                rank = newer.get((row.type, row.id), 0)
                newer[(row.type, row.id)] = rank + 1
                too_many = keep is not None and rank >= keep
                too_old = cutoff is not None and row.recorded < cutoff
                if rank > 0 and (too_many or too_old):
                    doomed.append(row.seq)
        for chunk in batches(doomed):
            conn.execute(delete(entity_versions).where(entity_versions.c.seq.in_(list(chunk))))


def _history_row(
    change: EntityChange,
    versions: Mapping[EntityKey, int],
    lives: Mapping[EntityKey, int],
    writer: str | None,
    now: datetime,
) -> dict[str, Any]:
    entity = change.entity
    row = {"type": change.key.type, "id": change.key.id, "recorded": now, "writer": writer,
           "life": lives.get(change.key, 1)}  # fmt: skip
    if entity is None:  # a delete: the tombstone carries the version that was deleted
        return {**row, "version": versions.get(change.key, 0), "document": None,
                "content_hash": None, "updated": now}  # fmt: skip
    return {**row, "version": entity.version, "document": entity.document,
            "content_hash": entity.content_hash, "updated": entity.updated}  # fmt: skip
