"""Watch mode on real files, the real ``watchfiles`` and both store backends.

Catalogue rows W1-W4, W6, E1-E3, D1, K5 and K6, plus the path-restricted sync the watcher
is built on. Every wait is a loop on a condition with a generous deadline; no test
sleeps for a time a slow machine could beat, and none asserts a duration. Rows whose
outcome depends on the store (echoes, deletes, other writers, bursts) run on both backends;
rows about the file side only run on SQLite.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from folder_state import tracked

from brainsync.app import Brain
from brainsync.entities import EntityKey
from brainsync.errors import ConflictError, MassDeleteError, StoreError
from brainsync.events import EntityCreated, EntityDeleted, EntityUpdated
from brainsync.sync.watch_inotify import open_inotify
from brainsync.sync.watch_jobs import WatchEvent, WatchEventKind
from brainsync.sync.watch_pause import RETRY_POLLS
from brainsync.sync.watch_state import WatchMode
from brainsync.sync.watcher import Watcher

#: File-side rows (editors, folders, the root) do not depend on the store: SQLite only.
FILE_SIDE = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
DEADLINE = 30.0
FAST = {
    "watch_debounce_ms": 50,
    "watch_batch_max_ms": 500,
    "watch_delete_delay_seconds": 0.5,
    "watch_poll_seconds": 0.2,
    "job_poll_seconds": 0.05,
}


def wait_for(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def body(name: str, extra: str = "") -> str:
    return f"---\ntitle: {name}\n---\nText of {name}.{extra}\n"


class Recorder:
    """The entity events a brain's bus published, and the watcher's own events."""

    def __init__(self, brain: Brain) -> None:
        self.entity: list[object] = []
        self.watch: list[WatchEvent] = []
        brain.bus.subscribe(self.entity.append)

    def of(self, kind: type, key: str) -> int:
        return sum(1 for e in self.entity if isinstance(e, kind) and e.key == key)

    def deletes(self) -> int:
        return sum(1 for e in self.entity if isinstance(e, EntityDeleted))


@contextmanager
def watching(brain: Brain, recorder: Recorder, **options: Any) -> Iterator[Watcher]:
    """A started watcher whose startup reconcile has finished."""
    with brain.watch(on_event=recorder.watch.append, **options) as watcher:
        wait_for(lambda: len(watcher.jobs) >= 1 and watcher.idle(), "the startup reconcile")
        yield watcher


def document(brain: Brain, key: str) -> str | None:
    type_, _, id_ = key.partition(":")
    entity = brain.store.get(EntityKey(type_, id_))
    return None if entity is None else entity.document


def barrier(brain: Brain, watcher: Watcher, root: Path, name: str) -> None:
    """Write a note and wait until it is imported and the watcher is idle: every event
    from before it has then been handled."""
    (root / f"{name}.md").write_text(body(name))
    wait_for(lambda: document(brain, f"note:{name}") is not None, f"barrier {name}")
    wait_for(watcher.idle, "the watcher to go idle")


# -- the path-restricted sync the watcher runs ------------------------------------------


def test_path_sync_looks_only_at_its_paths(brain: Brain, disk: Any, rows: Any) -> None:
    for n in range(6):
        disk.write(f"n{n}.md", body(f"n{n}"))
    disk.write("d/x.md", body("x"))
    assert brain.sync().created == 7
    (brain.settings.root / "n0.md").unlink()  # outside the paths: must not count as deleted
    disk.edit("n1.md", body("n1", " Edited."))
    disk.write("new/deep/y.md", body("y"))
    report = brain.sync(paths=["n1.md", "new"])
    assert (report.updated, report.created, report.deleted) == (1, 1, 0)
    assert "note:n0" in rows(brain) and tracked(brain) == 8
    assert brain.sync(paths=["n0.md"]).deleted == 1


def test_path_sync_keeps_the_mass_delete_guard(brain: Brain, disk: Any, rows: Any) -> None:
    for n in range(6):
        disk.write(f"n{n}.md", body(f"n{n}"))
    brain.sync()
    for n in range(5):
        (brain.settings.root / f"n{n}.md").unlink()
    with pytest.raises(MassDeleteError):
        brain.sync(paths=[f"n{n}.md" for n in range(5)])
    assert len(rows(brain)) == 6


# -- files -> store ---------------------------------------------------------------------


def save_vim(path: Path, text: str) -> None:
    probe = path.parent / "4913"
    probe.write_text("")
    probe.unlink()
    backup = path.with_name(path.name + "~")
    path.rename(backup)
    path.write_text(text)
    backup.unlink()


def save_jetbrains(path: Path, text: str) -> None:
    temp = path.with_name(path.name + "___jb_tmp___")
    old = path.with_name(path.name + "___jb_old___")
    temp.write_text(text)
    path.rename(old)
    temp.rename(path)
    old.unlink()


def save_truncate_then_write(path: Path, text: str) -> None:
    with path.open("r+", encoding="utf-8") as handle:
        handle.truncate(0)
        handle.flush()
        os.fsync(handle.fileno())
        handle.write(text)


def save_temp_then_rename(path: Path, text: str) -> None:
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(text)
    os.replace(temp, path)


SAVES = {
    "vim": save_vim,
    "jetbrains": save_jetbrains,
    "vscode": save_truncate_then_write,
    "atomic": save_temp_then_rename,
}


@FILE_SIDE
def test_w1_editor_saves_are_exactly_one_update(make_brain: Any, disk: Any, rows: Any) -> None:
    brain = make_brain(**FAST)
    for name in SAVES:
        disk.write(f"{name}.md", body(name))
    recorder = Recorder(brain)
    with watching(brain, recorder) as watcher:
        for name, save in SAVES.items():
            edited = body(name, " Saved by an editor.")
            save(brain.settings.root / f"{name}.md", edited)
            wait_for(lambda n=name, t=edited: document(brain, f"note:{n}") == t, name)
        barrier(brain, watcher, brain.settings.root, "barrier")
    assert set(rows(brain)) == {f"note:{name}" for name in SAVES} | {"note:barrier"}
    for name in SAVES:
        key = f"note:{name}"
        assert (recorder.of(EntityUpdated, key), recorder.of(EntityDeleted, key)) == (1, 0)
        assert rows(brain)[key].version == 2
    assert sorted(p.name for p in brain.settings.root.iterdir()) == sorted(
        [f"{name}.md" for name in SAVES] + ["barrier.md"]
    )


@FILE_SIDE
def test_w1_slow_writer_is_one_update(make_brain: Any, disk: Any, rows: Any) -> None:
    # the pauses are far shorter than the quiet time, so even a slow machine sees one save
    brain = make_brain(**{**FAST, "watch_debounce_ms": 600})
    disk.write("slow.md", body("slow"))
    recorder = Recorder(brain)
    final = body("slow", " " + "more text " * 40)
    with watching(brain, recorder) as watcher:
        with (brain.settings.root / "slow.md").open("w", encoding="utf-8") as handle:
            for start in range(0, len(final), len(final) // 5 + 1):
                handle.write(final[start : start + len(final) // 5 + 1])
                handle.flush()
                time.sleep(0.02)
        # once the final text is in, no later import can be another update (same bytes)
        wait_for(lambda: document(brain, "note:slow") == final, "the whole file")
        # the job publishes its events after its commit: idle once it has finished
        wait_for(watcher.idle, "the watcher to go idle")
    assert recorder.of(EntityUpdated, "note:slow") == 1
    assert rows(brain)["note:slow"].version == 2


def history_of(brain: Brain, key: str) -> list[str | None]:
    """The documents of ``key``'s history, oldest first (None for a delete)."""
    type_, _, id_ = key.partition(":")
    return [v.document for v in sorted(brain.entity_history(type_, id_), key=lambda v: v.seq)]


