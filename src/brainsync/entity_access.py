"""Reading and writing single entities: the rules every interface shares.

The facade (:class:`brainsync.app.Brain`) delegates here: ids no file can hold are refused,
documents are parsed and validated by their type, a write may be conditional on a version
(so a late update never resurrects a deleted entity), an update that changes nothing makes
no version and no event, and events go out after the change commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from brainsync.entities import Entity, EntityKey, EntityType
from brainsync.errors import ConflictError, InvalidInputError, NotFoundError
from brainsync.events import EntityCreated, EntityDeleted, EntityUpdated, EventBus
from brainsync.store import ChangeSet, Store
from brainsync.store.history import EntityVersion
from brainsync.sync.limits import DEFAULT_LIMITS
from brainsync.sync.markdown import parse, render
from brainsync.sync.paths import PathMapper

__all__ = ["EntityAccess"]


class EntityAccess:
    """Single-entity reads and writes over one store, with the entity types' rules."""

    def __init__(
        self,
        store: Store,
        types: Mapping[str, EntityType],
        mapper: PathMapper,
        bus: EventBus[object],
        max_file_bytes: int | None = None,
        root: Path | None = None,
    ) -> None:
        self._store = store
        self._types = types
        self._mapper = mapper
        self._bus = bus
        #: The folder side's size limit; the store applies it too (None: no limit).
        self._max_file_bytes = max_file_bytes
        self._root = root  # the sync directory: a put checks that its file fits there

    def put_entity(
        self,
        type: str,
        id: str,
        *,
        text: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        content: str | None = None,
        if_version: int | None = None,
        writer: str = "api",
    ) -> Entity:
        """Create or update an entity from full markdown ``text`` or from its parts.

        ``if_version`` makes the write conditional: it fails with ConflictError unless the
        stored entity has that version (0: must not exist), so a late update can never
        resurrect an entity deleted meanwhile. An update that changes nothing creates no
        version and no event. ``writer`` is what the entity history says wrote it.
        """
        key = self.key(type, id)
        # a file no system could hold fails every export: refused here, naming the limit
        DEFAULT_LIMITS.check(key, str(self._mapper.to_path(key)), self._root)
        existing = self._store.get(key)
        self._check_version(key, existing, if_version)
        if text is None:
            text = render(dict(metadata or {}), content or "")
        if "\x00" in text:
            raise InvalidInputError("a document cannot contain a NUL character (binary data?)")
        self._check_size(key, text)
        parsed = parse(text)
        self._types[type].validate(parsed.metadata)
        now = datetime.now(UTC)
        created = existing.created if existing else now
        entity = Entity(key, text, parsed.body, parsed.metadata, created, now)
        change = self._store.put(entity, writer)
        if change is None:
            assert existing is not None
            return existing
        event = EntityCreated if change.kind == "created" else EntityUpdated
        self._bus.publish(event(str(key), entity.content_hash))
        return change.entity or entity

    def _check_size(self, key: EntityKey, text: str) -> None:
        """Refuse a document whose file would pass ``max_file_bytes``: every sync would
        leave that file out, and the entity and its file would never converge (B15)."""
        limit = self._max_file_bytes
        if limit is None or len(text) * 4 <= limit:  # a character is at most 4 UTF-8 bytes
            return
        size = len(text.encode("utf-8"))
        if size > limit:
            raise InvalidInputError(
                f"{key} would be a {size}-byte file, larger than the {limit}-byte limit "
                "(max_file_bytes); not written"
            )

    @staticmethod
    def _check_version(key: EntityKey, existing: Entity | None, if_version: int | None) -> None:
        if if_version is None:
            return
        current = existing.version if existing else 0
        if current != if_version:
            raise ConflictError(f"{key} is at version {current}, not {if_version}; not written")

    def get_entity(self, type: str, id: str, version: int | None = None) -> Entity:
        """The entity (or its kept ``version`` from the history), or NotFoundError."""
        key = self.key(type, id)
        entity = self._store.get(key)
        if version is not None and (entity is None or entity.version != version):
            return self._old_version(key, version, entity)
        if entity is None:
            raise NotFoundError(f"no entity {type}:{id}")
        return entity

    def _old_version(self, key: EntityKey, version: int, current: Entity | None) -> Entity:
        found = self._store.entity_version(key, version)
        if found is None or found.document is None:
            raise NotFoundError(
                f"no version {version} of {key} in the history; `entity history` lists them"
            )
        parsed = parse(found.document)
        created = current.created if current else found.updated
        return Entity(
            key, found.document, parsed.body, parsed.metadata, created, found.updated,
            version=found.version, content_hash=found.content_hash or "",
        )  # fmt: skip

    def entity_history(self, type: str, id: str) -> list[EntityVersion]:
        """Every kept version of an entity, oldest first (a delete shows as a tombstone)."""
        key = self.key(type, id)
        history = self._store.entity_history(key)
        if not history:
            raise NotFoundError(f"no entity {key} and no history of one")
        return history

    def revert_entity(self, type: str, id: str, to: int, *, writer: str = "api") -> Entity:
        """Make version ``to`` current again, as a new version (history is never rewritten).

        Reverting to the current content changes nothing; a deleted entity comes back.
        """
        old = self.get_entity(type, id, version=to)
        return self.put_entity(type, id, text=old.document, writer=f"{writer} (revert to {to})")

    def list_entities(
        self, type: str | None = None, after: EntityKey | None = None, limit: int = 500
    ) -> list[Entity]:
        """One keyset page of entities, ordered by (type, id)."""
        if type is not None:
            self.key(type, "x")
        return self._store.list_entities(type, after, limit)

    def delete_entity(
        self, type: str, id: str, *, if_version: int | None = None, writer: str = "api"
    ) -> None:
        """Delete the entity (its file goes at the next export or sync); ``if_version``
        deletes only that version (ConflictError otherwise)."""
        key = self.key(type, id)
        changes = ChangeSet(deletes=[key], writer=writer)
        if if_version is not None:
            existing = self._store.get(key)
            self._check_version(key, existing, if_version)
            if existing is not None:  # a change after this read voids the delete
                changes.expected[key] = existing.content_hash
        if not self._store.apply(changes):
            if changes.stale:
                raise ConflictError(f"{key} changed since version {if_version}; not deleted")
            raise NotFoundError(f"no entity {key}")
        self._bus.publish(EntityDeleted(str(key)))

    def key(self, type: str, id: str) -> EntityKey:
        """The key of ``type``/``id``, refused when no file could hold it."""
        if type not in self._types:
            raise InvalidInputError(f"unknown entity type {type!r}")
        if not id:
            raise InvalidInputError("an entity id cannot be empty")
        if "\x00" in id:
            # PostgreSQL cannot store NUL in text: refuse it everywhere, alike
            raise InvalidInputError("an entity id cannot contain a NUL character")
        self._mapper.to_path(EntityKey(type, id))  # rejects ids no file can hold
        return EntityKey(type, id)
