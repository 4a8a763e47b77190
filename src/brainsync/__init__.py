"""brainsync: keep a database of typed markdown entities in two-way sync with files.

The public API is what ``__all__`` lists; everything else is internal and may change.
Start with :class:`Brain` (the facade) and :func:`load_settings`.
"""

from brainsync.app import Brain
from brainsync.config import Settings, load_settings
from brainsync.entities import Entity, EntityKey, EntityType, NoteType, PostType
from brainsync.errors import (
    EXIT_ITEMS_FAILED,
    BrainsyncError,
    ConfigError,
    ConflictError,
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
from brainsync.events import ConflictFound, EntityCreated, EntityDeleted, EntityUpdated, EventBus
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