@FILE_SIDE
@pytest.mark.skipif(open_inotify() is None, reason="needs Linux inotify (IN_CLOSE_WRITE)")
@pytest.mark.parametrize("pause", [0.4, 1.0])
def test_w1_a_writer_pausing_mid_save_is_one_version(
    make_brain: Any, disk: Any, rows: Any, pause: float
) -> None:
    """Half the file, a pause far longer than the quiet time, the rest, then the close:
    one version with the whole text (the close is what ends a save, not the quiet)."""
    brain = make_brain(**FAST)
    disk.write("slow.md", body("slow"))
    recorder = Recorder(brain)
    final = body("slow", " " + "more text " * 40)
    half = len(final) // 2
    with watching(brain, recorder) as watcher:
        with (brain.settings.root / "slow.md").open("w", encoding="utf-8") as handle:
            handle.write(final[:half])
            handle.flush()
            time.sleep(pause)  # the scenario: a writer that stalls mid-save
            handle.write(final[half:])
        wait_for(lambda: document(brain, "note:slow") == final, "the whole file")
        barrier(brain, watcher, brain.settings.root, "barrier")
        errors = [e for e in recorder.watch if "errors" in e.counts or "skipped" in e.counts]
    assert recorder.of(EntityUpdated, "note:slow") == 1
    assert history_of(brain, "note:slow") == [body("slow"), final] and not errors


