"""Watch mode: the sync decision run continuously over one folder, both directions.

Nothing here decides what happens to a file or an entity. File events and store changes
are only hints (:mod:`~brainsync.sync.watch_files`, :mod:`~brainsync.sync.watch_signal`);
each batch of hints becomes one durable ``sync`` job over those paths, which stats them
and compares with the sync state like any sync, so echoes of our own writes are
recognised by the sync state, never by muting a path. Startup arms the file watcher
first, then reconciles with a full sync, then applies what arrived meanwhile; a periodic
stat-only rescan is the safety net for lost events; a root that vanishes pauses
everything (zero deletes) until it returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from brainsync.errors import BrainsyncError, JobError, RootUnavailableError
from brainsync.events import EntityCreated, EntityDeleted, EntityUpdated
from brainsync.sync.scan import check_root
from brainsync.sync.watch_files import FileWatch, FileWatchHooks, RootGuard, ages_below
from brainsync.sync.watch_jobs import (
    Batch,
    JobHost,
    WatchEvent,
    WatchEventKind,
    WatchOptions,
    outcome,
)
from brainsync.sync.watch_pause import Pause
from brainsync.sync.watch_queue import HintKind, HintQueue
from brainsync.sync.watch_signal import StoreWatch
from brainsync.sync.watch_state import StateFile, WatchMode, WatchState
from brainsync.sync.watch_writes import Settling

# a file changed this recently that is no note yet is looked at again (one rule for runs)
from brainsync.sync.work import SETTLE_SECONDS

if TYPE_CHECKING:
    from brainsync.jobs import Job

__all__ = ["Watcher"]

log = logging.getLogger(__name__)

#: Paths the watcher remembers one by one; past this a burst becomes one rescan.
QUEUE_LIMIT = 20_000
OVERFLOW = "more than {} paths changed at once; rescanning the whole folder"
START_FAILED = (
    "the file watcher could not start ({}); nothing is watched (a one-off sync still "
    "works; the log has the details)"
)
#: Jobs are awaited in slices this long, so a stop is noticed at once.
_WAIT_SLICE = 0.25


class Watcher:
    """Keeps one folder and the store in sync while it runs; a context manager.

    ``on_event`` receives a :class:`WatchEvent` when watching starts, pauses or resumes,
    for every batch applied and for every warning (called from the watcher's thread).
    """

    def __init__(
        self,
        host: JobHost,
        options: WatchOptions,
        on_event: Callable[[WatchEvent], None] | None = None,
    ) -> None:
        self._host = host
        self._options = options
        self._on_event = on_event or (lambda event: None)
        self._root: Path = host.settings.root
        self._queue = HintQueue(options.delete_delay, SETTLE_SECONDS, QUEUE_LIMIT)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._armed = threading.Event()
        self._halt = Pause(options.poll_seconds)
        self._full_due = True  # the startup reconcile
        self._note: str | None = None  # what the next full batch must say (an overflow)
        self._next_rescan = time.monotonic() + options.rescan_seconds
        self._busy = False
        self._store_watch: StoreWatch | None = None
        self._fallback: str | None = None
        self._folder = ""
        self._guard: RootGuard | None = None
        self._statefile = StateFile(host.settings.state_home, str(self._root))
        self._threads: list[threading.Thread] = []
        self._files: FileWatch | None = None
        self._settling = Settling(
            self._root, options.debounce_ms / 1000, self._hints, self._degraded
        )
        self._unsubscribe: Callable[[], None] | None = None
        #: Ids of the jobs this watcher started, oldest first.
        self.jobs: list[str] = []
        #: The latest events, newest last (bounded).
        self.history: deque[WatchEvent] = deque(maxlen=200)

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> Watcher:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Arm the file watcher (returns once it is armed), then reconcile in the background."""
        check_root(self._root)
        self._folder = self._host.join_folder().folder.id
        self._statefile.folder = self._folder
        self._guard = RootGuard(self._root, self._folder, self._host.folder)
        self._statefile.update(WatchMode.STARTING)
        self._unsubscribe = self._host.bus.subscribe(self._on_bus)
        if self._options.import_files:
            self._files = FileWatch(
                self._root,
                FileWatchHooks(self._hints, self._on_armed, self._on_root_lost, self._degraded),
                self._root_problem,
                self._options.debounce_ms,
                self._options.batch_max_ms,
                self._options.poll_seconds,
            )
            self._files.start()
            while not self._armed.wait(0.05) and not self._halt.active and self._files.alive():
                pass
            if self._files.failure is not None:
                self.stop()
                raise BrainsyncError(START_FAILED.format(self._files.failure))
            self._settling.open()
        else:
            self._armed.set()
        self._spawn(self._drive, "brainsync-watch")
        if self._options.export_entities:
            self._store_watch = StoreWatch(
                self._host.store,
                self._host.settings.store_url,
                self._folder,
                self._host.engine.mapper,
                self._options.poll_seconds,
                lambda paths: self._hints([(HintKind.CHANGED, p) for p in paths]),
                self._warn,
            )
            self._store_watch.start()
        self._announce_watching()

    def _announce_watching(self) -> None:
        with self._cond:  # a fallback reported meanwhile (_degraded) stays the reason
            watching = not self._halt.active
            if watching:
                self._statefile.update(WatchMode.WATCHING, self._fallback)
        if watching:
            self._emit(WatchEvent(WatchEventKind.WATCHING, f"watching {self._root}"))

    def stop(self) -> None:
        """Stop at the next boundary: a job in flight is left to the worker to finish."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._store_watch is not None:
            self._store_watch.stop()
        if self._files is not None:
            self._files.stop()
        self._settling.close()
        for thread in self._threads:
            thread.join()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._statefile.state is not None:
            self._statefile.update(WatchMode.STOPPED)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- what callers may ask ------------------------------------------------------------

    @property
    def state(self) -> WatchState:
        """The watch state as last written for status."""
        assert self._statefile.state is not None, "the watcher has not started"
        return self._statefile.state

    def idle(self) -> bool:
        """True when no job runs and no hint waits (a moment's truth, for tests and status)."""
        with self._cond:
            store_busy = self._store_watch is not None and self._store_watch.busy()
            if self._busy or store_busy:
                return False
            if self._halt.active:
                return True  # nothing runs until the root is back, and then a reconcile
            return not len(self._queue) and not self._full_due

    def rescan_now(self) -> None:
        """Ask for a full stat-only rescan at the next boundary."""
        with self._cond:
            self._full_due = True
            self._cond.notify_all()

    # -- hints in ------------------------------------------------------------------------

    def _hints(self, hints: list[tuple[HintKind, str]]) -> None:
        now = time.monotonic()
        with self._cond:
            if self._halt.active:
                return  # the reconcile on resume looks at every path anyway
            for kind, path in hints:
                self._queue.add(path, kind, now)
            self._cond.notify_all()
        self._statefile.update(last_event=True)

    def _on_bus(self, event: object) -> None:
        watch = self._store_watch
        if watch is not None and isinstance(event, EntityCreated | EntityUpdated | EntityDeleted):
            watch.wake()  # cheap: the store thread finds out what changed

    def _on_armed(self) -> None:
        self._armed.set()
        with self._cond:
            # what changed while nothing watched (a restart, a fallback, the root's return)
            # only a rescan after the arm can find: one before it would race the re-arm
            self._full_due = True
            self._cond.notify_all()

    def _on_root_lost(self, reason: str | None) -> None:
        self._armed.clear()
        if reason is not None:
            self._pause(reason)
        else:  # back (perhaps another folder at the path): follow its writes anew
            self._settling.close()
            self._settling.open()

    def _degraded(self, message: str) -> None:
        """The file watcher fell back (polling): status shows it for as long as it lasts."""
        with self._cond:
            self._fallback = message
        self._warn(message)

    def _warn(self, message: str) -> None:
        log.warning("%s", message)
        with self._cond:
            self._full_due = True  # whatever the watcher missed, a rescan finds
            self._cond.notify_all()
        self._statefile.update(reason=message)
        self._emit(WatchEvent(WatchEventKind.WARNING, message))

    # -- pausing -------------------------------------------------------------------------

    def _root_problem(self) -> str | None:
        """Why the root cannot be synced now (gone, unreadable, another folder), or None."""
        assert self._guard is not None
        return self._guard.problem()

    def _pause(self, reason: str, *, start_failed: bool = False) -> None:
        with self._cond:
            news = self._halt.begin(reason, time.monotonic(), start_failed=start_failed)
            if self._store_watch is not None:
                self._store_watch.paused = True
            self._queue.clear()  # a reconcile on resume covers every path
            self._cond.notify_all()
        if news:
            self._statefile.update(WatchMode.PAUSED, reason)
            self._emit(WatchEvent(WatchEventKind.PAUSED, f"paused: {reason}"))

    def _try_resume(self, now: float) -> None:
        if self._halt.start_failed or not self._halt.due(now):
            return  # a failed start is retried as a reconcile (_next_batch)
        if not self._armed.is_set() or self._root_problem() is not None:
            self._halt.later(now)
            return
        self._full_due = True
        self._resumed()

    def _resumed(self) -> None:
        self._halt.end()
        if self._store_watch is not None:
            self._store_watch.paused = False
        self._statefile.update(WatchMode.WATCHING, self._fallback)
        self._emit(WatchEvent(WatchEventKind.RESUMED, f"watching {self._root} again"))

    # -- the driver ----------------------------------------------------------------------

    def _drive(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._next_batch()
                if batch is not None:
                    self._apply(batch)
            except Exception as exc:  # a bug must not end watching silently: say, rescan
                log.exception("the watcher's batch loop failed")
                self._warn(f"a batch failed unexpectedly ({type(exc).__name__}: {exc}); rescanning")
                self._stop.wait(self._options.poll_seconds)

    def _next_batch(self) -> Batch | None:
        """Wait for the next batch due: a full rescan, or the paths whose hints are due."""
        with self._cond:
            while not self._stop.is_set():
                now = time.monotonic()
                if self._halt.active:
                    if self._halt.start_failed and self._halt.due(now):
                        return self._full_batch(now, startup=True)  # the next attempt
                    self._try_resume(now)
                    if self._halt.active:
                        self._cond.wait(self._options.poll_seconds)
                        continue
                if self._queue.take_overflow():
                    self._full_due, self._note = True, OVERFLOW.format(QUEUE_LIMIT)
                if self._full_due or now >= self._next_rescan:
                    writing = self._settling.writing_until(now)  # a rescan waits for them
                    if writing is None:
                        return self._full_batch(now, startup=self._full_due)
                    self._cond.wait(min(writing - now, _WAIT_SLICE))
                    continue
                paths = self._settled(self._queue.take(now), now)
                if paths:
                    self._busy = True
                    return Batch("changes", tuple(paths))
                self._cond.wait(self._timeout(now))
        return None

    def _full_batch(self, now: float, *, startup: bool) -> Batch:
        note, self._note = self._note, None
        self._full_due, self._busy = False, True
        self._queue.clear()
        self._next_rescan = now + self._options.rescan_seconds
        return Batch("reconcile" if startup else "rescan", (), note)

    def _timeout(self, now: float) -> float:
        due = self._queue.next_due()
        until = min(self._next_rescan, due if due is not None else self._next_rescan)
        return max(0.01, min(until - now, self._options.poll_seconds))

    def _settled(self, paths: list[str], now: float) -> list[str]:
        """The paths closed by their writer and quiet; the rest wait (a slow writer is one
        save): until closed, or until they are quiet."""
        ready, wait = self._settling.split(paths, now)
        for path, until in wait.items():
            self._queue.defer(path, until)
        return ready

    def _apply(self, batch: Batch) -> None:
        if batch.note is not None:
            self._statefile.update(reason=batch.note)
            self._emit(WatchEvent(WatchEventKind.WARNING, batch.note))
        try:
            problem = self._root_problem()
            if problem is not None:
                self._pause(problem)
                return
            job = self._run_job(batch)
            if job is not None:
                self._finish(batch, job)
        finally:
            with self._cond:
                self._busy = False

    def _run_job(self, batch: Batch) -> Job | None:
        params: dict[str, object] = {"mid_write_seconds": SETTLE_SECONDS}
        if batch.paths:
            params["paths"] = list(batch.paths)
        try:
            job_id = self._host.start(self._options.kind, params)
        except RootUnavailableError as exc:
            self._pause(str(exc))
            return None
        except BrainsyncError as exc:
            # the store or the job store is away (or refuses): pause, try again later (a
            # warning and an at-once retry spun, 140 lines a second for an outage)
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._pause(f"cannot start a {self._options.kind} job: {first_line}", start_failed=True)
            return None
        if self._halt.start_failed:
            self._resumed()
        self.jobs.append(job_id)
        return self._await(job_id)

    def _await(self, job_id: str) -> Job | None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                return self._host.wait(job_id, _WAIT_SLICE)
            except JobError:
                # still running, or the job store is away (then it fails at once: no spin)
                self._stop.wait(max(0.0, _WAIT_SLICE - (time.monotonic() - began)))
        return None

    def _finish(self, batch: Batch, job: Job) -> None:
        result = outcome(batch, job)
        if result.root_lost:
            # gone, replaced, or back but empty: no batch may run until it is whole again
            self._pause(self._root_problem() or result.message)
            return
        if result.mass_delete and batch.paths:
            self._retry_without_deletes(batch)
        self._retry_young(result.unsettled)
        self._statefile.update(last_batch=result.event.to_dict(), rescan=not batch.paths)
        if result.event.kind is WatchEventKind.WARNING or batch.paths == () or result.changed:
            self._emit(result.event)

    def _retry_without_deletes(self, batch: Batch) -> None:
        present = [p for p in batch.paths if (self._root / p).exists()]
        if present:
            self._apply_again(Batch("changes", tuple(present)))

    def _apply_again(self, batch: Batch) -> None:
        job = self._run_job(batch)
        if job is not None:
            self._finish(batch, job)

    def _retry_young(self, paths: tuple[str, ...]) -> None:
        now = time.monotonic()
        with self._cond:
            for path, age in ages_below(self._root, paths, SETTLE_SECONDS).items():
                self._queue.defer(path, now + SETTLE_SECONDS - age)

    # -- reporting -----------------------------------------------------------------------

    def _emit(self, event: WatchEvent) -> None:
        self.history.append(event)
        try:
            self._on_event(event)
        except Exception:  # a printing bug must not stop the watcher
            log.exception("watch event handler failed")
