"""``brainsync worker`` that stops in the middle of a file write, for the kill -9 tests.

``python paused_worker.py ROOT N MARK``: the N-th ``os.write`` into a file under ``ROOT``
writes half of its bytes, creates ``MARK`` and blocks for good, so that a SIGKILL lands
inside a chunk's writes with a file half written. ``os.write`` is where every write of a
file's bytes goes (the atomic writer's, or a direct one that would replace it); the
worker's other writes (databases, logs) do not go through it or are not under ``ROOT``.
Settings come from the ``BRAINSYNC_*`` environment, as for ``brainsync worker``.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from brainsync.interfaces.entry import main

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
        ready = mark.with_name(mark.name + ".new")
        ready.write_text(target)
        os.replace(ready, mark)  # whole, or not there yet
        never.wait()  # until the test kills this process
        raise AssertionError("unreachable")

    os.write = write


if __name__ == "__main__":
    _pause_at(os.path.realpath(sys.argv[1]) + os.sep, int(sys.argv[2]), Path(sys.argv[3]))
    sys.argv = ["brainsync", "worker"]
    main()