@FILE_SIDE
@pytest.mark.skipif(open_inotify() is None, reason="needs Linux inotify (IN_CLOSE_WRITE)")
def test_w1_a_rescan_waits_for_a_writer_pausing_mid_save(
    make_brain: Any, disk: Any, rows: Any
) -> None:
    brain = make_brain(**FAST)
    disk.write("slow.md", body("slow"))
    recorder = Recorder(brain)
    final = body("slow", " " + "more text " * 40)
    half = len(final) // 2
    with watching(brain, recorder) as watcher:
        seen = len(watcher.jobs)
        with (brain.settings.root / "slow.md").open("w", encoding="utf-8") as handle:
            handle.write(final[:half])
            handle.flush()
            watcher.rescan_now()  # a rescan due while the writer stalls
            time.sleep(1.0)  # the scenario: a writer that stalls mid-save
            handle.write(final[half:])
        wait_for(lambda: document(brain, "note:slow") == final, "the whole file")
        wait_for(lambda: len(watcher.jobs) > seen and watcher.idle(), "the rescan")
    assert history_of(brain, "note:slow") == [body("slow"), final]


@FILE_SIDE
def test_k6_w2_startup_reconciles_then_new_folders_are_imported_whole(
    make_brain: Any, disk: Any, rows: Any
) -> None:
    brain = make_brain(**FAST)
    disk.write("a.md", body("a"))
    brain.sync()
    disk.edit("a.md", body("a", " Edited while nobody watched."))
    disk.write("b.md", body("b"))
    recorder = Recorder(brain)
    with watching(brain, recorder) as watcher:
        # K6: what changed while nothing watched landed through the startup reconcile
        assert rows(brain)["note:a"].version == 2 and "note:b" in rows(brain)
        assert watcher.history[0].kind is WatchEventKind.WATCHING
        for n in range(300):  # W2: files written right after their folders are made
            folder = brain.settings.root / "batch" / f"f{n % 3}" / "deep"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"n{n}.md").write_text(body(f"n{n}"))
        wait_for(lambda: len(rows(brain)) == 302, "every new file")
        wait_for(watcher.idle, "the watcher to go idle")
    assert recorder.deletes() == 0


def test_w3_d1_deletes_wait_and_are_checked_again(make_brain: Any, disk: Any, rows: Any) -> None:
    # the delay is a thousand times the gap between a delete and its recreate
    brain = make_brain(**{**FAST, "watch_delete_delay_seconds": 1.0})
    for n in range(20):
        disk.write(f"n{n}.md", body(f"n{n}"))
    disk.write("gone.md", body("gone"))
    recorder = Recorder(brain)
    with watching(brain, recorder) as watcher:
        for n in range(20):  # a branch switch: every file removed, then written anew
            (brain.settings.root / f"n{n}.md").unlink()
        for n in range(20):
            disk.write(f"n{n}.md", body(f"n{n}", " On the other branch."))
        wait_for(lambda: all(rows(brain)[f"note:n{n}"].version == 2 for n in range(20)), "updates")
        barrier(brain, watcher, brain.settings.root, "barrier")
        assert recorder.deletes() == 0
        (brain.settings.root / "gone.md").unlink()  # D1: a plain delete goes through
        wait_for(lambda: "note:gone" not in rows(brain), "the delete")
        wait_for(watcher.idle, "the watcher to go idle")  # the delete's event is out
    assert recorder.deletes() == 1
    assert len(rows(brain)) == 21 and tracked(brain) == 21


