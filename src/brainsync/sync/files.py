"""File reads and atomic writes inside the sync root, run in a bounded thread pool.

Writes go to a temp file in the target's folder, then ``os.replace``: a reader (or a
crash) sees the old bytes or the new bytes, never half of them. A write whose bytes equal
what is on disk is skipped, so mtimes move only when content does.

A writer killed mid-write (SIGKILL, power loss) leaves its temp file behind. The name
says whose it is (``.<name>.<host>-<pid>-<hex>.brainsync-tmp``), so the next run removes
it with :func:`sweep_temp_files` once that writer cannot still be running, and never
touches a file of anyone else.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import hashlib
import logging
import os
import random
import re
import socket
import stat as stat_module
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from brainsync.sync.ignore import BRAINSYNC_TEMP, TEMP_SUFFIX, IgnoreRules
from brainsync.sync.paths import MAX_NAME_BYTES, PathGuard
from brainsync.sync.racy import signed_inode

__all__ = [
    "TEMP_MAX_AGE_SECONDS",
    "FileIO",
    "FileSnapshot",
    "atomic_write",
    "is_read_only",
    "read_snapshot",
    "remove_file",
    "snapshot_of",
    "sweep_temp_files",
    "temp_name",
]

#: A temp file this old is stale whoever wrote it: no single write takes an hour.
TEMP_MAX_AGE_SECONDS = 3600

log = logging.getLogger(__name__)

#: Bytes asked of each read after the first (which asks for the whole file).
_BLOCK = 1 << 16
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_TEMP_ATTEMPTS = 8

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class FileSnapshot:
    """A file as read in one go: its bytes, hash and the stat taken with them."""

    path: str
    data: bytes
    file_hash: str
    size: int
    mtime_ns: int
    ctime_ns: int = 0
    inode: int = 0
    #: When the stat was taken (0: not known), for :func:`is_racy`.
    seen_ns: int = 0


def snapshot_of(path: str, file_hash: str, info: os.stat_result, data: bytes = b"") -> FileSnapshot:
    """The snapshot of a file of ``file_hash`` whose stat ``info`` was taken just now."""
    inode = signed_inode(info.st_ino)
    seen = time.time_ns()
    return FileSnapshot(
        path, data, file_hash, info.st_size, info.st_mtime_ns, info.st_ctime_ns, inode, seen
    )


def read_snapshot(guard: PathGuard, rel: str) -> FileSnapshot | None:
    """Read one file under the guard's root; ``None`` when it does not exist (any more)."""
    target = guard.locate(rel)
    if target is None:
        return None  # a parent folder is missing: no need to try the file
    try:
        fd = os.open(target, os.O_RDONLY | _NOFOLLOW)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        info = os.fstat(fd)
        data = _read_to_end(fd, info.st_size)
    finally:
        os.close(fd)
    return snapshot_of(rel, hashlib.sha256(data).hexdigest(), info, data)


def _read_to_end(fd: int, size: int) -> bytes:
    """Every byte from ``fd``: the size the stat gave (and one more) in one read, then on
    to the end, as a file may grow meanwhile. Plain ``os.read``: a file object would cost
    three system calls more."""
    blocks = []
    want = size + 1
    while block := os.read(fd, want):
        blocks.append(block)
        want = _BLOCK
    return b"".join(blocks)


class _Look(enum.Enum):
    """``existing`` of :func:`atomic_write` when the caller has not looked at the target."""

    LOOK = 0


def atomic_write(
    guard: PathGuard,
    rel: str,
    data: bytes,
    mtime: datetime | None,
    *,
    fsync: bool = False,
    existing: os.stat_result | _Look | None = _Look.LOOK,
) -> os.stat_result:
    """Write ``data`` to ``rel`` under the guard's root atomically; return the new stat.

    The temp file (see :func:`temp_name`) is one the scan ignores while it exists. Per
    file this is the least a write that is never torn can do (K1): create the temp file,
    write, set the mtime, rename, stat it (what the sync record holds, as the file system
    keeps it: a rename moves the ctime), close; no file object.

    A file that is replaced keeps its permission bits, and its owner and group where the
    process may set them (P1); a new one gets ``0666`` less the umask, as any program's.
    ``existing``: the target's ``lstat`` when the caller just took it (None: no file).
    Folders made for a write that fails are removed again (B13).
    """
    before = _lstat(guard.check(rel)) if existing is _Look.LOOK else existing
    made = guard.missing_parents(rel)
    try:
        return _replace(guard, rel, data, mtime, fsync, before)
    except BaseException:
        guard.remove_empty(made)
        raise


def _replace(
    guard: PathGuard,
    rel: str,
    data: bytes,
    mtime: datetime | None,
    fsync: bool,
    before: os.stat_result | None,
) -> os.stat_result:
    target = guard.make_parent(rel)
    name = rel.rpartition("/")[2]
    fd, temp = _create_temp(target[: -len(name)], name)
    try:
        try:
            if before is not None and stat_module.S_ISREG(before.st_mode):
                _keep_mode(fd, before)
            _write_all(fd, data)
            if fsync:
                os.fsync(fd)
            if mtime is not None:
                stamp = int(mtime.timestamp() * 1_000_000_000)
                os.utime(fd, ns=(stamp, stamp))
            os.replace(temp, target)
            return os.fstat(fd)  # after the rename: the ctime it set, the file's inode
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def _keep_mode(fd: int, before: os.stat_result) -> None:
    """Give the temp file the mode, owner and group of the file it replaces."""
    if (before.st_uid, before.st_gid) != (_EUID, _EGID) and _EUID is not None:
        try:
            os.fchown(fd, before.st_uid, before.st_gid)  # root, or same owner (the group)
        except PermissionError:
            with contextlib.suppress(OSError):
                os.fchown(fd, -1, before.st_gid)  # the owner may give one of its groups
    if hasattr(os, "fchmod"):  # not on Windows before Python 3.13
        os.fchmod(fd, stat_module.S_IMODE(before.st_mode))  # after a chown: it clears suid


