"""``brainsync worker`` that stops in the middle of a write, for the kill -9 tests.

``python paused_worker.py ROOT N MARK``: the N-th ``os.write`` into a file under ``ROOT``
writes half of its bytes, creates ``MARK`` and blocks for good, so that a SIGKILL lands
inside a chunk's writes with a file half written. ``os.write`` is where every write of a
file's bytes goes (the atomic writer's, or a direct one that would replace it); the
worker's other writes (databases, logs) do not go through it or are not under ``ROOT``.
``python paused_worker.py ROOT N MARK commit``: the N-th change set a chunk applies to the
store is written, then the worker blocks before the commit (``MARK`` created).
Settings come from the ``BRAINSYNC_*`` environment, as for ``brainsync worker``.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

from brainsync.interfaces.entry import main
from brainsync.store.base import Store

_real_write = os.write


def _pause_at(root: str, n: int, mark: Path) -> None:
    count = 0
    lock = threading.Lock()
    never = threading.Event()

    def write(fd: int, data: bytes | memoryview) -> int:  # type: ignore[type-arg]
        nonlocal count
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if not target.startswith(root):
            return _real_write(fd, data)
        with lock:
            count += 1
            pause = count == n
        if not pause:
            return _real_write(fd, data)
        half = memoryview(data)[: max(1, len(data) // 2)]
        _real_write(fd, half)
        _ready(mark, target)
        never.wait()  # until the test kills this process
        raise AssertionError("unreachable")

    os.write = write


def _ready(mark: Path, text: str) -> None:
    ready = mark.with_name(mark.name + ".new")
    ready.write_text(text)
    os.replace(ready, mark)  # whole, or not there yet


def _pause_before_commit(n: int, mark: Path) -> None:
    original = Store._apply
    count = 0
    never = threading.Event()

    def apply(self: Store, conn: Any, changes: Any) -> Any:
        nonlocal count
        done = original(self, conn, changes)
        count += 1
        if count == n:
            _ready(mark, "in the transaction")
            never.wait()  # until the test kills this process
        return done

    Store._apply = apply  # type: ignore[method-assign]


if __name__ == "__main__":
    if sys.argv[4:] == ["commit"]:
        _pause_before_commit(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        _pause_at(os.path.realpath(sys.argv[1]) + os.sep, int(sys.argv[2]), Path(sys.argv[3]))
    sys.argv = ["brainsync", "worker"]
    main()