# -- echoes -----------------------------------------------------------------------------


def batches_after(recorder: Recorder, count: int) -> int:
    return sum(1 for e in recorder.watch[count:] if e.kind is WatchEventKind.BATCH)


def test_e1_e3_own_writes_are_never_imported_again(make_brain: Any, rows: Any) -> None:
    brain = make_brain(**FAST)
    recorder = Recorder(brain)
    path = brain.settings.root / "echo.md"
    with watching(brain, recorder) as watcher:
        for round_ in range(2):
            text = body("echo", f" Round {round_}.")
            brain.put_entity("note", "echo", text=text)
            wait_for(lambda t=text: path.exists() and path.read_text() == t, "the export")
            barrier(brain, watcher, brain.settings.root, f"barrier{round_}")
        before = (path.stat().st_mtime_ns, rows(brain)["note:echo"].version)
        seen = len(watcher.jobs)
        watcher.rescan_now()
        wait_for(lambda: len(watcher.jobs) > seen and watcher.idle(), "a full rescan")
    assert (path.stat().st_mtime_ns, rows(brain)["note:echo"].version) == before
    assert before[1] == 2  # one version per put, none from an echo
    assert recorder.of(EntityUpdated, "note:echo") == 1  # the puts' own events only
    assert recorder.of(EntityCreated, "note:echo") == 1
    changes = [e for e in recorder.watch if e.trigger == "changes"]
    imported = [e for e in changes if {"created", "updated"} & set(e.counts)]
    assert all(not e.message.startswith("changes") or e.counts for e in changes)
    assert len(imported) == 2 + 2  # two exports (a write each) and two barrier notes


def test_e2_user_edit_right_after_an_export_is_imported(make_brain: Any, rows: Any) -> None:
    brain = make_brain(**FAST)
    recorder = Recorder(brain)
    with watching(brain, recorder):
        for n, pause in enumerate([0.0, 0.05, 0.5]):
            path = brain.settings.root / f"race{n}.md"
            exported = body(f"race{n}", " From the store.")
            brain.put_entity("note", f"race{n}", text=exported)
            wait_for(lambda p=path, t=exported: p.exists() and p.read_text() == t, "export")
            time.sleep(pause)  # the scenario: how soon after the export the user saves
            edited = exported.replace("store", "user!")  # same size: only a hash tells
            path.write_text(edited)
            wait_for(lambda k=f"note:race{n}", t=edited: document(brain, k) == t, "the edit")
    assert not [p for p in brain.settings.root.iterdir() if "conflict" in p.name]


# -- store -> files, faults, bursts -----------------------------------------------------


def test_w6_change_from_another_writer_reaches_the_file(make_brain: Any, tmp_path: Path) -> None:
    brain = make_brain(**FAST)
    # another writer as another process sees it: its own bus and its own connections,
    # so only the store's change signal can tell the watcher
    other = make_brain(home=tmp_path / "other-state")
    recorder = Recorder(brain)
    path = brain.settings.root / "remote.md"
    with watching(brain, recorder):
        for round_ in range(2):
            text = body("remote", f" From elsewhere, round {round_}.")
            other.put_entity("note", "remote", text=text)
            wait_for(lambda t=text: path.exists() and path.read_text() == t, "the file")
        other.delete_entity("note", "remote")
        wait_for(lambda: not path.exists(), "the file's delete")


def test_w6_an_entity_changed_back_to_an_earlier_version_reaches_the_file(
    make_brain: Any, tmp_path: Path
) -> None:
    """The watcher forgets a change once it is settled: the same hash again is news."""
    brain = make_brain(**FAST)
    other = make_brain(home=tmp_path / "other-state")
    path = brain.settings.root / "flip.md"
    first, second = body("flip", " First."), body("flip", " Second.")
    with watching(brain, Recorder(brain)):
        for text in (first, second, first, second):
            other.put_entity("note", "flip", text=text)
            wait_for(lambda t=text: path.exists() and path.read_text() == t, "the file")


