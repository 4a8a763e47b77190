"""Which errors mean a full disk (catalogue B12), and driver text without row values (P2)."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from brainsync.errors import DiskFullError, StoreError, disk_full
from brainsync.store.database import driver_text


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_no_space_and_an_exhausted_quota_are_a_full_disk(code: int) -> None:
    assert disk_full(OSError(code, "no space"))


def test_a_full_disk_is_found_down_the_chain() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise StoreError("could not apply changes") from exc
    except StoreError as wrapped:
        assert disk_full(wrapped)
    assert disk_full(DiskFullError("full"))


def test_sqlite_full_counts_and_other_errors_do_not(tmp_path: Path) -> None:
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
    assert disk_full(full)
    io_error = sqlite3.OperationalError("disk I/O error")
    io_error.sqlite_errorcode = sqlite3.SQLITE_IOERR_WRITE  # type: ignore[attr-defined]
    # a plain I/O error counts only where the file's disk has no block left
    assert not disk_full(io_error, str(tmp_path))
    assert not disk_full(OSError(errno.EACCES, "denied"))
    assert not disk_full(RuntimeError("boom"))


def test_driver_text_drops_the_lines_that_quote_a_row() -> None:
    text = (
        'new row for relation "entities" violates check constraint "c"\n'
        "DETAIL:  Failing row contains (note, n1, private text).\n"
        "CONTEXT:  more"
    )
    assert driver_text(text) == 'new row for relation "entities" violates check constraint "c"'
    assert driver_text("plain\nsecond line") == "plain\nsecond line"
