"""Atomic writes, reads without following links, and the sub-batch thread pool."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from brainsync.errors import UnsafePathError
from brainsync.sync.files import (
    TEMP_MAX_AGE_SECONDS,
    FileIO,
    atomic_write,
    read_snapshot,
    remove_file,
    sweep_temp_files,
    temp_name,
)
from brainsync.sync.ignore import BRAINSYNC_TEMP, IgnoreRule, builtin_file_rule
from brainsync.sync.paths import PathGuard


def test_atomic_write_sets_mtime_and_leaves_no_temp(tmp_path: Path) -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    info = atomic_write(PathGuard(tmp_path), "a/b/c.md", b"hello", when)
    assert (tmp_path / "a/b/c.md").read_bytes() == b"hello"
    assert info.st_mtime_ns == int(when.timestamp()) * 1_000_000_000
    assert sorted(p.name for p in (tmp_path / "a/b").iterdir()) == ["c.md"]


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    atomic_write(PathGuard(tmp_path), "x.md", b"old content that is long", None)
    atomic_write(PathGuard(tmp_path), "x.md", b"new", None)
    assert (tmp_path / "x.md").read_bytes() == b"new"


def test_writes_never_leave_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    for rel in ["../escape.md", "/abs.md", "link/x.md"]:
        with pytest.raises(UnsafePathError):
            atomic_write(PathGuard(root), rel, b"x", None)
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "escape.md").exists()


def test_read_snapshot(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_bytes(b"abc")
    snap = read_snapshot(PathGuard(tmp_path), "a.md")
    assert snap is not None
    assert (snap.data, snap.size) == (b"abc", 3)
    assert snap.file_hash == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert read_snapshot(PathGuard(tmp_path), "missing.md") is None


def test_read_snapshot_does_not_follow_a_final_symlink(tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("secret")
    root = tmp_path / "root"
    root.mkdir()
    (root / "s.md").symlink_to(secret)
    with pytest.raises(OSError):
        read_snapshot(PathGuard(root), "s.md")


def test_read_snapshot_reads_a_large_file_whole(tmp_path: Path) -> None:
    data = os.urandom(300_000)
    (tmp_path / "big.md").write_bytes(data)
    snap = read_snapshot(PathGuard(tmp_path), "big.md")
    assert snap is not None and snap.data == data and snap.size == len(data)


def test_read_snapshot_below_a_missing_folder_opens_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(os, "open", _spy(calls, "open", os.open))
    assert read_snapshot(PathGuard(tmp_path), "missing/x.md") is None
    assert calls == []


def test_a_write_costs_the_least_system_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One open (the temp file), one rename, one stat of it; no stat of any path when the
    caller says what is there (a chunk's write looked at the target already)."""
    calls: list[str] = []
    for name in ("open", "fstat", "lstat", "stat", "replace", "utime", "close", "write"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, _spy(calls, name, real))
    guard = PathGuard(tmp_path)
    atomic_write(guard, "a/first.md", b"x", None)  # makes the folder
    calls.clear()
    when = datetime(2024, 1, 2, tzinfo=UTC)
    atomic_write(guard, "a/second.md", b"y", when, existing=None)
    assert calls == ["open", "write", "utime", "replace", "fstat", "close"]


def _spy(calls: list[str], name: str, real: Any) -> Any:
    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return real(*args, **kwargs)

    return spy


