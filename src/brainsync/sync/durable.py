"""A chunk's file changes reach the disk before its sync records commit (catalogue K2).

A sync record says "this file holds these bytes". Committed at ``synchronous=FULL`` it
survives a power cut; the file it describes must too, or the next sync would take a file
lost to the cut for a deletion (and delete its entity), or the old bytes left behind for
an edit (and import them over the entity). So, with ``durability = full``, a chunk that
changed files flushes their file system once, after its writes and before its commit:
``syncfs`` on Linux (the data and the renames of the whole chunk in one call),
``os.sync`` elsewhere. A chunk that changed no file flushes nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["flush_file_system"]


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    """libc's ``syncfs``, or None where there is none (not Linux)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        call: Callable[[int], int] = libc.syncfs
    except (OSError, AttributeError, TypeError):
        return None
    return call


def flush_file_system(folder: Path) -> None:
    """Write every change made on the file system of ``folder`` to its disk; raise
    :class:`OSError` when the disk refuses (a flush error is a lost write)."""
    syncfs = _syncfs()
    if syncfs is None:
        os.sync()
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if syncfs(fd) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"cannot flush the folder's disk: {os.strerror(errno)}")
    finally:
        os.close(fd)
