"""The file side of watching: ``watchfiles`` in a thread, turned into path hints.

``watchfiles`` loses events without saying so (queue overflows, files written right after
a ``mkdir``, a deleted root that goes quiet for good), pairs no renames and orders nothing,
so an event only ever names a path to look at again. This module arms the watcher, keeps
checking that the root is still the folder it armed on (a moved, deleted or unmounted
root pauses it), re-arms when the root returns, and falls back to polling when the
system's watch limit is reached, saying so.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import watchfiles

from brainsync.errors import RootUnavailableError
from brainsync.store import FolderRecord
from brainsync.sync.ignore import IgnoreRule, builtin_dir_rule, builtin_file_rule
from brainsync.sync.scan import check_root, root_identity
from brainsync.sync.watch_queue import HintKind

__all__ = [
    "CRASH_ADVICE",
    "LIMIT_ADVICE",
    "FileWatch",
    "FileWatchHooks",
    "RootGuard",
    "ages_below",
    "hints_from_changes",
]

log = logging.getLogger(__name__)

LIMIT_ADVICE = (
    "the file watcher failed ({error}); the system's watch limit may be reached: raise "
    "fs.inotify.max_user_watches (sudo sysctl fs.inotify.max_user_watches=524288). "
    "Polling the directory instead, with periodic rescans"
)
CRASH_ADVICE = (
    "the file watcher stopped on an unexpected error ({error}); restarting it and "
    "rescanning the whole folder"
)
#: How long one wait inside watchfiles may last: the root is re-checked this often.
_RUST_TIMEOUT_MS = 500


@dataclass(frozen=True)
class FileWatchHooks:
    """What the file watch reports to its owner (each called from the watch thread)."""

    hints: Callable[[list[tuple[HintKind, str]]], None]
    armed: Callable[[], None]
    #: The root is gone or replaced (reason), or back (None).
    root_lost: Callable[[str | None], None]
    warning: Callable[[str], None]


def hints_from_changes(
    root: Path, changes: Iterable[tuple[Any, str]]
) -> list[tuple[HintKind, str]]:
    """The paths worth a look among raw ``(Change, absolute path)`` pairs.

    A path in a folder no sync enters, or a file no sync reads (editor temp and backup
    files, our own temp files), is dropped here; everything else is only a hint.
    """
    found: dict[str, HintKind] = {}
    for change, absolute in changes:
        rel = os.path.relpath(absolute, root).replace(os.sep, "/")
        if rel == "." or rel.startswith("../"):
            continue
        deleted = change == watchfiles.Change.deleted
        if _worth_a_look(root, rel, deleted):
            kind = HintKind.DELETED if deleted else HintKind.CHANGED
            # a path both deleted and added in one batch exists now: look at once
            if found.get(rel) is not HintKind.CHANGED:
                found[rel] = kind
    return sorted(((kind, rel) for rel, kind in found.items()), key=lambda item: item[1])


def _worth_a_look(root: Path, rel: str, deleted: bool) -> bool:
    *folders, name = rel.split("/")
    if any(builtin_dir_rule(folder) is not None for folder in folders):
        return False
    rule = builtin_file_rule(name)
    if rule is None:
        return True
    if rule is not IgnoreRule.NOT_MARKDOWN:
        return False
    # not a note's name: it matters only as a folder (a new one, or one that vanished)
    return deleted or (root / rel).is_dir()


def ages_below(root: Path, paths: Iterable[str], limit: float) -> dict[str, float]:
    """The paths whose file changed less than ``limit`` seconds ago, with their age.

    A path that is gone is never young (its delete was already delayed).
    """
    wall = time.time()
    young: dict[str, float] = {}
    for path in paths:
        try:
            age = wall - (root / path).stat().st_mtime
        except OSError:
            continue
        if 0 <= age < limit:  # a future mtime (clock skew, touch -d) cannot be waited out
            young[path] = age
    return young


class RootGuard:
    """Tells whether the root is still the folder a watcher started on."""

    def __init__(
        self, root: Path, folder: str, find_folder: Callable[[], FolderRecord | None]
    ) -> None:
        self._root = root
        self._folder = folder
        self._find = find_folder
        self._identity = root_identity(root)

    def problem(self) -> str | None:
        """Why the root cannot be synced now (gone, unreadable, another folder), or None."""
        try:
            check_root(self._root)
            identity = root_identity(self._root)
        except (RootUnavailableError, OSError) as exc:
            return str(exc)
        if identity != self._identity:
            found = self._find()
            if found is None or found.id != self._folder:
                return f"{self._root} is no longer folder {self._folder} (replaced?)"
            self._identity = identity  # the same folder, back from a move or a remount
        return None


class FileWatch:
    """Runs ``watchfiles.watch`` on one root in a thread until stopped."""

    def __init__(
        self,
        root: Path,
        hooks: FileWatchHooks,
        root_ok: Callable[[], str | None],
        debounce_ms: int,
        batch_max_ms: int,
        poll_seconds: float,
    ) -> None:
        self._root = root
        self._hooks = hooks
        self._root_ok = root_ok
        self._step = debounce_ms
        self._debounce = max(batch_max_ms, debounce_ms)
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._force_polling = False
        self._armed_once = False
        #: Why the watcher gave up before it ever armed (start must not wait for it).
        self.failure: str | None = None
        self._thread = threading.Thread(target=self._run, name="brainsync-watch-files")

    def start(self) -> None:
        """Start the thread (it arms the watcher, then reports through the hooks)."""
        self._thread.start()

    def alive(self) -> bool:
        """True while the thread runs (it ends on a stop, or on a failure before arming)."""
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop watching and wait for the thread (watchfiles checks the stop every step)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            problem = self._root_ok()
            if problem is not None:
                self._hooks.root_lost(problem)
                self._wait_for_root()
                continue
            try:
                self._watch()
            except (OSError, RuntimeError) as exc:  # the watch limit, or a dead watcher
                if not self._force_polling:
                    self._hooks.warning(LIMIT_ADVICE.format(error=exc))
                    self._force_polling = True
                elif not self._gave_up(f"polling failed too ({exc})"):
                    self._hooks.warning(f"the file watcher failed again ({exc}); retrying")
                    self._stop.wait(self._poll)
            except Exception as exc:  # a bug must not end watching silently: say, re-arm
                log.exception("the file watcher failed")
                error = f"{type(exc).__name__}: {exc}"
                if not self._gave_up(error):
                    self._hooks.warning(CRASH_ADVICE.format(error=error))
                    self._stop.wait(self._poll)

    def _gave_up(self, reason: str) -> bool:
        """A watcher that never armed is not retried: its owner's start fails, saying why."""
        if self._armed_once:
            return False
        self.failure = reason
        self._stop.set()
        return True

    def _wait_for_root(self) -> None:
        while not self._stop.wait(self._poll):
            if self._root_ok() is None:
                self._hooks.root_lost(None)
                return

    def _watch(self) -> None:
        """One armed session; returns when stopped or when the root went away."""
        armed = False
        for changes in watchfiles.watch(
            self._root,
            watch_filter=None,
            debounce=self._debounce,
            step=self._step,
            stop_event=self._stop,
            rust_timeout=_RUST_TIMEOUT_MS,
            yield_on_timeout=True,
            raise_interrupt=False,
            force_polling=self._force_polling,
            poll_delay_ms=int(self._poll * 1000),
        ):
            if not armed:
                armed = self._armed_once = True  # yielded only once its watches are in place
                self._hooks.armed()
            if changes:
                hints = hints_from_changes(self._root, changes)
                if hints:
                    self._hooks.hints(hints)
            if self._root_ok() is not None:
                return  # a vanished root goes quiet for good: re-arm once it is back