def test_remove_file(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("x")
    assert remove_file(PathGuard(tmp_path), "a.md") is True
    assert remove_file(PathGuard(tmp_path), "a.md") is False


def test_pool_keeps_order_and_uses_threads() -> None:
    seen: set[int] = set()

    def work(n: int) -> int:
        seen.add(threading.get_ident())
        return n * n

    with FileIO(threads=4, batch=10) as io:
        assert io.map(work, range(500)) == [n * n for n in range(500)]
    assert seen and threading.main_thread().ident not in seen  # the pool did the work
    seen.clear()
    with FileIO(threads=1) as io:
        assert io.map(work, [3]) == [9]
    assert seen == {threading.main_thread().ident}  # one thread: inline, no pool


def test_pool_propagates_errors() -> None:
    def boom(n: int) -> int:
        if n == 77:
            raise ValueError("bad item")
        return n

    with FileIO(threads=2, batch=5) as io, pytest.raises(ValueError, match="bad item"):
        io.map(boom, range(100))


def test_temp_files_are_named_as_ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names: list[str] = []
    real_replace = os.replace

    def spy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        names.append(Path(src).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    atomic_write(PathGuard(tmp_path), "n.md", b"x", None)
    found = BRAINSYNC_TEMP.fullmatch(names[0])
    assert found is not None and names[0].startswith(".n.md.")
    assert int(found["pid"]) == os.getpid()
    assert builtin_file_rule(names[0]) is IgnoreRule.BRAINSYNC_TEMP


def test_a_temp_name_fits_even_for_the_longest_name(tmp_path: Path) -> None:
    longest = "é" * 126 + ".md"  # 255 bytes
    assert len(temp_name(longest).encode()) <= 255
    atomic_write(PathGuard(tmp_path), longest, b"x", None)
    assert [p.name for p in tmp_path.iterdir()] == [longest]


# No pid above 2**22 exists on Linux (pid_max), nor above 99999 on macOS.
DEAD_PID = 2**22 + 1


def _litter(folder: Path, name: str, pid: int, host: str | None = None) -> Path:
    temp = temp_name(name, pid)
    if host is not None:
        found = BRAINSYNC_TEMP.fullmatch(temp)
        assert found is not None
        temp = temp.replace(f".{found['host']}-", f".{host}-")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / temp).write_bytes(b"half a fil")
    return folder / temp


def test_sweep_removes_only_our_temp_files_whose_writer_is_gone(tmp_path: Path) -> None:
    dead = _litter(tmp_path / "post", "a.md", DEAD_PID)
    live = _litter(tmp_path, "b.md", os.getpid())
    ours = BRAINSYNC_TEMP.fullmatch(live.name)
    assert ours is not None
    other_host = "0" * 8 if ours["host"] != "0" * 8 else "1" * 8
    elsewhere = _litter(tmp_path, "c.md", DEAD_PID, host=other_host)
    hidden = _litter(tmp_path / ".obsidian", "d.md", DEAD_PID)  # never entered
    users = [".foo.tmp", ".n010951.md.485362e2.tmp", "x.brainsync-tmp", ".a.md.brainsync-tmp"]
    for name in users:
        (tmp_path / name).write_text("the user's own")
    os.symlink(dead, tmp_path / ("." + dead.name[1:].replace("a.md", "l.md")))
    before = {p for p in tmp_path.rglob("*") if p != dead}

    assert sweep_temp_files(tmp_path) == [f"post/{dead.name}"]
    assert {p for p in tmp_path.rglob("*")} == before
    assert live.exists() and elsewhere.exists() and hidden.exists()
    assert all((tmp_path / name).read_text() == "the user's own" for name in users)


def test_sweep_removes_any_of_ours_older_than_an_hour(tmp_path: Path) -> None:
    live = _litter(tmp_path, "b.md", os.getpid())
    (tmp_path / ".foo.tmp").write_text("the user's own")
    changed = live.stat().st_ctime
    assert sweep_temp_files(tmp_path, now=changed + TEMP_MAX_AGE_SECONDS - 1) == []
    assert sweep_temp_files(tmp_path, now=changed + TEMP_MAX_AGE_SECONDS + 1) == [live.name]
    assert [p.name for p in tmp_path.iterdir()] == [".foo.tmp"]


def test_sweep_of_listed_paths_looks_at_those_alone(tmp_path: Path) -> None:
    dead = _litter(tmp_path / "post", "a.md", DEAD_PID)
    unlisted = _litter(tmp_path, "b.md", DEAD_PID)
    (tmp_path / "note.md").write_text("the user's own")
    listed = [f"post/{dead.name}", "note.md", f"post/{temp_name('gone.md', DEAD_PID)}"]
    assert sweep_temp_files(tmp_path, listed) == [f"post/{dead.name}"]
    assert not dead.exists()
    assert unlisted.exists() and (tmp_path / "note.md").exists()  # not listed / not ours
    assert sweep_temp_files(tmp_path, []) == []


def test_sweep_of_a_missing_folder_does_nothing(tmp_path: Path) -> None:
    assert sweep_temp_files(tmp_path / "missing") == []
