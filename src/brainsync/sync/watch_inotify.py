"""Linux inotify through ``ctypes``: the close-after-writing events ``watchfiles`` drops.

Only what :mod:`~brainsync.sync.watch_writes` needs: one non-blocking inotify instance,
watches added and removed by folder, and the kernel's event records parsed into typed
:class:`InotifyEvent` values (:func:`parse_events` is pure, so it is tested with made-up
buffers, an overflow record included). :func:`open_inotify` returns ``None`` where there
is no inotify (not Linux, no libc symbol, or the kernel refuses an instance).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import enum
import os
import struct
import sys
from dataclasses import dataclass

__all__ = ["Inotify", "InotifyEvent", "Mask", "open_inotify", "parse_events"]

_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (struct inotify_event)
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = getattr(os, "O_CLOEXEC", 0o2000000)
_IN_ONLYDIR = 0x01000000
_IN_DONT_FOLLOW = 0x02000000


class Mask(enum.IntFlag):
    """The inotify event bits this package asks for or reads."""

    MODIFY = 0x00000002
    CLOSE_WRITE = 0x00000008
    MOVED_FROM = 0x00000040
    MOVED_TO = 0x00000080
    CREATE = 0x00000100
    DELETE = 0x00000200
    DELETE_SELF = 0x00000400
    MOVE_SELF = 0x00000800
    Q_OVERFLOW = 0x00004000
    IGNORED = 0x00008000
    ISDIR = 0x40000000


@dataclass(frozen=True)
class InotifyEvent:
    """One kernel event: the watch it came from, its bits and the entry's name ("" for
    the watched folder itself or an overflow)."""

    wd: int
    mask: Mask
    name: str


def parse_events(buffer: bytes) -> list[InotifyEvent]:
    """The events in one ``read`` of an inotify descriptor (whole records only)."""
    events: list[InotifyEvent] = []
    offset = 0
    while offset + _HEADER.size <= len(buffer):
        wd, mask, _cookie, length = _HEADER.unpack_from(buffer, offset)
        raw = buffer[offset + _HEADER.size : offset + _HEADER.size + length]
        name = os.fsdecode(raw.split(b"\0", 1)[0])
        events.append(InotifyEvent(wd, Mask(mask), name))
        offset += _HEADER.size + length
    return events


class Inotify:
    """One non-blocking inotify instance (close it when done)."""

    def __init__(self, libc: ctypes.CDLL, fd: int) -> None:
        self._libc = libc
        self.fd = fd

    def add_watch(self, folder: str, mask: Mask) -> int:
        """Watch ``folder`` (never a link, only a folder); its watch descriptor.

        Adding a folder watched already returns its descriptor again. OSError on failure
        (ENOSPC: the system's watch limit; ENOENT/ENOTDIR: gone or not a folder).
        """
        flags = int(mask) | _IN_ONLYDIR | _IN_DONT_FOLLOW
        wd = int(self._libc.inotify_add_watch(self.fd, os.fsencode(folder), flags))
        if wd < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno), folder)
        return wd

    def read(self) -> list[InotifyEvent]:
        """Every event queued now (none when the queue is empty: never blocks)."""
        events: list[InotifyEvent] = []
        while True:
            try:
                buffer = os.read(self.fd, 65536)
            except BlockingIOError:
                return events
            if not buffer:
                return events
            events.extend(parse_events(buffer))

    def close(self) -> None:
        """Close the descriptor (every watch goes with it)."""
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


def open_inotify() -> Inotify | None:
    """A new inotify instance, or None where the system has none to give."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fd = int(libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC))
    except (OSError, AttributeError):
        return None
    if fd < 0:
        return None  # EMFILE: the per-user instance limit
    return Inotify(libc, fd)
