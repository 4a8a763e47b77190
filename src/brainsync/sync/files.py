"""File reads and atomic writes inside the sync root, run in a bounded thread pool.

Writes go to a temp file in the target's folder, then ``os.replace``: a reader (or a
crash) sees the old bytes or the new bytes, never half of them. A write whose bytes equal
what is on disk is skipped, so mtimes move only when content does.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from brainsync.sync.paths import PathGuard

__all__ = ["FileIO", "FileSnapshot", "atomic_write", "read_snapshot", "remove_file"]

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


def read_snapshot(guard: PathGuard, rel: str) -> FileSnapshot | None:
    """Read one file under the guard's root; ``None`` when it does not exist (any more)."""
    target = guard.check(rel)
    try:
        fd = os.open(target, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except (FileNotFoundError, NotADirectoryError):
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        data = handle.read()
    return FileSnapshot(rel, data, hashlib.sha256(data).hexdigest(), info.st_size, info.st_mtime_ns)


def atomic_write(
    guard: PathGuard, rel: str, data: bytes, mtime: datetime | None, *, fsync: bool = False
) -> os.stat_result:
    """Write ``data`` to ``rel`` under the guard's root atomically; return the new stat.

    The temp file starts with a dot, so a scan that runs meanwhile ignores it.
    """
    target = guard.make_parent(rel)
    folder, name = os.path.split(target)
    temp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if fsync:
                os.fsync(fd)
            if mtime is not None:
                stamp = int(mtime.timestamp() * 1_000_000_000)
                os.utime(fd, ns=(stamp, stamp))
            info = os.fstat(fd)  # a rename keeps size and mtime: no stat of the target needed
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return info


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
