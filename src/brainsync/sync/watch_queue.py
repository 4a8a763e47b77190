"""The watcher's pending hints: which paths to look at again, and from when.

Pure bookkeeping, no I/O, so it is tested with fake change sets. A hint only says "this
path may have changed"; what happens to the path is decided by the sync job that looks at
it. A deleted path waits (an editor's delete-and-recreate, or a branch switch, is then one
update), a path that is still being written waits until it is quiet, and a burst larger
than the queue's bound collapses into one rescan, so memory stays bounded.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Hint", "HintKind", "HintQueue"]


class HintKind(enum.Enum):
    """What an event said about a path."""

    CHANGED = "changed"  # added or modified: look soon
    DELETED = "deleted"  # look after the delete delay
    RETRY = "retry"  # looked too early (mid-write): look again later


@dataclass(frozen=True)
class Hint:
    """One path to look at again, and the earliest time (monotonic seconds) to do it."""

    path: str
    due: float


class HintQueue:
    """Paths waiting to be synced, each with the time it becomes due.

    A path named twice keeps the earlier due time: a recreate after a delete is due at
    once, a delete after a change waits no longer than the change did.
    """

    def __init__(self, delete_delay: float, retry_delay: float, limit: int = 20_000) -> None:
        self._delays = {
            HintKind.CHANGED: 0.0,
            HintKind.DELETED: delete_delay,
            HintKind.RETRY: retry_delay,
        }
        self._limit = limit
        self._due: dict[str, float] = {}
        self.overflowed = False

    def __len__(self) -> int:
        return len(self._due)

    def add(self, path: str, kind: HintKind, now: float) -> None:
        """Note that ``path`` may have changed as ``kind`` says, at ``now``."""
        due = now + self._delays[kind]
        known = self._due.get(path)
        if known is None and len(self._due) >= self._limit:
            # too many to remember one by one: a rescan of everything covers them all
            self.overflowed = True
            return
        self._due[path] = due if known is None else min(known, due)

    def defer(self, path: str, until: float) -> None:
        """Look at ``path`` no sooner than ``until`` (a file still being written)."""
        self._due[path] = max(self._due.get(path, until), until)

    def take(self, now: float) -> list[str]:
        """Remove and return the paths due by ``now``, in path order."""
        ready = sorted(path for path, due in self._due.items() if due <= now)
        for path in ready:
            del self._due[path]
        return ready

    def take_overflow(self) -> bool:
        """True once after paths were dropped for the bound (the caller rescans)."""
        overflowed, self.overflowed = self.overflowed, False
        return overflowed

    def clear(self) -> None:
        """Forget every pending path (a full rescan covers them)."""
        self._due.clear()

    def next_due(self) -> float | None:
        """The earliest due time, or None when nothing waits."""
        return min(self._due.values(), default=None)