def is_read_only(info: os.stat_result | None) -> bool:
    """Whether a file has no write bit at all (root could write it: the bits say no)."""
    return info is not None and not info.st_mode & 0o222


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


_EUID = os.geteuid() if hasattr(os, "geteuid") else None
_EGID = os.getegid() if hasattr(os, "getegid") else None


def _create_temp(folder: str, name: str) -> tuple[int, str]:
    """Create a new temp file for ``name`` in ``folder`` (ending in a separator): its
    descriptor and path. Mode ``0666``: the system takes the umask (or a folder's default
    ACL) off, as for any new file."""
    for _ in range(_TEMP_ATTEMPTS):
        temp = folder + temp_name(name)
        try:
            return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temp
        except FileExistsError:
            continue  # the same random token twice: draw another
    raise FileExistsError(f"no free temp file name for {name!r} in {folder!r}")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def temp_name(name: str, pid: int | None = None) -> str:
    """The temp file name for a write of ``name`` by process ``pid`` (default: this one).

    ``name`` is cut, at a character boundary, so that the temp name fits in a file name.
    """
    # the token only has to differ from this process's other temp names (O_EXCL catches
    # the rare repeat): no system call for it, as ``secrets`` would make
    tail = f".{_host_tag()}-{pid or os.getpid()}-{random.getrandbits(32):08x}{TEMP_SUFFIX}"
    room = MAX_NAME_BYTES - 1 - len(tail)
    stem = name.encode("utf-8", "surrogateescape")[:room].decode("utf-8", "ignore")
    return f".{stem}{tail}"


def sweep_temp_files(
    root: Path, listed: Iterable[str] | None = None, *, now: float | None = None
) -> list[str]:
    """Remove the temp files that killed writers left under ``root``; their relative paths.

    A temp file goes when its writer was on this host and its pid is not alive, or when
    it has not changed for :data:`TEMP_MAX_AGE_SECONDS`. ``listed``: the temp files a scan
    of ``root`` just found (a full plan's scan lists them), which spares a walk of the
    folder; without it the sweep walks ``root`` itself. Folders the scan skips are not
    entered (brainsync writes none there); nothing here raises for a file system error.
    """
    clock = time.time() if now is None else now
    candidates = _temp_candidates(root) if listed is None else _named(root, listed)
    removed: list[str] = []
    for rel, path, found in candidates:
        if _is_stale(path, found, clock):
            with contextlib.suppress(OSError):
                os.unlink(path)
                removed.append(rel)
    if removed:
        log.info("removed %d temp files left by interrupted writes in %s", len(removed), root)
    return removed


def _named(root: Path, listed: Iterable[str]) -> Iterator[tuple[str, str, re.Match[str]]]:
    for rel in listed:
        if (found := BRAINSYNC_TEMP.fullmatch(rel.rpartition("/")[2])) is not None:
            yield rel, os.path.join(root, rel), found


def _temp_candidates(root: Path) -> Iterator[tuple[str, str, re.Match[str]]]:
    rules = IgnoreRules(root)
    pending = [(str(root), "")]
    while pending:
        folder, rel = pending.pop()
        try:
            with os.scandir(folder) as entries:
                listed = list(entries)
        except OSError:
            continue  # missing or unreadable: the scan reports it, the sweep just moves on
        for entry in listed:
            rel_path = f"{rel}/{entry.name}" if rel else entry.name
            if _is_folder(entry):
                if rules.dir_rule(rel_path, entry.name) is None:
                    pending.append((entry.path, rel_path))
            elif (found := BRAINSYNC_TEMP.fullmatch(entry.name)) is not None:
                yield rel_path, entry.path, found


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _is_stale(path: str, found: re.Match[str], now: float) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if not stat_module.S_ISREG(info.st_mode):
        return False
    # the ctime, not the mtime: atomic_write sets the mtime to the entity's updated time
    if now - info.st_ctime > TEMP_MAX_AGE_SECONDS:
        return True
    return found["host"] == _host_tag() and not _pid_alive(int(found["pid"]))


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # signal 0 is CTRL_C_EVENT there: rely on the age alone
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    except (OverflowError, OSError):
        return False  # no such pid can exist
    return True


@functools.cache
def _host_tag() -> str:
    """A short, file-name-safe stand-in for this host's name (asked once per process)."""
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def remove_file(guard: PathGuard, rel: str) -> bool:
    """Delete ``rel`` under the guard's root; False when it was already gone."""
    try:
        os.unlink(guard.check(rel))
    except FileNotFoundError:
        return False
    return True


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class FileIO:
    """A bounded thread pool running file work in sub-batches (one task per batch).

    One task per file costs more in scheduling than it saves; one task per sub-batch keeps
    every thread busy with little overhead.
    """

    def __init__(self, threads: int, batch: int = 50) -> None:
        self._threads = threads
        self._batch = batch
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> FileIO:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the pool's threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def map(self, func: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[func(i) for i in items]``, run across the pool, in input order."""
        work = list(items)
        if self._threads <= 1 or len(work) <= self._batch:
            return [func(item) for item in work]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="brainsync-io")
        size = max(1, min(self._batch, -(-len(work) // self._threads)))
        futures = [
            self._pool.submit(lambda batch: [func(i) for i in batch], batch)
            for batch in _batches(work, size)
        ]
        return [result for future in futures for result in future.result()]
