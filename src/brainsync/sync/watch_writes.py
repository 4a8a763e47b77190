"""Which files are still being written, so that a slow writer's save is one version.

A save that pauses mid-write (half the file, a pause, the rest) looks like two saves to a
quiet-time check. On Linux the kernel says when a file opened for writing is closed
(inotify ``IN_CLOSE_WRITE``), which ``watchfiles`` does not pass on. :class:`WriteTracker`
keeps its own inotify instance over the folder tree and holds a path from its first
modification until its writer closes it, at most :data:`MAX_HOLD_SECONDS` (a writer that
keeps a file open longer is judged by the quiet-time check after that). A close of a held
path is reported at once (``closed``), so an ordinary save waits for nothing more than
before. Where there is no inotify, :func:`open_tracker` gives None and the watcher's
quiet-time check (size and mtime unchanged for the debounce time) is the settle check.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from watchfiles import Change

from brainsync.sync.ignore import builtin_dir_rule
from brainsync.sync.watch_files import ages_below, hints_from_changes
from brainsync.sync.watch_inotify import Inotify, InotifyEvent, Mask, open_inotify
from brainsync.sync.watch_queue import HintKind

__all__ = [
    "MAX_HOLD_SECONDS",
    "OVERFLOW",
    "Settling",
    "WriteHooks",
    "WriteTracker",
    "open_tracker",
]

log = logging.getLogger(__name__)

#: The longest a path is held back while a writer keeps it open.
MAX_HOLD_SECONDS = 5.0
OVERFLOW = (
    "the kernel's event queue overflowed (fs.inotify.max_queued_events): files being "
    "written may have been missed; rescanning the whole folder"
)
_FOLDER_MASK = (
    Mask.MODIFY
    | Mask.CLOSE_WRITE
    | Mask.CREATE
    | Mask.MOVED_TO
    | Mask.MOVED_FROM
    | Mask.DELETE
    | Mask.DELETE_SELF
)
_POLL_MS = 500  # the thread checks for a stop this often


@dataclass(frozen=True)
class WriteHooks:
    """What a tracker reports (from its thread, or from a caller of :meth:`holds`)."""

    #: A held path's writer closed it: look at it now.
    closed: Callable[[str], None]
    #: Something was missed (an overflow) or the tracker stopped: the message says which.
    lost: Callable[[str], None]


class WriteTracker:
    """Paths modified and not yet closed under one root, from one inotify instance."""

    def __init__(
        self, root: Path, inotify: Inotify, hooks: WriteHooks, max_hold: float = MAX_HOLD_SECONDS
    ) -> None:
        self._root = root
        self._inotify = inotify
        self._hooks = hooks
        self._max_hold = max_hold
        self._lock = threading.Lock()
        self._folders: dict[int, str] = {}  # watch descriptor -> folder ("" is the root)
        self._open: dict[str, float] = {}  # path -> when its first unclosed write was seen
        self._held: set[str] = set()  # paths a caller was told to wait for: their close is news
        self._stop = threading.Event()
        self._dead: str | None = None
        self._thread = threading.Thread(target=self._run, name="brainsync-watch-writes")

    def start(self) -> None:
        """Watch every folder a sync enters, then follow events in a thread.

        OSError when a watch cannot be added (the system's watch limit).
        """
        self._watch_tree("")
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close the instance."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._inotify.close()

    def holds(self, paths: Iterable[str], now: float) -> dict[str, float]:
        """The paths still being written, each with the time its hold ends (monotonic);
        their close is reported (``closed``).

        Reads the kernel's queue first, so whatever a hint reported is known here too.
        """
        closed, notes = self._drain(now)
        self._report(closed, notes)
        with self._lock:
            if self._dead is not None:
                return {}
            ends = {path: self._open[path] + self._max_hold for path in paths if path in self._open}
            held = {path: end for path, end in ends.items() if end > now}
            self._held.update(held)
        return held

    def open_until(self, now: float) -> float | None:
        """When the last hold of a file being written anywhere ends, or None if none is."""
        self._report(*self._drain(now))
        with self._lock:
            if self._dead is not None:
                return None
            end = max((first + self._max_hold for first in self._open.values()), default=now)
        return end if end > now else None

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._inotify.fd, select.POLLIN)
        try:
            while not self._stop.is_set():
                if poller.poll(_POLL_MS):
                    self._report(*self._drain(time.monotonic()))
        except Exception as exc:  # a dead tracker is said, never silent
            log.exception("the tracker of files being written failed")
            with self._lock:
                self._dead = f"{type(exc).__name__}: {exc}"
            self._hooks.lost(
                f"the tracker of files being written stopped ({self._dead}); a save is now "
                "taken once it is quiet for the debounce time"
            )

    def _report(self, closed: list[str], notes: list[str]) -> None:
        for note in notes:
            self._hooks.lost(note)
        for path in closed:
            self._hooks.closed(path)

    def _drain(self, now: float) -> tuple[list[str], list[str]]:
        """Apply every queued event; the held paths now closed, and what to warn of."""
        closed: list[str] = []
        notes: list[str] = []
        with self._lock:
            if self._dead is not None or self._inotify.fd < 0:
                return closed, notes
            for event in self._inotify.read():
                note = self._apply(event, now, closed)
                if note is not None and note not in notes:
                    notes.append(note)
        return closed, notes

    def _apply(self, event: InotifyEvent, now: float, closed: list[str]) -> str | None:
        if event.mask & Mask.Q_OVERFLOW:
            self._open.clear()  # which files are open is unknown now
            self._held.clear()  # their closes may be lost: their holds end (a rescan follows)
            return OVERFLOW
        folder = self._folders.get(event.wd)
        if folder is None:
            return None
        if event.mask & (Mask.IGNORED | Mask.DELETE_SELF):
            self._folders.pop(event.wd, None)
            return None
        path = f"{folder}/{event.name}" if folder else event.name
        if event.mask & Mask.ISDIR:
            if event.mask & (Mask.CREATE | Mask.MOVED_TO):
                return self._watch_new(path)
            return None
        if event.mask & Mask.MODIFY:
            self._open.setdefault(path, now)
        if event.mask & Mask.CLOSE_WRITE:
            self._open.pop(path, None)
            if path in self._held:  # an ordinary save was never held: its hint is enough
                self._held.discard(path)
                closed.append(path)
        elif event.mask & (Mask.DELETE | Mask.MOVED_FROM):
            self._open.pop(path, None)
            self._held.discard(path)
        return None

    # -- watches ---------------------------------------------------------------------------

    def _watch_new(self, folder: str) -> str | None:
        try:
            self._watch_tree(folder)
        except OSError as exc:
            return f"cannot follow writes in the new folder {folder} ({_why(exc)})"
        return None

    def _watch_tree(self, top: str) -> None:
        """Watch ``top`` and every folder under it that a sync enters (links never)."""
        pending = [top]
        while pending:
            folder = pending.pop()
            try:
                wd = self._inotify.add_watch(str(self._root / folder), _FOLDER_MASK)
            except (FileNotFoundError, NotADirectoryError):
                continue  # gone meanwhile, or a link
            self._folders[wd] = folder
            pending.extend(_subfolders(self._root, folder))


def _subfolders(root: Path, folder: str) -> list[str]:
    try:
        with os.scandir(root / folder if folder else root) as entries:
            return [
                f"{folder}/{entry.name}" if folder else entry.name
                for entry in entries
                if entry.is_dir(follow_symlinks=False) and builtin_dir_rule(entry.name) is None
            ]
    except OSError:
        return []


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:  # what inotify says at the watch limit
        return "the system's watch limit is reached: raise fs.inotify.max_user_watches"
    return exc.strerror or str(exc)


def open_tracker(root: Path, hooks: WriteHooks) -> tuple[WriteTracker | None, str | None]:
    """A started tracker for ``root``, or None with the reason (no inotify, or the watch
    limit): the quiet-time check is then all a slow writer meets."""
    inotify = open_inotify()
    if inotify is None:
        return None, None  # not Linux: nothing to say, the settle check is the design
    tracker = WriteTracker(root, inotify, hooks)
    try:
        tracker.start()
    except OSError as exc:
        inotify.close()
        reason = (
            f"cannot tell files still being written ({_why(exc)}); a save is taken once "
            "it is quiet for the debounce time"
        )
        return None, reason
    return tracker, None


class Settling:
    """Which hinted paths a sync may look at now: closed by their writer (where the
    system says so) and quiet for the debounce time; the others wait, each until when."""

    def __init__(
        self,
        root: Path,
        quiet: float,
        hints: Callable[[list[tuple[HintKind, str]]], None],
        warning: Callable[[str], None],
    ) -> None:
        self._root, self._quiet = root, quiet
        self._hints, self._warning = hints, warning
        self._lock = threading.Lock()
        self._tracker: WriteTracker | None = None

    def open(self) -> None:
        """Start following writes (a reason is warned of when that cannot be)."""
        tracker, problem = open_tracker(self._root, WriteHooks(self._closed, self._warning))
        with self._lock:
            self._tracker = tracker
        if problem is not None:
            self._warning(problem)

    def close(self) -> None:
        """Stop following writes."""
        with self._lock:
            tracker, self._tracker = self._tracker, None
        if tracker is not None:
            tracker.stop()

    def split(self, paths: list[str], now: float) -> tuple[list[str], dict[str, float]]:
        """The paths ready now, and the others with the time to look at them again (a
        held one sooner, when its writer closes it: :meth:`_closed` hints it again)."""
        with self._lock:
            tracker = self._tracker
        wait = tracker.holds(paths, now) if tracker is not None else {}
        young = ages_below(self._root, [path for path in paths if path not in wait], self._quiet)
        wait.update({path: now + self._quiet - age for path, age in young.items()})
        return [path for path in paths if path not in wait], wait

    def writing_until(self, now: float) -> float | None:
        """When no file is being written any more (at the latest), or None if none is now."""
        with self._lock:
            tracker = self._tracker
        return tracker.open_until(now) if tracker is not None else None

    def _closed(self, path: str) -> None:
        self._hints(hints_from_changes(self._root, [(Change.modified, str(self._root / path))]))
