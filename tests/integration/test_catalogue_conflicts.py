"""Failure catalogue C2 and C4, and every conflict policy (both store backends).

C2 is checked under the default policy (merge: here both sides changed the same line, so
it falls back to keeping both) and under keep-both itself; tests/integration/test_merge_sync.py
has the edits that do merge.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, insert, select

from brainsync.app import Brain
from brainsync.entities import document_hash
from brainsync.errors import MassDeleteError
from brainsync.events import ConflictFound
from brainsync.report import Conflict, ItemError
from brainsync.store.schema import entities, meta, sync_state

ORIGINAL = "---\ntitle: Shared\n---\nOriginal text.\n"
ON_DISK = "---\ntitle: Shared\n---\nEdited in the editor.\n"
IN_DB = "---\ntitle: Shared\n---\nEdited through the API.\n"
KEEP_BOTH = "kept both: file imported, database version saved as copy"
#: The merge policy's fallback: the same line (line 4 of each file) changed on both sides.
MERGE_FELL_BACK = f"not merged (both sides changed line 4); {KEEP_BOTH}"
#: What each policy that keeps both says, by policy.
KEPT_BOTH = {"keep-both": KEEP_BOTH, "merge": MERGE_FELL_BACK}


def conflicted(brain: Brain, disk: Any) -> tuple[Any, Any]:
    """Post ``c`` synced, then changed on both sides; returns (db entity, file state)."""
    brain.put_entity("post", "c", text=ORIGINAL)
    brain.put_entity("post", "other", text=ORIGINAL.replace("Shared", "Other"))
    assert brain.sync().created == 2
    disk.edit("post/c.md", ON_DISK)
    entity = brain.put_entity("post", "c", text=IN_DB)
    assert entity.version == 2
    return entity, disk.tree()["post/c.md"]


def quiet(report: Any, unchanged: int) -> bool:
    counts = (report.created, report.updated, report.deleted, report.moved)
    return counts == (0, 0, 0, 0) and report.unchanged == unchanged and not report.conflicts


# -- C2 with the default policy (merge, falling back to keep both) and with keep-both ---------


@pytest.mark.parametrize("policy", ["merge", "keep-both"])
@pytest.mark.parametrize("kind", ["sync", "import"])
def test_c2_both_changed_keeps_both(
    kind: str, policy: str, brain: Brain, disk: Any, rows: Any, planned: Any
) -> None:
    db_side, file_side = conflicted(brain, disk)
    events: list[object] = []
    brain.bus.subscribe(events.append)

    # the default policy is merge: it needs no parameter
    report = brain.run(kind, {} if policy == "merge" else {"conflict": policy})
    copy = f"post/c.conflict-{db_side.content_hash[:8]}.md"
    resolution = KEPT_BOTH[policy]
    assert report.conflicts == [Conflict("post/c.md", "post:c", resolution, copy)]
    assert report.merged == []
    assert (report.created, report.updated, report.deleted, report.errors) == (0, 0, 0, [])
    assert report.unchanged == 1
    files = disk.tree()
    assert files["post/c.md"] == file_side  # the file is left exactly as the user saved it
    assert files[copy].data == IN_DB.encode()  # the database side, beside it
    assert set(files) == {"post/c.md", "post/other.md", copy}
    stored = rows(brain)["post:c"]
    assert (stored.document, stored.version) == (ON_DISK, 3)
    assert [e for e in events if isinstance(e, ConflictFound)] == [
        ConflictFound("post:c", "post/c.md", resolution, copy)
    ]

    # the copy is never imported, and the conflict does not come back
    assert quiet(brain.sync(), unchanged=2)
    assert planned(brain) == []
    assert set(rows(brain)) == {"post:c", "post:other"}
    assert disk.tree() == files


@pytest.mark.parametrize("policy", ["merge", "keep-both"])
def test_c2_both_new_keeps_both(policy: str, brain: Brain, disk: Any, rows: Any) -> None:
    db_side = brain.put_entity("note", "fresh", text=IN_DB)
    disk.write("fresh.md", ON_DISK)
    report = brain.sync(conflict=policy)
    copy = f"fresh.conflict-{db_side.content_hash[:8]}.md"
    # never synced: there is no common version to merge from
    resolution = {"keep-both": KEEP_BOTH}.get(
        policy, f"not merged (no common version to merge from); {KEEP_BOTH}"
    )
    assert report.conflicts == [Conflict("fresh.md", "note:fresh", resolution, copy)]
    assert disk.read("fresh.md") == ON_DISK.encode()
    assert disk.read(copy) == IN_DB.encode()
    assert rows(brain)["note:fresh"].document == ON_DISK
    assert quiet(brain.sync(), unchanged=1)


def test_c2_both_sides_equal_is_no_conflict(brain: Brain, disk: Any, rows: Any) -> None:
    brain.put_entity("note", "same", text=ORIGINAL)
    brain.sync()
    disk.edit("same.md", ON_DISK)
    brain.put_entity("note", "same", text=ON_DISK)
    report = brain.sync()
    assert quiet(report, unchanged=1)
    assert set(disk.tree()) == {"same.md"}
    assert rows(brain)["note:same"].version == 2


def test_c2_edit_wins_over_delete_both_ways(brain: Brain, disk: Any, rows: Any) -> None:
    for name in ("file-edited", "entity-edited", "a", "b", "c"):
        brain.put_entity("note", name, text=ORIGINAL)
    brain.sync()
    # deleted in the database, edited on disk: the edit is imported again
    brain.delete_entity("note", "file-edited")
    disk.edit("file-edited.md", ON_DISK)
    # deleted on disk, edited in the database: the file comes back
    (disk.root / "entity-edited.md").unlink()
    brain.put_entity("note", "entity-edited", text=IN_DB)

    report = brain.sync()
    by_path = {c.path: c.resolution for c in report.conflicts}
    assert set(by_path) == {"file-edited.md", "entity-edited.md"}
    assert "re-imported" in by_path["file-edited.md"]
    assert "file restored" in by_path["entity-edited.md"]
    assert (report.created, report.deleted, report.errors) == (2, 0, [])
    found = rows(brain)
    assert found["note:file-edited"].document == ON_DISK
    assert found["note:entity-edited"].document == IN_DB
    assert disk.read("entity-edited.md") == IN_DB.encode()
    assert disk.read("file-edited.md") == ON_DISK.encode()
    assert quiet(brain.sync(), unchanged=5)


@pytest.mark.parametrize("policy", ["merge", "keep-both"])
def test_c2_dry_run_reports_and_changes_nothing(
    policy: str, brain: Brain, disk: Any, rows: Any
) -> None:
    db_side, _ = conflicted(brain, disk)
    files = disk.tree()
    report = brain.sync(dry_run=True, conflict=policy)
    copy = f"post/c.conflict-{db_side.content_hash[:8]}.md"
    assert report.conflicts == [Conflict("post/c.md", "post:c", KEPT_BOTH[policy], copy)]
    assert report.dry_run
    assert disk.tree() == files
    assert rows(brain)["post:c"].version == 2


# -- every policy ----------------------------------------------------------------------------


def check_file_wins(brain: Brain, disk: Any, rows: Any, report: Any, before: Any) -> None:
    resolution = "file version kept; database version saved as copy"
    copy = f"post/c.conflict-{document_hash(IN_DB)[:8]}.md"
    assert report.conflicts == [Conflict("post/c.md", "post:c", resolution, copy)]
    assert report.errors == []
    assert set(disk.tree()) == {"post/c.md", "post/other.md", copy}
    assert disk.tree()["post/c.md"] == before
    assert disk.read(copy) == IN_DB.encode()  # the losing side is kept (C2)
    assert (rows(brain)["post:c"].document, rows(brain)["post:c"].version) == (ON_DISK, 3)


def check_db_wins(brain: Brain, disk: Any, rows: Any, report: Any, before: Any) -> None:
    resolution = "database version kept; the file's version saved as copy"
    copy = f"post/c.conflict-{document_hash(ON_DISK)[:8]}.md"
    assert report.conflicts == [Conflict("post/c.md", "post:c", resolution, copy)]
    assert report.errors == []
    assert set(disk.tree()) == {"post/c.md", "post/other.md", copy}
    assert disk.read("post/c.md") == IN_DB.encode()
    assert disk.read(copy) == ON_DISK.encode()  # the user's edit is kept (C2)
    assert (rows(brain)["post:c"].document, rows(brain)["post:c"].version) == (IN_DB, 2)


def check_fail(brain: Brain, disk: Any, rows: Any, report: Any, before: Any) -> None:
    resolution = "left unresolved (policy fail)"
    assert report.conflicts == [Conflict("post/c.md", "post:c", resolution, None)]
    assert report.errors == [ItemError("post/c.md", "conflict: file and entity both changed")]
    assert not report.ok
    assert disk.tree()["post/c.md"] == before  # both sides stay as they are
    assert set(disk.tree()) == {"post/c.md", "post/other.md"}
    assert (rows(brain)["post:c"].document, rows(brain)["post:c"].version) == (IN_DB, 2)


def check_keep_both(
    brain: Brain, disk: Any, rows: Any, report: Any, before: Any, resolution: str = KEEP_BOTH
) -> None:
    assert len(report.conflicts) == 1
    copy = report.conflicts[0].copy_path
    assert copy is not None and copy.startswith("post/c.conflict-")
    assert report.conflicts[0].resolution == resolution
    assert report.merged == []
    assert disk.tree()["post/c.md"] == before
    assert disk.read(copy) == IN_DB.encode()
    assert rows(brain)["post:c"].document == ON_DISK


def check_merge(brain: Brain, disk: Any, rows: Any, report: Any, before: Any) -> None:
    # the same line changed on both sides: exactly what keep-both does, and no markers
    check_keep_both(brain, disk, rows, report, before, MERGE_FELL_BACK)
    assert b"<<<<<<<" not in disk.read("post/c.md")


CHECKS: dict[str, Callable[..., None]] = {
    "merge": check_merge,
    "keep-both": check_keep_both,
    "file-wins": check_file_wins,
    "db-wins": check_db_wins,
    "fail": check_fail,
}


@pytest.mark.parametrize("policy", sorted(CHECKS))
def test_c2_policy_per_run(policy: str, brain: Brain, disk: Any, rows: Any) -> None:
    _, before = conflicted(brain, disk)
    report = brain.sync(conflict=policy)
    CHECKS[policy](brain, disk, rows, report, before)
    files = disk.tree()
    again = brain.sync(conflict=policy)
    if policy == "fail":  # still unresolved, still reported, still nothing lost
        assert again.conflicts == report.conflicts
        assert again.errors == report.errors
    else:
        assert quiet(again, unchanged=2)
    assert disk.tree() == files


@pytest.mark.parametrize("policy", sorted(CHECKS))
def test_c2_policy_from_settings(policy: str, make_brain: Any, disk: Any, rows: Any) -> None:
    brain = make_brain(conflict_policy=policy)
    _, before = conflicted(brain, disk)
    CHECKS[policy](brain, disk, rows, brain.sync(), before)


def test_c2_policy_fail_then_resolved_by_hand(brain: Brain, disk: Any, rows: Any) -> None:
    conflicted(brain, disk)
    assert brain.sync(conflict="fail").errors
    disk.edit("post/c.md", IN_DB)  # the user makes both sides agree
    report = brain.sync(conflict="fail")
    assert quiet(report, unchanged=2) and report.errors == []
    assert rows(brain)["post:c"].version == 2


# -- C4: the database restored from an older backup ----------------------------------------------

Snapshot = dict[str, list[dict[str, Any]]]


def backup(brain: Brain, dest: Path) -> Snapshot | None:
    """Take a backup of the store: the SQLite files, or every row for PostgreSQL."""
    url = brain.settings.store_url
    brain.close()
    if url.startswith("sqlite:///"):
        source = Path(url.removeprefix("sqlite:///"))
        dest.mkdir()
        for path in source.parent.glob(source.name + "*"):
            shutil.copy2(path, dest / path.name)
        return None
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table.name: [dict(row) for row in conn.execute(select(table)).mappings()]
                for table in (entities, sync_state, meta)
            }
    finally:
        engine.dispose()


def restore(brain: Brain, dest: Path, rows_: Snapshot | None) -> None:
    """Put the backup back, replacing whatever the store holds now."""
    url = brain.settings.store_url
    brain.close()
    if rows_ is None:
        target = Path(url.removeprefix("sqlite:///"))
        for path in target.parent.glob(target.name + "*"):
            path.unlink()
        for path in dest.iterdir():
            shutil.copy2(path, target.parent / path.name)
        return
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for table in (entities, sync_state, meta):
                conn.execute(delete(table))
                if rows_[table.name]:
                    conn.execute(insert(table), rows_[table.name])
    finally:
        engine.dispose()


def test_c4_database_restored_from_older_backup(
    make_brain: Any, disk: Any, rows: Any, planned: Any, tmp_path: Path
) -> None:
    brain = make_brain()
    for name in ("a", "b", "c", "d", "e", "f"):
        brain.put_entity("note", name, text=f"---\ntitle: {name}\n---\nv1\n")
    assert brain.sync().created == 6
    saved = backup(brain, tmp_path / "backup")

    # life goes on after the backup
    brain = make_brain()
    disk.edit("a.md", "---\ntitle: a\n---\nv2 edited on disk\n")
    brain.put_entity("note", "b", text="---\ntitle: b\n---\nv2 edited in the db\n")
    (disk.root / "c.md").unlink()
    disk.write("g.md", "---\ntitle: g\n---\nnew file\n")
    brain.put_entity("note", "h", text="---\ntitle: h\n---\nnew entity\n")
    report = brain.sync()
    # a imported, b exported, c deleted, g imported, h exported
    assert (report.created, report.updated, report.deleted, report.errors) == (2, 2, 1, [])
    newer = disk.tree()
    newer_docs = {k: e.document for k, e in rows(brain).items()}
    assert set(newer_docs) == {f"note:{n}" for n in "abdefgh"}

    # the database is restored from the backup: it knows nothing of the above
    restore(brain, tmp_path / "backup", saved)
    brain = make_brain()
    assert set(rows(brain)) == {f"note:{n}" for n in "abcdef"}
    report = brain.sync()
    assert report.errors == []
    assert report.conflicts == []
    # newer files win over the older rows; the one deletion (c) is reported
    assert report.deleted == 1
    assert (report.created, report.updated) == (2, 2)
    assert disk.tree() == newer  # not one file rewritten or removed
    found = rows(brain)
    assert {k: e.document for k, e in found.items()} == newer_docs
    assert planned(brain) == []


def test_c4_directory_checked_out_from_another_branch(
    brain: Brain, disk: Any, rows: Any, planned: Any
) -> None:
    for n in range(10):
        brain.put_entity("note", f"n{n}", text=f"---\ntitle: n{n}\n---\nmain branch\n")
    brain.sync()
    # the other branch: two files differ, one is absent, one extra (git gives new mtimes)
    disk.edit("n0.md", "---\ntitle: n0\n---\nother branch\n")
    disk.edit("n1.md", "---\ntitle: n1\n---\nother branch too\n")
    (disk.root / "n2.md").unlink()
    # a second old: a file stamped within the racy window of its import is hashed again
    a_second_ago = time.time_ns() - 1_000_000_000
    disk.write("extra.md", "---\ntitle: extra\n---\nonly on the branch\n", mtime_ns=a_second_ago)
    checked_out = disk.tree()

    report = brain.sync()
    assert (report.updated, report.created, report.deleted, report.errors) == (2, 1, 1, [])
    assert disk.tree() == checked_out  # the checkout itself is never rewritten
    found = rows(brain)
    assert found["note:n0"].document.endswith("other branch\n")
    assert "note:n2" not in found and "note:extra" in found
    assert planned(brain) == []

    # a branch without most of the files: the sync refuses instead of deleting them
    for n in range(3, 10):
        (disk.root / f"n{n}.md").unlink()
    with pytest.raises(MassDeleteError, match="--force-deletes"):
        brain.sync()
    assert len(rows(brain)) == 10
