"""The watcher's pure parts: the hint queue, event filtering, path selection, state."""

from __future__ import annotations

from pathlib import Path

import pytest
from watchfiles import Change

from brainsync.errors import InvalidInputError
from brainsync.report import Conflict, ItemError, Report
from brainsync.sync import watch_state
from brainsync.sync.watch_files import hints_from_changes
from brainsync.sync.watch_jobs import problems
from brainsync.sync.watch_paths import PartialScan, normalise_paths
from brainsync.sync.watch_queue import HintKind, HintQueue
from brainsync.sync.watch_state import (
    StateFile,
    WatchMode,
    WatchState,
    read_watch_states,
    updated_state,
    write_watch_state,
)


def test_a_change_is_due_at_once_and_a_delete_after_the_delay() -> None:
    queue = HintQueue(delete_delay=2.0, retry_delay=2.0)
    queue.add("a.md", HintKind.CHANGED, now=10.0)
    queue.add("b.md", HintKind.DELETED, now=10.0)
    assert queue.take(10.0) == ["a.md"]
    assert queue.take(11.9) == []
    assert queue.next_due() == 12.0
    assert queue.take(12.0) == ["b.md"]
    assert len(queue) == 0 and queue.next_due() is None


def test_a_recreate_after_a_delete_is_due_at_once() -> None:
    queue = HintQueue(delete_delay=2.0, retry_delay=2.0)
    queue.add("a.md", HintKind.DELETED, now=10.0)
    queue.add("a.md", HintKind.CHANGED, now=10.5)
    assert queue.take(10.5) == ["a.md"]


def test_a_deferred_path_waits_and_the_bound_turns_into_one_rescan() -> None:
    queue = HintQueue(delete_delay=2.0, retry_delay=2.0, limit=2)
    queue.add("a.md", HintKind.CHANGED, now=0.0)
    queue.defer("a.md", until=5.0)
    assert queue.take(4.0) == []
    queue.add("b.md", HintKind.CHANGED, now=0.0)
    queue.add("c.md", HintKind.CHANGED, now=0.0)
    assert queue.take_overflow() and not queue.take_overflow()
    assert queue.take(5.0) == ["a.md", "b.md"]


def test_only_paths_a_sync_could_read_become_hints(tmp_path: Path) -> None:
    (tmp_path / "new").mkdir()
    changes = [
        (Change.added, str(tmp_path / "4913")),
        (Change.deleted, str(tmp_path / "4913")),
        (Change.deleted, str(tmp_path / "a.md")),
        (Change.added, str(tmp_path / "a.md")),
        (Change.added, str(tmp_path / "a.md~")),
        (Change.added, str(tmp_path / "b.md___jb_tmp___")),
        (Change.modified, str(tmp_path / ".git" / "index")),
        (Change.modified, str(tmp_path / ".obsidian" / "x.md")),
        (Change.added, str(tmp_path / "picture.png")),
        (Change.added, str(tmp_path / "new")),
        (Change.deleted, str(tmp_path / "old-folder")),
        (Change.deleted, str(tmp_path / "c.md")),
        (Change.modified, str(tmp_path.parent / "outside.md")),
    ]
    assert hints_from_changes(tmp_path, changes) == [
        (HintKind.CHANGED, "a.md"),
        (HintKind.DELETED, "c.md"),
        (HintKind.CHANGED, "new"),
        (HintKind.DELETED, "old-folder"),
    ]


def test_paths_are_normalised_and_must_stay_inside() -> None:
    assert normalise_paths(["b.md", "./a.md", "b.md", "d/"]) == ("a.md", "b.md", "d")
    for bad in (["../x.md"], ["/etc/passwd"], "a.md", [""], [3]):
        with pytest.raises(InvalidInputError):
            normalise_paths(bad)


def test_a_partial_scan_selects_named_paths_and_folders_only() -> None:
    scan = PartialScan(selected={"a.md", "d"}, folders={"d"})
    assert scan.selects("a.md") and scan.selects("d/x/y.md")
    assert not scan.selects("b.md") and not scan.selects("dd/x.md")
    assert scan.is_shadowed("b.md") and not scan.is_shadowed("d/x.md")


def test_watch_state_round_trips_and_a_dead_watcher_reads_stopped(tmp_path: Path) -> None:
    state = updated_state(None, "f1", "/x", WatchMode.WATCHING, None, True, {"n": 1}, True)
    assert state.mode is WatchMode.WATCHING and state.last_event and state.last_rescan
    write_watch_state(tmp_path, state)
    assert read_watch_states(tmp_path) == [state]
    gone = WatchState("f2", "/y", WatchMode.PAUSED, reason="root gone", pid=2**22 + 12345)
    write_watch_state(tmp_path, gone)
    modes = {s.folder: s.mode for s in read_watch_states(tmp_path)}
    assert modes == {"f1": WatchMode.WATCHING, "f2": WatchMode.STOPPED}


def test_a_state_is_published_only_once_its_file_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread that sees the new mode on the watcher finds it in the file too."""
    statefile = StateFile(tmp_path, "/x")
    statefile.folder = "f1"
    statefile.update(WatchMode.WATCHING)
    seen_while_writing: list[WatchMode | None] = []
    write = watch_state.write_watch_state

    def observed_write(home: Path, state: WatchState) -> None:
        seen_while_writing.append(statefile.state.mode if statefile.state else None)
        write(home, state)

    monkeypatch.setattr(watch_state, "write_watch_state", observed_write)
    statefile.update(WatchMode.PAUSED, "root gone")
    assert seen_while_writing == [WatchMode.WATCHING]
    assert statefile.state is not None and statefile.state.mode is WatchMode.PAUSED
    assert [s.mode for s in read_watch_states(tmp_path)] == [WatchMode.PAUSED]


def test_a_batch_names_the_paths_of_its_errors_and_conflicts_and_the_copies() -> None:
    report = Report(
        conflicts=[
            Conflict("a.md", "note:a", "both kept", "a.conflict-1.md"),
            Conflict("b.md", "note:b", "database version kept"),
        ],
        errors=[ItemError(f"e{n}.md", "bad frontmatter") for n in range(7)],
    )
    assert problems(report, "job-1") == [
        "errors: e0.md, e1.md, e2.md, e3.md, e4.md and 2 more (brainsync job show job-1)",
        "conflicts: a.md (copy a.conflict-1.md), b.md",
    ]
    assert problems(Report(), "job-1") == []