@FILE_SIDE
def test_w4_root_moved_or_deleted_pauses_with_zero_deletes(
    make_brain: Any, disk: Any, rows: Any, tmp_path: Path
) -> None:
    brain = make_brain(**FAST)
    for n in range(6):
        disk.write(f"n{n}.md", body(f"n{n}"))
    recorder = Recorder(brain)
    root, away = brain.settings.root, tmp_path / "away"
    with watching(brain, recorder) as watcher:
        root.rename(away)
        wait_for(lambda: watcher.state.mode is WatchMode.PAUSED, "the pause")
        states = brain.watch_state()
        assert [s.mode for s in states] == [WatchMode.PAUSED]
        assert states[0].reason and "does not exist" in states[0].reason
        away.rename(root)
        wait_for(lambda: watcher.state.mode is WatchMode.WATCHING, "the resume")
        disk.edit("n0.md", body("n0", " After the return."))
        wait_for(lambda: rows(brain)["note:n0"].version == 2, "an edit after the return")
        shutil.rmtree(root)
        wait_for(lambda: watcher.state.mode is WatchMode.PAUSED, "the second pause")
        wait_for(watcher.idle, "the watcher to go idle")
    assert recorder.deletes() == 0
    assert len(rows(brain)) == 6
    assert brain.watch_state()[0].mode is WatchMode.STOPPED


def test_k5_burst_of_files_becomes_few_jobs(make_brain: Any, rows: Any) -> None:
    brain = make_brain(**FAST)
    recorder = Recorder(brain)
    with watching(brain, recorder) as watcher:
        started = len(watcher.jobs)
        burst = (
            "import sys, pathlib; root = pathlib.Path(sys.argv[1])\n"
            "for n in range(2000):\n"
            "    (root / f'b{n:04}.md').write_text(f'---\\ntitle: b{n}\\n---\\nText.\\n')\n"
        )
        subprocess.run([sys.executable, "-c", burst, str(brain.settings.root)], check=True)
        wait_for(lambda: len(rows(brain)) == 2000, "every file of the burst")
        wait_for(watcher.idle, "the queue to drain")
        jobs = len(watcher.jobs) - started
    assert 1 <= jobs <= 20  # coalesced, never one job per file


