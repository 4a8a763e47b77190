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
    +-- DiskFullError              exit 9   the disk of the folder or the state folder is full

An error that ended a background job is rebuilt in the process that follows the job
(:func:`job_failure`), with the same class and exit code, and the job's id attached.
"""

from __future__ import annotations

import errno
import os

__all__ = [
    "EXIT_ITEMS_FAILED",
    "BrainsyncError",
    "ConfigError",
    "ConflictError",
    "DiskFullError",
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
    "disk_full",
    "job_failure",
    "named_in",
]

#: Exit code of a run that finished but where some items failed (the report lists them).
EXIT_ITEMS_FAILED = 10


class BrainsyncError(Exception):
    """Root of every error brainsync raises on purpose."""

    exit_code: int = 1
    #: The background job that ended with this error, when it came from one.
    job_id: str | None = None

    def to_dict(self) -> dict[str, str | int]:
        """The JSON view of the error: its class name, message and exit code."""
        return {"type": type(self).__name__, "message": str(self), "exit_code": self.exit_code}


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


class DiskFullError(BrainsyncError):
    """No space left (ENOSPC, EDQUOT) on the disk of the synced folder or the state folder.

    The message names the disk and what was left undone; the run stopped, and the next
    run after space is freed finishes the work.
    """

    exit_code = 9


#: errno values of a full disk or an exhausted quota.
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: SQLite's SQLITE_FULL (the low byte of its extended codes).
_SQLITE_FULL = 13
#: SQLite's SQLITE_IOERR.
_SQLITE_IOERR = 10
#: PostgreSQL's SQLSTATE class 53 ("insufficient resources"): disk full, out of memory.
_PG_DISK_FULL = frozenset({"53100"})


def disk_full(exc: BaseException | None, folder: str | None = None) -> bool:
    """Whether ``exc``, or an error it was raised from, says a disk or quota is full.

    SQLite reports some writes refused for space as a plain I/O error (its journal or
    shared-memory file could not grow): with the ``folder`` of its file, such an error
    counts when that folder's disk has no block left.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DiskFullError):
            return True
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF == _SQLITE_FULL:
            return True
        if isinstance(code, int) and code & 0xFF == _SQLITE_IOERR and _no_space(folder):
            return True
        if getattr(exc, "sqlstate", None) in _PG_DISK_FULL:
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return False


def _no_space(folder: str | None) -> bool:
    if folder is None:
        return False
    try:
        return os.statvfs(folder).f_bavail == 0
    except OSError:
        return False


def named_in(description: str) -> tuple[type[BrainsyncError], str]:
    """The most specific error class named in a ``"...ClassName: message"`` text, and the message.

    A failed job's error is stored as text that names the error it started from (the job
    may have run in another process); the message is what follows that class's name.
    Text that names no brainsync class gives :class:`JobError` and the whole text.
    """
    named = [c for c in _subclasses(BrainsyncError) if f"{c.__name__}: " in description]
    if not named:
        return JobError, description
    cls = max(named, key=lambda c: len(c.__mro__))
    return cls, description.rpartition(f"{cls.__name__}: ")[2]


def job_failure(type_name: str, message: str, exit_code: int, job_id: str) -> BrainsyncError:
    """The error a job ended with, rebuilt from its record: same class, exit code and message."""
    known = {c.__name__: c for c in _subclasses(BrainsyncError)}
    error = known.get(type_name, JobError)(message)
    # The record's code wins: the job may have run a version that knows more classes.
    error.exit_code = exit_code
    error.job_id = job_id
    return error


def _subclasses(root: type[BrainsyncError]) -> list[type[BrainsyncError]]:
    found = [root]
    for sub in root.__subclasses__():
        found.extend(_subclasses(sub))
    return found
