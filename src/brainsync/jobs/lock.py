"""At most one live worker per executor id on a host: an advisory file lock.

DBOS recovers a worker's unfinished jobs when a worker with the same executor id starts.
Two live processes with one id would therefore run the same job twice. Every process that
wants to run jobs first takes this lock (in the state folder, outside the synced
directory); a process that cannot get it only enqueues and observes, and the live worker
does the work.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from pathlib import Path
from types import TracebackType

__all__ = ["WorkerLock"]


class WorkerLock:
    """An exclusive, non-blocking ``flock`` held for as long as this worker lives."""

    def __init__(self, folder: Path, executor_id: str, job_store: str = "") -> None:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", executor_id)
        # one worker per executor id *and job store*: two folders beside each other have
        # a job store each, and a worker of one never runs the other's jobs
        store = f"-{hashlib.sha256(job_store.encode()).hexdigest()[:12]}" if job_store else ""
        self.path = folder / f"worker-{safe}{store}.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock if no live process holds it; False when one does."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the lock up (the kernel also does when the process dies, even by SIGKILL)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WorkerLock:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