@FILE_SIDE
def test_w5_watch_limit_is_named_and_polling_takes_over(
    make_brain: Any, disk: Any, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import watchfiles

    real_watch = watchfiles.watch

    def limited(*paths: Any, **options: Any) -> Any:
        if not options.get("force_polling"):  # what inotify says at its limit
            raise OSError("OS file watch limit reached")
        return real_watch(*paths, **options)

    monkeypatch.setattr(watchfiles, "watch", limited)
    brain = make_brain(**FAST)
    recorder = Recorder(brain)
    with watching(brain, recorder):
        warnings = [e for e in recorder.watch if e.kind is WatchEventKind.WARNING]
        assert warnings and "fs.inotify.max_user_watches" in warnings[0].message
        disk.write("polled.md", body("polled"))
        wait_for(lambda: "note:polled" in rows(brain), "the polled change")
        reason = brain.watch_state()[0].reason
        assert reason is not None and "max_user_watches" in reason


@FILE_SIDE
def test_w5_a_store_that_cannot_start_jobs_pauses_the_watcher_once(make_brain: Any) -> None:
    """A store or job store that is away (a database restart) pauses watching with the
    reason; the next attempts are reconciles, spaced by a growing back-off and not
    reported one by one; the one that starts imports what was saved meanwhile."""
    brain = make_brain(**FAST)
    recorder = Recorder(brain)
    down = threading.Event()
    attempts: list[float] = []
    real_start = brain.start

    def start(kind: str, params: Any = None) -> str:
        if down.is_set():
            attempts.append(time.monotonic())
            raise StoreError("could not list folders: connection refused\nmore detail")
        return real_start(kind, params)

    with watching(brain, recorder):
        brain.start = start  # type: ignore[method-assign]
        down.set()
        (brain.settings.root / "offline.md").write_text(body("offline"))
        wait_for(lambda: len(attempts) >= 3, "three attempts to start a job")
        gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
        # spaced by at least the back-off, doubling (lower bounds: load only adds to them)
        first = RETRY_POLLS * FAST["watch_poll_seconds"]
        assert gaps[0] >= first and gaps[1] >= 2 * first, gaps
        paused = [e.message for e in recorder.watch if e.kind is WatchEventKind.PAUSED]
        assert paused == [
            "paused: cannot start a sync job: could not list folders: connection refused"
        ]
        assert brain.watch_state()[0].mode is WatchMode.PAUSED
        down.clear()
        wait_for(lambda: document(brain, "note:offline") is not None, "the save, after")
    resumed = [e for e in recorder.watch if e.kind is WatchEventKind.RESUMED]
    assert len(resumed) == 1


# -- deletes and moves while watching ----------------------------------------------------


@FILE_SIDE
def test_d3_a_type_folder_deleted_while_watching_deletes_its_entities_only(
    make_brain: Any, disk: Any, rows: Any
) -> None:
    brain = make_brain(**FAST)
    for n in range(10):
        disk.write(f"n{n}.md", body(f"n{n}"))
    for n in range(3):
        disk.write(f"post/p{n}.md", body(f"p{n}"))
    recorder = Recorder(brain)
    with watching(brain, recorder) as watcher:
        assert {f"post:p{n}" for n in range(3)} <= set(rows(brain))
        shutil.rmtree(brain.settings.root / "post")
        wait_for(lambda: not any(key.startswith("post:") for key in rows(brain)), "the deletes")
        barrier(brain, watcher, brain.settings.root, "barrier")
        assert not (brain.settings.root / "post").exists(), "a deleted entity came back"
    assert recorder.deletes() == 3
    assert set(rows(brain)) == {f"note:n{n}" for n in range(10)} | {"note:barrier"}


@FILE_SIDE
def test_d8_a_rename_while_watching_leaves_one_entity_and_one_file(
    make_brain: Any, disk: Any, rows: Any
) -> None:
    brain = make_brain(**FAST)
    for n in range(6):
        disk.write(f"n{n}.md", body(f"n{n}"))
    recorder = Recorder(brain)
    with watching(brain, recorder) as watcher:
        original = rows(brain)["note:n2"].document
        (brain.settings.root / "n2.md").rename(brain.settings.root / "renamed.md")
        wait_for(lambda: "note:n2" not in rows(brain), "the old name to go")
        barrier(brain, watcher, brain.settings.root, "barrier")
        found = rows(brain)
        assert found["note:renamed"].document == original
        assert not (brain.settings.root / "n2.md").exists(), "the old name was written back"
        assert disk.read("renamed.md") == original.encode()
    assert set(rows(brain)) == {f"note:n{n}" for n in (0, 1, 3, 4, 5)} | {
        "note:renamed",
        "note:barrier",
    }
    assert tracked(brain) == 7


def test_d7_a_late_update_never_brings_back_a_file_deleted_while_watching(
    make_brain: Any, tmp_path: Path, rows: Any
) -> None:
    brain = make_brain(**FAST)
    other = make_brain(home=tmp_path / "other-state")  # another process's writer
    path = brain.settings.root / "late.md"
    for name in ("late", "kept-1", "kept-2", "kept-3"):  # an emptied folder would be refused
        (brain.settings.root / f"{name}.md").write_text(body(name))
    with watching(brain, Recorder(brain)) as watcher:
        version = rows(brain)["note:late"].version
        path.unlink()
        wait_for(lambda: "note:late" not in rows(brain), "the delete")
        with pytest.raises(ConflictError):
            other.put_entity("note", "late", text=body("late", " Late."), if_version=version)
        barrier(brain, watcher, brain.settings.root, "barrier")
        assert not path.exists() and "note:late" not in rows(brain)
