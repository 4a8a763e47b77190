"""Failure catalogue B14: an edit that keeps the file's size and mtime is still seen.

``touch -r``, ``cp -p`` and some sync tools put the old mtime back after an edit of the
same length. The sync state records each file's ctime and inode too (as git's index
does): a moved ctime makes the plan hash the file again, and the hash decides.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from brainsync.store import SCHEMA_VERSION

V1 = "---\ntitle: t\n---\nversion one\n"
V2 = "---\ntitle: t\n---\nversion two\n"  # the same length


def after_a_tick(path: Path) -> None:
    """Wait until the file system stamps a new change later than ``path``'s last one (a
    change in the same tick is the racy case, which the record handles on its own)."""
    probe = path.parents[2] / "probe"  # beside the sync directory, not in it
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        probe.write_bytes(b"x")
        if probe.stat().st_ctime_ns > path.stat().st_ctime_ns:
            probe.unlink()
            return
    pytest.fail("the file system clock did not move in 10 s")


def touch_r_edit(path: Path, text: str) -> None:
    """Rewrite ``path`` in place with ``text`` (same length), then put its mtime back."""
    before = path.stat()
    data = text.encode()
    assert len(data) == before.st_size
    after_a_tick(path)
    with path.open("r+b") as file:
        file.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )


def synced(make_brain: Any, root: Path) -> tuple[Any, Path]:
    brain = make_brain()
    brain.put_entity("note", "a:n", text=V1)
    brain.put_entity("note", "a:other", text=V1)
    assert brain.sync().created == 2
    an_hour_ago = time.time_ns() - 3600 * 10**9
    for name in ("n.md", "other.md"):  # out of every racy window: only the stat can tell
        os.utime(root / "a" / name, ns=(an_hour_ago, an_hour_ago))
    assert brain.sync().unchanged == 2  # the new stats recorded
    return brain, root / "a" / "n.md"


def test_b14_a_touch_r_edit_is_imported_by_sync(make_brain: Any, root: Path) -> None:
    brain, path = synced(make_brain, root)
    touch_r_edit(path, V2)
    report = brain.sync()
    assert (report.updated, report.unchanged, report.errors) == (1, 1, [])
    assert brain.get_entity("note", "a:n").document == V2
    assert path.read_text() == V2


@pytest.mark.parametrize("named", ["a", "a/n.md"], ids=["folder", "file"])
def test_b14_a_touch_r_edit_is_imported_by_a_partial_scan(
    make_brain: Any, root: Path, named: str
) -> None:
    """The watcher's plans name a folder (its stat-only partial scan) or files."""
    brain, path = synced(make_brain, root)
    touch_r_edit(path, V2)
    report = brain.sync(paths=[named])
    assert (report.updated, report.errors) == (1, [])
    assert brain.get_entity("note", "a:n").document == V2


def test_b14_a_same_stat_file_is_not_read_again(make_brain: Any, root: Path, planned: Any) -> None:
    """The fast path stays: nothing moved, nothing is planned (the records are not racy:
    the export stamped the files with the entities' time, well before it looked)."""
    brain = make_brain()
    long_ago = "---\ntitle: t\n---\nold\n"
    brain.put_entity("note", "old", text=long_ago)
    brain.sync()
    os.utime(root / "old.md", ns=(10**18, 10**18))  # stamp it far from now: not racy
    brain.sync()
    assert planned(brain) == []


def test_b14_a_schema_4_store_upgrades_and_sees_edits_made_before(
    make_brain: Any, root: Path, store_url: str
) -> None:
    brain, path = synced(make_brain, root)
    brain.close()
    _downgrade_to_schema_4(store_url)
    touch_r_edit(path, V2)  # made with the old brainsync's records in place
    brain = make_brain()  # opens and upgrades the store
    report = brain.sync()
    assert (report.updated, report.unchanged, report.errors) == (1, 1, [])
    assert brain.get_entity("note", "a:n").document == V2
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT path, ctime_ns, inode FROM sync_state")).all()
            version = conn.execute(
                text("SELECT value FROM brainsync_meta WHERE name = 'schema_version'")
            ).scalar()
    finally:
        engine.dispose()
    assert version == str(SCHEMA_VERSION)
    inodes = {p: i for p, _, i in found}
    assert inodes == {rel: (root / rel).stat().st_ino for rel in ("a/n.md", "a/other.md")}


def _downgrade_to_schema_4(url: str) -> None:
    """The store as schema 4 left it: no ctime or inode in the sync state."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for column in ("ctime_ns", "inode"):
                conn.execute(text(f"ALTER TABLE sync_state DROP COLUMN {column}"))
            conn.execute(
                text("UPDATE brainsync_meta SET value = '4' WHERE name = 'schema_version'")
            )
    finally:
        engine.dispose()
