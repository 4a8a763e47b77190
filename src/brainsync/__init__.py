"""brainsync: keep a database of typed markdown entities in two-way sync with files.

The public API is what ``__all__`` lists; everything else is internal and may change.
Start with :class:`Brain` (the facade) and :func:`load_settings`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from brainsync.app import Brain
    from brainsync.config import Settings, load_settings
    from brainsync.entities import Entity, EntityKey, EntityType, NoteType, PostType
    from brainsync.errors import (
        EXIT_ITEMS_FAILED,
        BrainsyncError,
        ConfigError,
        ConflictError,
        DiskFullError,
        InvalidDocumentError,
        InvalidEntityError,
        InvalidInputError,
        JobError,
        MassDeleteError,
        NotFoundError,
        RootUnavailableError,
        SafetyError,
        StoreError,
        TransientStoreError,
        UnsafePathError,
    )
    from brainsync.events import (
        ConflictFound,
        EntityCreated,
        EntityDeleted,
        EntityUpdated,
        EventBus,
    )
    from brainsync.hookspecs import hookimpl
    from brainsync.jobs import Job, JobHandle, JobState
    from brainsync.report import Conflict, ItemError, Report, Skip
    from brainsync.status import Status

__all__ = [
    "EXIT_ITEMS_FAILED",
    "Brain",
    "BrainsyncError",
    "ConfigError",
    "Conflict",
    "ConflictError",
    "ConflictFound",
    "DiskFullError",
    "Entity",
    "EntityCreated",
    "EntityDeleted",
    "EntityKey",
    "EntityType",
    "EntityUpdated",
    "EventBus",
    "InvalidDocumentError",
    "InvalidEntityError",
    "InvalidInputError",
    "ItemError",
    "Job",
    "JobError",
    "JobHandle",
    "JobState",
    "MassDeleteError",
    "NotFoundError",
    "NoteType",
    "PostType",
    "Report",
    "RootUnavailableError",
    "SafetyError",
    "Settings",
    "Skip",
    "Status",
    "StoreError",
    "TransientStoreError",
    "UnsafePathError",
    "hookimpl",
    "load_settings",
]

__version__ = "0.1.0"

#: Where each public name lives. Imported on first use (PEP 562), so that ``import
#: brainsync`` (and ``brainsync mcp``, which must answer its client at once) does not load
#: the database layer and the job engine until a name that needs them is used.
_HOMES: dict[str, str] = {
    "Brain": "brainsync.app",
    "BrainsyncError": "brainsync.errors",
    "ConfigError": "brainsync.errors",
    "Conflict": "brainsync.report",
    "ConflictError": "brainsync.errors",
    "DiskFullError": "brainsync.errors",
    "ConflictFound": "brainsync.events",
    "EXIT_ITEMS_FAILED": "brainsync.errors",
    "Entity": "brainsync.entities",
    "EntityCreated": "brainsync.events",
    "EntityDeleted": "brainsync.events",
    "EntityKey": "brainsync.entities",
    "EntityType": "brainsync.entities",
    "EntityUpdated": "brainsync.events",
    "EventBus": "brainsync.events",
    "InvalidDocumentError": "brainsync.errors",
    "InvalidEntityError": "brainsync.errors",
    "InvalidInputError": "brainsync.errors",
    "ItemError": "brainsync.report",
    "Job": "brainsync.jobs",
    "JobError": "brainsync.errors",
    "JobHandle": "brainsync.jobs",
    "JobState": "brainsync.jobs",
    "MassDeleteError": "brainsync.errors",
    "NotFoundError": "brainsync.errors",
    "NoteType": "brainsync.entities",
    "PostType": "brainsync.entities",
    "Report": "brainsync.report",
    "RootUnavailableError": "brainsync.errors",
    "SafetyError": "brainsync.errors",
    "Settings": "brainsync.config",
    "Skip": "brainsync.report",
    "Status": "brainsync.status",
    "StoreError": "brainsync.errors",
    "TransientStoreError": "brainsync.errors",
    "UnsafePathError": "brainsync.errors",
    "hookimpl": "brainsync.hookspecs",
    "load_settings": "brainsync.config",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'brainsync' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
