"""What a watcher is doing, kept in a small JSON file that any process can read.

One file per folder in the state folder (``watch-<folder id>.json``), replaced atomically
on every change, so ``status`` in another process shows whether a folder is watched or
paused and why, since when, and the last event, batch and rescan. A file left by a
watcher whose process is gone reads as stopped.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import threading
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "StateFile",
    "WatchMode",
    "WatchState",
    "read_watch_states",
    "updated_state",
    "write_watch_state",
]

log = logging.getLogger(__name__)

_PREFIX = "watch-"


class WatchMode(enum.Enum):
    """Whether a folder is being watched."""

    STARTING = "starting"
    WATCHING = "watching"
    PAUSED = "paused"
    STOPPED = "stopped"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class WatchState:
    """The watch state of one folder, as its watcher last wrote it."""

    folder: str
    directory: str
    mode: WatchMode
    since: str = field(default_factory=_now)
    #: Why the watcher is paused, or what it fell back to (polling, rescans).
    reason: str | None = None
    pid: int = field(default_factory=os.getpid)
    last_event: str | None = None
    #: The counts of the last batch applied, with its time (``at``).
    last_batch: dict[str, Any] | None = None
    last_rescan: str | None = None

    def moved_to(self, mode: WatchMode, reason: str | None = None) -> WatchState:
        """This state in another mode, since now."""
        return replace(self, mode=mode, reason=reason, since=_now())

    def to_dict(self) -> dict[str, Any]:
        """The JSON view (what the file holds)."""
        data = asdict(self)
        data["mode"] = self.mode.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WatchState:
        """Rebuild a state from :meth:`to_dict` output."""
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["mode"] = WatchMode(values.get("mode", WatchMode.STOPPED.value))
        return cls(**values)


def write_watch_state(state_home: Path, state: WatchState) -> None:
    """Replace the folder's watch file with ``state`` (atomically: readers never see half)."""
    state_home.mkdir(parents=True, exist_ok=True)
    target = state_home / f"{_PREFIX}{state.folder}.json"
    # one temp name per thread: two threads sharing one could publish a half-written file
    temp = target.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
    temp.write_text(json.dumps(state.to_dict(), indent=1), encoding="utf-8")
    os.replace(temp, target)


def read_watch_states(state_home: Path) -> list[WatchState]:
    """Every folder's last watch state in this state folder, by folder id."""
    found: list[WatchState] = []
    for path in sorted(state_home.glob(f"{_PREFIX}*.json")):
        try:
            state = WatchState.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            continue  # replaced or half-written by hand: the next write fixes it
        if state.mode is not WatchMode.STOPPED and not _alive(state.pid):
            state = replace(state, mode=WatchMode.STOPPED, reason="the watcher's process ended")
        found.append(state)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def updated_state(
    state: WatchState | None,
    folder: str,
    directory: str,
    mode: WatchMode | None,
    reason: str | None,
    event_seen: bool,
    last_batch: dict[str, Any] | None,
    rescanned: bool,
) -> WatchState:
    """``state`` with what just happened: a new mode (and reason), an event, a batch."""
    current = state or WatchState(folder, directory, WatchMode.STARTING)
    if mode is not None and mode is not current.mode:
        current = current.moved_to(mode, reason)
    elif reason is not None:
        current = replace(current, reason=reason)
    now = _now()
    if event_seen:
        current = replace(current, last_event=now)
    if last_batch is not None:
        current = replace(current, last_batch=last_batch)
        if rescanned:
            current = replace(current, last_rescan=now)
    return current


class StateFile:
    """One folder's watch state, updated from any thread and kept in its file for status."""

    def __init__(self, state_home: Path, directory: str) -> None:
        self._home, self._directory = state_home, directory
        self._lock = threading.Lock()  # the watcher's threads and the file watcher's
        self.folder = ""  # set once the watcher has joined its folder
        self.state: WatchState | None = None

    def update(
        self,
        mode: WatchMode | None = None,
        reason: str | None = None,
        *,
        last_event: bool = False,
        last_batch: dict[str, Any] | None = None,
        rescan: bool = False,
    ) -> None:
        """Record what just happened (see :func:`updated_state`) and write it."""
        with self._lock:
            state = updated_state(
                self.state,
                self.folder,
                self._directory,
                mode,
                reason,
                last_event,
                last_batch,
                rescan,
            )
            try:
                write_watch_state(self._home, state)
            except OSError as exc:
                log.warning("cannot write the watch state: %s", exc)
            # published only once written: a reader that sees it here finds it in the file
            self.state = state
