"""Racily clean files (as git calls them): a stat that may not see the next edit.

A sync record holds a file's size, mtime, ctime and inode; an edit moves at least one of
them, unless it lands within the same tick of the file system's clock as the stat the
record was made from. Such a record is made without its ctime, so the next plan hashes
the file again (catalogue B14).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from brainsync.sync.files import FileSnapshot

__all__ = ["is_racy", "signed_inode"]

#: The least racy window: the kernel stamps files from a clock that moves a tick (a
#: jiffy, 10 ms at most) at a time and may lag the real-time clock by one.
_RACY_MIN_NS = 20_000_000


def is_racy(snapshot: FileSnapshot) -> bool:
    """Whether the file may change again without its stat moving ("racily clean", as git
    calls it): its mtime is within two ticks of its file system's timestamps (whole
    seconds on some: 2 s then) of when it was looked at.

    An edit after the look stamps the file with a later ctime, and with an mtime of now:
    only a file stamped within the same tick as that edit can keep both. A file whose
    mtime was set well into the past or future (an export sets the entity's time) keeps
    no mtime through an edit, and a ``touch -r`` after it moves the ctime.
    """
    seen = snapshot.seen_ns or time.time_ns()
    tick = 1
    while tick < 1_000_000_000 and snapshot.ctime_ns % (tick * 10) == 0:
        tick *= 10  # the timestamps' step, told by the zeros the ctime ends with
    return abs(snapshot.mtime_ns - seen) <= max(_RACY_MIN_NS, 2 * tick)


def signed_inode(ino: int) -> int:
    """An inode number as the store's signed 64-bit column holds it."""
    return ino - (1 << 64) if ino >= 1 << 63 else ino
