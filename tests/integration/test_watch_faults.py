"""Watch mode when something goes wrong under it: catalogue rows W3, W5 and W6.

A branch switch within the delete delay, a lost store notification, queue overflows and
threads that die on an unexpected error. Each test was seen failing with its protection
removed (the delete delay at 0, the polled fingerprint off, the warnings and restarts
taken out). Waits are loops on conditions with a generous deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from test_watch import (
    DEADLINE,
    FAST,
    FILE_SIDE,
    Recorder,
    barrier,
    body,
    document,
    wait_for,
    watching,
)

from brainsync.errors import BrainsyncError
from brainsync.events import EntityCreated, EntityDeleted, EntityUpdated
from brainsync.sync import watch_writes
from brainsync.sync import watcher as watcher_module
from brainsync.sync.watch_inotify import Inotify, InotifyEvent, Mask, open_inotify
from brainsync.sync.watch_jobs import WatchEventKind
from brainsync.sync.watch_queue import HintKind
from brainsync.sync.watch_state import WatchMode
from brainsync.sync.watch_writes import OVERFLOW

POSTGRES_ONLY = pytest.mark.parametrize(
    "store_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def warnings(recorder: Recorder) -> list[str]:
    return [e.message for e in recorder.watch if e.kind is WatchEventKind.WARNING]


# -- W3: a branch switch is updates, never delete and recreate ---------------------------


@FILE_SIDE
def test_w3_files_back_after_a_branch_switch_are_updates(
    make_brain: Any, disk: Any, rows: Any
) -> None:
    # three files (below the mass-delete guard) gone for 0.4 s, well inside the delay
    brain = make_brain(**{**FAST, "watch_delete_delay_seconds": 2.0})
    for n in range(10):
        disk.write(f"n{n}.md", body(f"n{n}"))
    brain.sync()
    recorder = Recorder(brain)
    switched = [f"n{n}" for n in range(3)]
    with watching(brain, recorder) as watcher:
        for name in switched:
            (brain.settings.root / f"{name}.md").unlink()
        time.sleep(0.4)  # the scenario: git writes the other branch's files back
        for name in switched:
            disk.write(f"{name}.md", body(name, " On the other branch."))
        for name in switched:
            key, text = f"note:{name}", body(name, " On the other branch.")
            wait_for(lambda k=key, t=text: document(brain, k) == t, f"the update of {key}")
        barrier(brain, watcher, brain.settings.root, "barrier")
    for name in switched:
        key = f"note:{name}"
        assert recorder.of(EntityDeleted, key) == 0 and recorder.of(EntityCreated, key) == 0
        assert recorder.of(EntityUpdated, key) == 1
        history = brain.entity_history("note", name)
        assert [v.deleted for v in history] == [False, False], "a delete in the history"
        assert rows(brain)[key].version == 2


# -- a half-written note is never an error ---------------------------------------------


HALF_NOTE = "---\ntitle: half\ntags: [a, b"  # cut inside the frontmatter: no valid note


def test_a_job_of_a_watcher_takes_a_fresh_invalid_file_as_mid_write(brain: Any) -> None:
    (brain.settings.root / "half.md").write_text(HALF_NOTE)
    watcher_job = brain.start("sync", {"paths": ["half.md"], "mid_write_seconds": 60})
    report = brain.wait(watcher_job, DEADLINE).result
    assert not report.errors and [s.path for s in report.skipped] == ["half.md"]
    assert "mid-write" in report.skipped[0].reason
    plain = brain.wait(brain.start("sync", {"paths": ["half.md"]}), DEADLINE).result
    assert [e.path for e in plain.errors] == ["half.md"]  # elsewhere: an error at once


@FILE_SIDE
def test_without_inotify_a_writer_pausing_inside_the_frontmatter_is_no_error(
    make_brain: Any, disk: Any, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_writes, "open_inotify", lambda: None)  # the settle check only
    brain = make_brain(**FAST)
    disk.write("half.md", body("half"))
    recorder = Recorder(brain)
    final = "---\ntitle: half\ntags: [a, b]\n---\nThe whole note.\n"
    with watching(brain, recorder) as watcher:
        with (brain.settings.root / "half.md").open("w", encoding="utf-8") as handle:
            handle.write(HALF_NOTE)
            handle.flush()
            time.sleep(0.4)  # the scenario: a writer that stalls mid-save
            handle.write(final[len(HALF_NOTE) :])
        wait_for(lambda: document(brain, "note:half") == final, "the whole file")
        barrier(brain, watcher, brain.settings.root, "barrier")
    for job_id in watcher.jobs:
        assert not brain.wait(job_id, DEADLINE).result.errors, job_id
    assert not [e for e in recorder.watch if "errors" in e.counts]
    assert recorder.of(EntityUpdated, "note:half") == 1


# -- W5: overflows and dead threads are said, and watching goes on ------------------------


@FILE_SIDE
def test_w5_a_queue_overflow_is_named_and_rescans(
    make_brain: Any, disk: Any, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watcher_module, "QUEUE_LIMIT", 3)
    brain = make_brain(**FAST)
    recorder = Recorder(brain)
    with watching(brain, recorder) as watcher:
        for n in range(10):
            disk.write(f"b{n}.md", body(f"b{n}"))
        # one batch of events naming more paths than the queue holds (as a burst gives)
        watcher._hints([(HintKind.CHANGED, f"b{n}.md") for n in range(10)])
        wait_for(lambda: all(f"note:b{n}" in rows(brain) for n in range(10)), "every file")
        wait_for(watcher.idle, "the watcher to go idle")
        expected = watcher_module.OVERFLOW.format(3)
        assert expected in warnings(recorder)
        assert brain.watch_state()[0].reason == expected


@FILE_SIDE
@pytest.mark.skipif(open_inotify() is None, reason="needs Linux inotify")
def test_w5_a_kernel_queue_overflow_is_named_and_rescans(
    make_brain: Any, disk: Any, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    brain = make_brain(**FAST)
    recorder = Recorder(brain)
    real_read = Inotify.read
    overflow: list[bool] = []

    def read(self: Inotify) -> list[InotifyEvent]:
        events = real_read(self)
        if overflow and overflow.pop():
            events.append(InotifyEvent(-1, Mask.Q_OVERFLOW, ""))
        return events

    monkeypatch.setattr(Inotify, "read", read)
    with watching(brain, recorder) as watcher:
        seen = len(watcher.jobs)
        overflow.append(True)
        disk.write("after.md", body("after"))
        wait_for(lambda: OVERFLOW in warnings(recorder), "the overflow's warning")
        # the rescan is a whole-folder job (no paths); the file's own event may share it
        wait_for(
            lambda: watcher.idle() and whole_folder_job(brain, watcher.jobs[seen:]), "a rescan"
        )
        assert "note:after" in rows(brain)
        reason = brain.watch_state()[0].reason
        assert reason is not None and "overflowed" in reason


def whole_folder_job(brain: Any, job_ids: list[str]) -> bool:
    """Whether one of the jobs ran over the whole folder (a rescan), not named paths."""
    return any("paths" not in brain.job_records().status(job).params for job in job_ids)


@dataclass
class FileWatchFaults:
    """Drives the real ``watchfiles.watch``: ``crash`` (append True) makes its next batch
    raise; while ``rearm`` is clear a restarted watcher waits before it arms."""

    crash: list[bool] = field(default_factory=list)
    rearm: threading.Event = field(default_factory=threading.Event)
    calls: int = 0


@pytest.fixture
def watchfiles_crash(monkeypatch: pytest.MonkeyPatch) -> Iterator[FileWatchFaults]:
    import watchfiles

    real_watch = watchfiles.watch
    faults = FileWatchFaults()
    faults.rearm.set()

    def flaky(*paths: Any, **options: Any) -> Iterator[Any]:
        faults.calls += 1
        stop = options["stop_event"]
        while faults.calls > 1 and not faults.rearm.wait(0.05) and not stop.is_set():
            pass  # a restart arms when the test says
        for changes in real_watch(*paths, **options):
            if changes and faults.crash and faults.crash.pop():
                raise ValueError("boom in the file watcher")
            yield changes

    monkeypatch.setattr(watchfiles, "watch", flaky)
    yield faults
    faults.rearm.set()


@FILE_SIDE
def test_w5_a_file_watcher_that_dies_is_named_and_restarted(
    make_brain: Any, disk: Any, rows: Any, watchfiles_crash: FileWatchFaults
) -> None:
    brain = make_brain(**FAST)
    disk.write("kept.md", body("kept"))  # a folder emptied by the delete would be refused
    root = brain.settings.root
    recorder = Recorder(brain)
    with watching(brain, recorder) as watcher:
        watchfiles_crash.rearm.clear()  # the restarted watcher arms when the test says
        watchfiles_crash.crash.append(True)
        disk.write("first.md", body("first"))
        wait_for(lambda: any("boom" in m for m in warnings(recorder)), "the crash's warning")
        wait_for(lambda: "note:first" in rows(brain), "the first file, by a rescan")
        reason = brain.watch_state()[0].reason
        assert reason is not None and "ValueError: boom in the file watcher" in reason
        (root / "first.md").unlink()  # while nothing watches: only a rescan after the arm sees it
        watchfiles_crash.rearm.set()
        wait_for(lambda: "note:first" not in rows(brain), "the delete, by the rescan after the arm")
        wait_for(watcher.idle, "the watcher to go idle")
        disk.write("second.md", body("second"))  # the restarted watcher sees a write...
        wait_for(lambda: "note:second" in rows(brain), "a write after the restart")
        wait_for(watcher.idle, "the watcher to go idle")
        (root / "second.md").unlink()  # ...and a delete
        wait_for(lambda: "note:second" not in rows(brain), "a delete after the restart")
        wait_for(watcher.idle, "the watcher to go idle")


@FILE_SIDE
def test_w5_a_file_watcher_that_dies_before_it_arms_fails_the_start(
    make_brain: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import watchfiles

    def broken(*paths: Any, **options: Any) -> Iterator[Any]:
        raise ValueError("boom before the arm")
        yield  # a generator, as watchfiles.watch is

    monkeypatch.setattr(watchfiles, "watch", broken)
    brain = make_brain(**FAST)
    watcher = brain.watch()
    failures: list[BaseException] = []

    def start() -> None:
        try:
            watcher.start()
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=start, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    assert not thread.is_alive(), "start waited for an arm that never comes"
    assert len(failures) == 1 and isinstance(failures[0], BrainsyncError)
    assert "could not start (ValueError: boom before the arm)" in str(failures[0])
    assert brain.watch_state()[0].mode is WatchMode.STOPPED


@FILE_SIDE
def test_w5_a_batch_that_fails_unexpectedly_is_named_and_watching_goes_on(
    make_brain: Any, disk: Any, rows: Any
) -> None:
    brain = make_brain(**FAST)
    recorder = Recorder(brain)
    real_start = brain.start
    failures = [True]

    def start(kind: str, params: Any = None) -> str:
        if failures and failures.pop():
            raise ValueError("boom in a batch")
        return real_start(kind, params)

    with watching(brain, recorder) as watcher:
        brain.start = start  # type: ignore[method-assign]
        disk.write("first.md", body("first"))
        wait_for(lambda: any("boom in a batch" in m for m in warnings(recorder)), "the warning")
        wait_for(lambda: "note:first" in rows(brain), "the file, by the rescan")
        disk.write("second.md", body("second"))
        wait_for(lambda: "note:second" in rows(brain), "a later change")
        wait_for(watcher.idle, "the watcher to go idle")


def test_w5_a_store_watcher_that_fails_is_named_and_goes_on(
    make_brain: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    brain = make_brain(**FAST)
    other = make_brain(home=tmp_path / "other-state")  # another process: only the signal
    path = brain.settings.root / "remote.md"
    recorder = Recorder(brain)
    real = brain.store.changes_since
    failures: list[bool] = []

    def changes_since(*args: Any, **kwargs: Any) -> Any:
        if failures and failures.pop():
            raise ValueError("boom in the store watcher")
        return real(*args, **kwargs)

    with watching(brain, recorder):
        monkeypatch.setattr(brain.store, "changes_since", changes_since)
        failures.append(True)
        other.put_entity("note", "remote", text=body("remote"))
        wait_for(lambda: any("boom in the store" in m for m in warnings(recorder)), "warning")
        text = body("remote", " Later.")
        other.put_entity("note", "remote", text=text)  # the store watcher still looks
        wait_for(lambda: path.exists() and path.read_text() == text, "the later change")


# -- W6: a lost notification is covered by the polled fingerprint -------------------------


@POSTGRES_ONLY
def test_w6_a_lost_notification_is_covered_by_polling(
    make_brain: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    dropped: list[object] = []

    def notifies(self: psycopg.Connection[Any], **options: Any) -> Iterator[Any]:
        dropped.append(self)  # every notification is lost on the way
        return iter(())

    monkeypatch.setattr(psycopg.Connection, "notifies", notifies)
    brain = make_brain(**FAST)
    other = make_brain(home=tmp_path / "other-state")  # another process: only the signal
    path = brain.settings.root / "remote.md"
    with watching(brain, Recorder(brain)):
        for round_ in range(2):
            text = body("remote", f" From elsewhere, round {round_}.")
            other.put_entity("note", "remote", text=text)
            wait_for(lambda t=text: path.exists() and path.read_text() == t, "the file")
    assert dropped, "the listener was never asked"


# -- what watch prints --------------------------------------------------------------------


@FILE_SIDE
def test_watch_names_the_path_of_an_error(make_brain: Any, disk: Any) -> None:
    brain = make_brain(**FAST)
    disk.write("ok.md", body("ok"))
    recorder = Recorder(brain)
    with watching(brain, recorder):
        (brain.settings.root / "bad.md").write_text(HALF_NOTE)  # and it stays so
        wait_for(lambda: any("errors" in e.counts for e in recorder.watch), "the error")
    (event,) = [e for e in recorder.watch if "errors" in e.counts]
    assert event.message == "changes (1 path): 1 errors; errors: bad.md"
    assert event.to_dict()["problems"] == ["errors: bad.md"]
