"""The one exception root of brainsync and its tree.

Every error the library raises on purpose derives from :class:`BrainsyncError`. The
subclasses are grouped by what the caller can do about them, and each carries the exit
code the CLI uses, so interfaces map errors mechanically::

    BrainsyncError                 exit 1   anything else that went wrong
    +-- NotFoundError              exit 3   an entity, job or path that does not exist
    +-- InvalidInputError          exit 2   bad arguments, ids, paths or documents
    |   +-- InvalidDocumentError            a markdown file that cannot be parsed
    |   +-- InvalidEntityError              metadata that fails its type's schema
    |   +-- UnsafePathError                 an id or path that would leave the root
    +-- ConflictError              exit 4   both sides changed and the policy says fail
    +-- SafetyError                exit 5   the sync refused to act to protect data
    |   +-- RootUnavailableError            sync directory missing, empty or unreadable
    |   +-- MassDeleteError                 too many deletions without --force-deletes
    +-- StoreError                 exit 6   the database failed (driver errors wrapped)
    |   +-- TransientStoreError             locked or busy: worth retrying
    +-- JobError                   exit 7   a background job could not run as asked
    +-- ConfigError                exit 8   settings that cannot be used
"""

from __future__ import annotations

__all__ = [
    "EXIT_ITEMS_FAILED",
    "BrainsyncError",
    "ConfigError",
    "ConflictError",
    "InvalidDocumentError",
    "InvalidEntityError",
    "InvalidInputError",
    "JobError",
    "MassDeleteError",
    "NotFoundError",
    "RootUnavailableError",
    "SafetyError",
    "StoreError",
    "TransientStoreError",
    "UnsafePathError",
    "error_from_description",
]

#: Exit code of a run that finished but where some items failed (the report lists them).
EXIT_ITEMS_FAILED = 10


class BrainsyncError(Exception):
    """Root of every error brainsync raises on purpose."""

    exit_code: int = 1


class NotFoundError(BrainsyncError):
    """The entity, job or path asked for does not exist."""

    exit_code = 3


class InvalidInputError(BrainsyncError):
    """Arguments, ids, paths or documents that cannot be accepted."""

    exit_code = 2


class InvalidDocumentError(InvalidInputError):
    """A markdown document whose frontmatter cannot be parsed safely."""


class InvalidEntityError(InvalidInputError):
    """Metadata that fails the schema of its entity type."""


class UnsafePathError(InvalidInputError):
    """An id or path that would resolve outside the sync root."""


class ConflictError(BrainsyncError):
    """Both sides changed and the conflict policy says to stop."""

    exit_code = 4


class SafetyError(BrainsyncError):
    """The sync refused to act because acting could lose data."""

    exit_code = 5


class RootUnavailableError(SafetyError):
    """The sync directory is missing, unreadable or suspiciously empty."""


class MassDeleteError(SafetyError):
    """More deletions than the configured share; needs an explicit force."""


class StoreError(BrainsyncError):
    """The database failed; the driver's error is chained as ``__cause__``."""

    exit_code = 6


class TransientStoreError(StoreError):
    """A store error worth retrying: the database was locked or busy."""


class JobError(BrainsyncError):
    """A background job could not be enqueued, run, cancelled or resumed as asked."""

    exit_code = 7


class ConfigError(BrainsyncError):
    """Settings that cannot be used."""

    exit_code = 8


def error_from_description(description: str) -> BrainsyncError:
    """Rebuild an error from a stored ``"...ClassName: message"`` description.

    A failed background job stores its error as text (the job may have run in another
    process); this finds the most specific brainsync error class named in it, so the CLI
    can still exit with that class's code. Unknown names give a :class:`JobError`.
    """
    named = [c for c in _subclasses(BrainsyncError) if f"{c.__name__}:" in description]
    if not named:
        return JobError(description)
    return max(named, key=lambda cls: len(cls.__mro__))(description)


def _subclasses(root: type[BrainsyncError]) -> list[type[BrainsyncError]]:
    found = [root]
    for sub in root.__subclasses__():
        found.extend(_subclasses(sub))
    return found
