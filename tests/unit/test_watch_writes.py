"""The tracker of files still being written (Linux inotify), and its event parser."""

from __future__ import annotations

import errno
import os
import struct
import time
from pathlib import Path

import pytest

from brainsync.sync import watch_writes
from brainsync.sync.watch_inotify import Inotify, InotifyEvent, Mask, open_inotify, parse_events
from brainsync.sync.watch_writes import OVERFLOW, WriteHooks, WriteTracker

LINUX_ONLY = pytest.mark.skipif(open_inotify() is None, reason="needs Linux inotify")


def record(wd: int, mask: int, name: bytes = b"") -> bytes:
    padded = name + b"\0" * (16 - len(name)) if name else b""
    return struct.pack("iIII", wd, mask, 0, len(padded)) + padded


def test_events_are_parsed_whole_names_and_an_overflow() -> None:
    buffer = record(1, Mask.MODIFY, b"a.md") + record(-1, Mask.Q_OVERFLOW)
    buffer += record(2, Mask.CREATE | Mask.ISDIR, b"sub")
    assert parse_events(buffer) == [
        InotifyEvent(1, Mask.MODIFY, "a.md"),
        InotifyEvent(-1, Mask.Q_OVERFLOW, ""),
        InotifyEvent(2, Mask.CREATE | Mask.ISDIR, "sub"),
    ]


class Seen:
    def __init__(self) -> None:
        self.closed: list[str] = []
        self.lost: list[str] = []
        self.hooks = WriteHooks(self.closed.append, self.lost.append)


def wait_for(condition: object, what: str) -> None:
    end = time.monotonic() + 10
    while time.monotonic() < end:
        if callable(condition) and condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@LINUX_ONLY
def test_a_file_is_held_from_its_first_write_until_its_writer_closes_it(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    inotify = open_inotify()
    assert inotify is not None
    seen = Seen()
    tracker = WriteTracker(tmp_path, inotify, seen.hooks, max_hold=60.0)
    tracker.start()
    try:
        with (tmp_path / "sub" / "a.md").open("w") as handle:
            handle.write("half")
            handle.flush()
            held = tracker.holds(["sub/a.md", "other.md"], time.monotonic())
            assert list(held) == ["sub/a.md"]
        wait_for(lambda: seen.closed == ["sub/a.md"], "the close")
        assert tracker.holds(["sub/a.md"], time.monotonic()) == {}
        (tmp_path / "new").mkdir()  # a folder made while watching is followed too
        wait_for(lambda: tracker.holds([], time.monotonic()) == {} and _watched(tracker), "it")
        with (tmp_path / "new" / "b.md").open("w") as handle:
            handle.write("half")
            handle.flush()
            assert list(tracker.holds(["new/b.md"], time.monotonic())) == ["new/b.md"]
        wait_for(lambda: "new/b.md" in seen.closed, "the close in the new folder")
        (tmp_path / "plain.md").write_text("an ordinary save, never held")
        assert tracker.holds(["plain.md"], time.monotonic()) == {}
        assert "plain.md" not in seen.closed  # its own hint is enough: no second one
    finally:
        tracker.stop()
    assert seen.lost == []


def _watched(tracker: WriteTracker) -> bool:
    return "new" in tracker._folders.values()


@LINUX_ONLY
def test_a_writer_holding_a_file_open_past_the_longest_hold_is_let_go(tmp_path: Path) -> None:
    inotify = open_inotify()
    assert inotify is not None
    tracker = WriteTracker(tmp_path, inotify, Seen().hooks, max_hold=5.0)
    tracker.start()
    try:
        with (tmp_path / "a.md").open("w") as handle:
            handle.write("half")
            handle.flush()
            now = time.monotonic()
            (end,) = tracker.holds(["a.md"], now).values()
            assert now < end <= now + 5.0
            assert tracker.holds(["a.md"], end) == {}  # the quiet-time check takes over
    finally:
        tracker.stop()


class FakeInotify(Inotify):
    """Events from a list; a pipe stands in for the descriptor the thread polls."""

    def __init__(self, batches: list[list[InotifyEvent] | Exception]) -> None:
        read_end, self._write_end = os.pipe()
        super().__init__(None, read_end)  # type: ignore[arg-type]
        self._batches = batches

    def add_watch(self, folder: str, mask: Mask) -> int:
        return 1

    def read(self) -> list[InotifyEvent]:
        if not self._batches:
            return []
        batch = self._batches.pop(0)
        if isinstance(batch, Exception):
            raise batch
        return batch

    def ring(self) -> None:
        os.write(self._write_end, b"x")

    def close(self) -> None:
        super().close()
        os.close(self._write_end)


def test_a_kernel_queue_overflow_forgets_open_files_and_says_so(tmp_path: Path) -> None:
    fake = FakeInotify(
        [[InotifyEvent(1, Mask.MODIFY, "a.md")], [InotifyEvent(-1, Mask.Q_OVERFLOW, "")]]
    )
    seen = Seen()
    tracker = WriteTracker(tmp_path, fake, seen.hooks)
    tracker._folders[1] = ""
    assert list(tracker.holds(["a.md"], time.monotonic())) == ["a.md"]
    assert tracker.holds(["a.md"], time.monotonic()) == {}  # the overflow: nothing known
    assert seen.lost == [OVERFLOW]
    fake.close()


def test_a_tracker_thread_that_dies_says_so_and_holds_nothing(tmp_path: Path) -> None:
    fake = FakeInotify([[InotifyEvent(1, Mask.MODIFY, "a.md")], RuntimeError("boom")])
    seen = Seen()
    tracker = WriteTracker(tmp_path, fake, seen.hooks)
    tracker.start()
    try:
        assert list(tracker.holds(["a.md"], time.monotonic())) == ["a.md"]
        fake.ring()
        wait_for(lambda: bool(seen.lost), "the warning")
        assert "RuntimeError: boom" in seen.lost[0]
        assert tracker.holds(["a.md"], time.monotonic()) == {}  # the quiet-time check only
    finally:
        tracker.stop()


def test_the_watch_limit_is_named_and_the_quiet_time_check_remains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Limited(FakeInotify):
        def add_watch(self, folder: str, mask: Mask) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), folder)

    fake = Limited([])
    monkeypatch.setattr(watch_writes, "open_inotify", lambda: fake)
    tracker, problem = watch_writes.open_tracker(tmp_path, Seen().hooks)
    assert tracker is None and fake.fd == -1  # the instance is not kept
    assert problem is not None and "fs.inotify.max_user_watches" in problem
