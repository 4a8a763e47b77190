"""Entities, their keys, and entity types (pure data, no I/O).

An entity is identified by ``(type, id)``. Its ``document`` is the full markdown text
(frontmatter and body) as it lives in a file; ``content`` and ``metadata`` are the parsed
parts. ``content_hash`` is the sha256 of the document's UTF-8 bytes, so an entity that was
imported from a file hashes exactly like that file and is never rewritten needlessly.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from brainsync.errors import InvalidEntityError, InvalidInputError

__all__ = [
    "NOTE",
    "Entity",
    "EntityKey",
    "EntityType",
    "NoteType",
    "PostType",
    "document_hash",
    "validate_type_name",
]

NOTE = "note"
_TYPE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
# type names become folder names: Windows device names cannot be folders there
_DEVICE_NAME = re.compile(r"^(con|prn|aux|nul|com[1-9]|lpt[1-9])$")


def validate_type_name(name: str) -> str:
    """Return ``name`` if it can be a type (and so a folder) name, else raise."""
    if not _TYPE_NAME.match(name) or _DEVICE_NAME.match(name):
        raise InvalidInputError(
            f"invalid entity type name {name!r}: use lowercase letters, digits and '-'"
        )
    return name


def document_hash(document: str) -> str:
    """The sha256 hex digest of a document's UTF-8 bytes (the file's bytes)."""
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


@dataclass(frozen=True, order=True, slots=True)
class EntityKey:
    """The identity of an entity: its type name and its id within the type."""

    type: str
    id: str

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> EntityKey:
        """Parse ``type:id`` (the id may itself contain ``:``)."""
        type_name, sep, entity_id = text.partition(":")
        if not sep or not entity_id:
            raise InvalidInputError(f"expected TYPE:ID, got {text!r}")
        return cls(validate_type_name(type_name), entity_id)


@dataclass(frozen=True)
class Entity:
    """One typed markdown entity as the store keeps it."""

    key: EntityKey
    document: str
    content: str
    metadata: Mapping[str, Any]
    created: datetime
    updated: datetime
    version: int = 1
    content_hash: str = field(default="")

    def __post_init__(self) -> None:
        if not self.content_hash:
            object.__setattr__(self, "content_hash", document_hash(self.document))

    @property
    def type(self) -> str:
        return self.key.type

    @property
    def id(self) -> str:
        return self.key.id

    @property
    def title(self) -> str | None:
        """The ``title`` of the metadata when it is a string (what listings show)."""
        title = self.metadata.get("title")
        return title if isinstance(title, str) else None

    def to_dict(self, *, with_document: bool = True) -> dict[str, Any]:
        """The JSON view of the entity, shared by the CLI's ``--json``, MCP and Python."""
        data: dict[str, Any] = {
            "type": self.type,
            "id": self.id,
            "version": self.version,
            "content_hash": self.content_hash,
            "created": self.created.isoformat(),
            "updated": self.updated.isoformat(),
            "metadata": dict(self.metadata),
        }
        if with_document:
            data["content"] = self.content
            data["document"] = self.document
        return data


class EntityType:
    """An entity type: a name, and the rule that validates its metadata.

    Subclasses override :meth:`validate`; plugins register instances through the
    ``brainsync_entity_types`` hook. The built-in ``note`` type accepts any mapping.
    """

    name: ClassVar[str] = NOTE

    def validate(self, metadata: Mapping[str, Any]) -> None:
        """Raise :class:`InvalidEntityError` when ``metadata`` breaks the schema."""

    @property
    def folder(self) -> str | None:
        """The folder under the root holding this type (``None``: the root itself)."""
        return None if self.name == NOTE else self.name


class NoteType(EntityType):
    """Free-form notes at the root of the sync directory."""

    name = NOTE


class PostType(EntityType):
    """Blog posts: a required ``title``, optional ``tags`` and a ``status`` enum."""

    name = "post"
    statuses: ClassVar[frozenset[str]] = frozenset({"draft", "published", "archived"})

    def validate(self, metadata: Mapping[str, Any]) -> None:
        title = metadata.get("title")
        if not isinstance(title, str) or not title.strip():
            raise InvalidEntityError("post needs a non-empty string 'title'")
        tags = metadata.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise InvalidEntityError("post 'tags' must be a list of strings")
        status = metadata.get("status", "draft")
        if not isinstance(status, str) or status not in self.statuses:
            allowed = ", ".join(sorted(self.statuses))
            # the value itself is note content: never quoted in an error (catalogue P2)
            raise InvalidEntityError(f"post 'status' must be one of {allowed}")
