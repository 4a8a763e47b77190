"""The file system flush behind ``durability = full``: it flushes, and a refusal is an error."""

from __future__ import annotations

import ctypes
import errno
from pathlib import Path

import pytest

from brainsync.sync import durable


def test_flush_reaches_the_disk_of_the_folder(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("x\n")
    durable.flush_file_system(tmp_path)  # syncfs on Linux; no error


def test_a_flush_the_disk_refuses_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(fd: int) -> int:
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(durable, "_syncfs", lambda: refused)
    with pytest.raises(OSError, match="cannot flush") as raised:
        durable.flush_file_system(tmp_path)
    assert raised.value.errno == errno.EIO


def test_without_syncfs_the_whole_system_is_flushed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(durable, "_syncfs", lambda: None)
    monkeypatch.setattr(durable.os, "sync", lambda: calls.append("sync"))
    durable.flush_file_system(tmp_path)
    assert calls == ["sync"]
