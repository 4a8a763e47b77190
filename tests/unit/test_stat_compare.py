"""The stat a plan trusts: size, mtime, ctime and inode (B14), and racy records."""

from __future__ import annotations

import pytest

from brainsync.entities import EntityKey
from brainsync.store import SyncedRow
from brainsync.sync.files import FileSnapshot
from brainsync.sync.paths import PathMapper
from brainsync.sync.racy import is_racy
from brainsync.sync.scan import FileStat
from brainsync.sync.settle import _settled
from brainsync.sync.work import make_record

MAPPER = PathMapper(["note"])
SECOND = 1_000_000_000
NOW = 1_700_000_000 * SECOND + 123_456_789


def row(**changes: int) -> SyncedRow:
    values = {"size": 10, "mtime_ns": 5, "ctime_ns": 7, "inode": 99, **changes}
    return SyncedRow("n.md", "note", same_entity=True, **values)


@pytest.mark.parametrize(
    ("moved", "settled"),
    [
        ({}, True),
        ({"size": 11}, False),
        ({"mtime_ns": 6}, False),
        ({"ctime_ns": 8}, False),  # touch -r, cp -p: same size and mtime, new ctime
        ({"inode": 100}, False),  # another file renamed into its place
    ],
)
def test_each_part_of_the_stat_unsettles(moved: dict[str, int], settled: bool) -> None:
    values = {"size": 10, "mtime_ns": 5, "ctime_ns": 7, "inode": 99, **moved}
    assert _settled(row(), FileStat("n.md", **values), MAPPER) is settled


def test_an_unknown_ctime_never_settles() -> None:
    """0: a record of an older schema, or made in the racy window: hash it again."""
    assert not _settled(row(ctime_ns=0), FileStat("n.md", 10, 5, 7, 99), MAPPER)


def snap(mtime_ns: int, ctime_ns: int, seen_ns: int = NOW) -> FileSnapshot:
    return FileSnapshot("n.md", b"", "h", 1, mtime_ns, ctime_ns, 99, seen_ns)


def test_racy_is_an_mtime_within_two_ticks_of_the_look() -> None:
    fine = NOW - 3  # a file system with nanosecond stamps: the kernel's tick decides
    assert is_racy(snap(NOW - 5_000_000, fine))
    assert not is_racy(snap(NOW - 50_000_000, fine))
    assert not is_racy(snap(NOW - 3600 * SECOND, fine))  # an export's entity time
    assert not is_racy(snap(NOW + 3600 * SECOND, fine))  # a stamp far in the future
    whole = NOW // SECOND * SECOND  # whole-second stamps (FAT, HFS+, ext3): 2 s
    assert is_racy(snap(whole - SECOND, whole))
    assert not is_racy(snap(whole - 3 * SECOND, whole))


def test_a_racy_record_keeps_no_ctime() -> None:
    key = EntityKey("note", "n")
    assert make_record("n.md", key, snap(NOW - 1000, NOW - 3), "e").ctime_ns == 0
    record = make_record("n.md", key, snap(NOW - 3600 * SECOND, NOW - 3), "e")
    assert (record.ctime_ns, record.inode) == (NOW - 3, 99)
