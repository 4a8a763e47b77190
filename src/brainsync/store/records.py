"""The plain records the store reads and writes, and their mapping to table rows (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

from sqlalchemy.engine import RowMapping

from brainsync.entities import Entity, EntityKey

__all__ = [
    "ChangeSet",
    "EntityChange",
    "EntitySummary",
    "FolderRecord",
    "SyncRecord",
    "SyncedRow",
    "entity_from_row",
    "entity_row",
    "record_from_row",
    "record_from_tuple",
    "record_row",
]


@dataclass(frozen=True, slots=True)
class SyncRecord:
    """What the last successful sync saw at one path (the sync state's archive row)."""

    path: str
    key: EntityKey
    size: int
    mtime_ns: int
    file_hash: str
    entity_hash: str
    #: The file's ctime and inode (as git's index keeps them): an edit that keeps size and
    #: mtime (``touch -r``) still moves the ctime, a file put in its place has another
    #: inode. 0: not known (a record of an older schema, or a racy stat): hash again.
    ctime_ns: int = 0
    inode: int = 0


@dataclass(frozen=True, slots=True)
class FolderRecord:
    """A folder the store keeps in sync: one directory on one host, with its own state."""

    id: str
    label: str
    host: str
    path: str
    created: datetime
    last_runs: dict[str, datetime] = field(default_factory=dict)
    tracked_files: int = 0

    @property
    def claimed(self) -> bool:
        """False for the state of a schema-1 store that no folder has adopted yet."""
        return bool(self.path)

    @property
    def last_run(self) -> tuple[str, datetime] | None:
        """The kind and time of the latest finished run, if any."""
        if not self.last_runs:
            return None
        kind = max(self.last_runs, key=lambda name: self.last_runs[name])
        return kind, self.last_runs[kind]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (times as ISO-8601 text)."""
        last = self.last_run
        return {
            "id": self.id,
            "label": self.label,
            "host": self.host,
            "path": self.path or None,
            "created": self.created.isoformat(timespec="seconds"),
            "last_runs": {k: v.isoformat(timespec="seconds") for k, v in self.last_runs.items()},
            "last_run": None if last is None else last[1].isoformat(timespec="seconds"),
            "tracked_files": self.tracked_files,
        }


@dataclass(frozen=True, slots=True)
class EntitySummary:
    """A light listing of one entity, used to plan runs without loading documents."""

    key: EntityKey
    content_hash: str


class SyncedRow(NamedTuple):
    """What a full plan needs of one sync record to tell that its path is settled: the
    path, the entity type, the stat the record holds, and whether the entity still has
    the hash the record holds (False: it changed, or is gone).

    A short tuple rather than a record: a plan reads one per file, and on a typical run
    almost every path is settled and needs nothing more (the hashes alone were half of
    what a row carried); the plan reads the full records of the rest.
    """

    path: str
    type: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    same_entity: bool


def record_from_tuple(row: Sequence[Any]) -> SyncRecord:
    """The sync record in a row of ``sync_state``'s columns, in their table order from
    ``path`` on (path, type, id, size, mtime_ns, file_hash, entity_hash, ctime_ns, inode)."""
    path, type_, id_, size, mtime_ns, file_hash, entity_hash, ctime_ns, inode = row
    key = EntityKey(type_, id_)
    return SyncRecord(path, key, size, mtime_ns, file_hash, entity_hash, ctime_ns, inode)


@dataclass
class ChangeSet:
    """Everything one chunk writes; :meth:`Store.apply` applies it in one transaction.

    Order of application: ``upserts``, then ``deletes`` (so a key in both ends up deleted),
    then ``records`` (upserted by path), then ``drop_records``. A key upserted twice keeps
    the last entity; a path recorded twice keeps the last record.
    """

    #: The folder whose sync state ``records`` and ``drop_records`` belong to.
    folder: str | None = None
    upserts: list[Entity] = field(default_factory=list)
    deletes: list[EntityKey] = field(default_factory=list)
    records: list[SyncRecord] = field(default_factory=list)
    drop_records: list[str] = field(default_factory=list)
    #: The content hash each upsert or delete was decided on (None: there was no entity).
    #: A key whose stored hash differs at commit time changed meanwhile: its upsert,
    #: delete and sync records are left out, and :meth:`Store.apply` lists it in ``stale``.
    expected: dict[EntityKey, str | None] = field(default_factory=dict)
    stale: set[EntityKey] = field(default_factory=set)
    #: Who makes these changes, kept in the entity history: ``sync:<folder id>``, ``api``...
    writer: str | None = None

    def __bool__(self) -> bool:
        return bool(self.upserts or self.deletes or self.records or self.drop_records)


@dataclass(frozen=True)
class EntityChange:
    """An entity change that really happened; published as an event after commit.

    ``entity`` is the entity as stored (with its new version and kept ``created``) for
    ``created`` and ``updated``, and ``None`` for ``deleted``.
    """

    kind: Literal["created", "updated", "deleted"]
    key: EntityKey
    entity: Entity | None


def entity_row(entity: Entity) -> dict[str, Any]:
    """The column values of one entity."""
    return {
        "type": entity.key.type,
        "id": entity.key.id,
        "document": entity.document,
        "content": entity.content,
        "metadata": dict(entity.metadata),
        "content_hash": entity.content_hash,
        "version": entity.version,
        "created": entity.created,
        "updated": entity.updated,
    }


def entity_from_row(row: RowMapping) -> Entity:
    """The entity stored in one ``entities`` row."""
    return Entity(
        key=EntityKey(row["type"], row["id"]),
        document=row["document"],
        content=row["content"],
        metadata=row["metadata"],
        created=row["created"],
        updated=row["updated"],
        version=row["version"],
        content_hash=row["content_hash"],
    )


def record_from_row(row: RowMapping) -> SyncRecord:
    """The sync record stored in one ``sync_state`` row."""
    return SyncRecord(
        path=row["path"],
        key=EntityKey(row["type"], row["id"]),
        size=row["size"],
        mtime_ns=row["mtime_ns"],
        file_hash=row["file_hash"],
        entity_hash=row["entity_hash"],
        ctime_ns=row["ctime_ns"],
        inode=row["inode"],
    )


def record_row(folder: str, record: SyncRecord) -> dict[str, Any]:
    """The column values of one sync record of ``folder``."""
    return {
        "folder": folder,
        "path": record.path,
        "type": record.key.type,
        "id": record.key.id,
        "size": record.size,
        "mtime_ns": record.mtime_ns,
        "file_hash": record.file_hash,
        "entity_hash": record.entity_hash,
        "ctime_ns": record.ctime_ns,
        "inode": record.inode,
    }
