"""Failure catalogue, group D: deletes (D1 needs the watcher, which does not exist yet)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from folder_state import tracked

from brainsync.app import Brain
from brainsync.errors import ConflictError, MassDeleteError, RootUnavailableError


def body(name: str) -> str:
    return f"---\ntitle: {name}\n---\nText of {name}.\n"


def seed(brain: Brain, notes: int = 6, posts: int = 0) -> None:
    """Notes ``n0..`` and posts ``p0..``, exported, then synced once (all settled)."""
    for n in range(notes):
        brain.put_entity("note", f"n{n}", text=body(f"n{n}"))
    for n in range(posts):
        brain.put_entity("post", f"p{n}", text=body(f"p{n}"))
    report = brain.export()
    assert (report.created, report.errors) == (notes + posts, [])
    assert brain.sync().unchanged == notes + posts


def keys(rows: Any, brain: Brain) -> set[str]:
    return set(rows(brain))


def test_d2_files_deleted_offline_delete_their_entities(
    brain: Brain, disk: Any, rows: Any, planned: Any
) -> None:
    seed(brain, notes=6)
    kept = {p: f for p, f in disk.tree().items() if p not in ("n1.md", "n4.md")}
    (disk.root / "n1.md").unlink()
    (disk.root / "n4.md").unlink()
    events: list[object] = []
    brain.bus.subscribe(events.append)

    report = brain.sync()
    assert (report.deleted, report.unchanged, report.created, report.errors) == (2, 4, 0, [])
    assert keys(rows, brain) == {"note:n0", "note:n2", "note:n3", "note:n5"}
    assert tracked(brain) == 4
    assert disk.tree() == kept  # nothing rewritten, nothing recreated
    assert sorted(getattr(e, "key", "") for e in events) == ["note:n1", "note:n4"]
    assert planned(brain) == []


def test_d2_import_also_deletes(brain: Brain, disk: Any, rows: Any) -> None:
    seed(brain, notes=6)
    (disk.root / "n0.md").unlink()
    report = brain.import_()
    assert (report.deleted, report.unchanged, report.errors) == (1, 5, [])
    assert "note:n0" not in rows(brain)
    assert len(rows(brain)) == 5


def test_d2_no_delete_when_deletes_do_not_propagate(make_brain: Any, disk: Any, rows: Any) -> None:
    brain = make_brain(propagate_deletes=False)
    seed(brain, notes=6)
    (disk.root / "n1.md").unlink()
    before = disk.tree()
    report = brain.sync()
    assert (report.deleted, report.created, report.errors) == (0, 0, [])
    assert len(rows(brain)) == 6
    assert brain.get_entity("note", "n1").version == 1
    assert disk.tree() == before  # and the file is not brought back either


def test_d3_deleted_type_folder_deletes_its_entities(
    brain: Brain, disk: Any, rows: Any, planned: Any
) -> None:
    seed(brain, notes=6, posts=3)
    notes = {p: f for p, f in disk.tree().items() if not p.startswith("post/")}
    shutil.rmtree(disk.root / "post")

    report = brain.sync()
    assert (report.deleted, report.unchanged, report.created, report.errors) == (3, 6, 0, [])
    assert report.conflicts == []
    assert set(rows(brain)) == {f"note:n{n}" for n in range(6)}
    assert not (disk.root / "post").exists()
    assert disk.tree() == notes
    # and nothing comes back on the next runs, in either direction
    assert brain.export().created == 0
    assert brain.sync().created == 0
    assert not (disk.root / "post").exists()
    assert planned(brain) == []


@pytest.mark.parametrize("kind", ["export", "sync"])
def test_d4_entity_deleted_in_database_removes_its_file(
    kind: str, brain: Brain, disk: Any, rows: Any
) -> None:
    seed(brain, notes=6)
    others = {p: f for p, f in disk.tree().items() if p != "n2.md"}
    brain.delete_entity("note", "n2")

    report = brain.run(kind)
    assert (report.deleted, report.unchanged, report.created, report.errors) == (1, 5, 0, [])
    assert not (disk.root / "n2.md").exists()
    assert disk.tree() == others
    assert tracked(brain) == 5
    assert "note:n2" not in rows(brain)
    assert brain.run(kind).deleted == 0


def test_d4_file_kept_when_deletes_do_not_propagate(make_brain: Any, disk: Any) -> None:
    brain = make_brain(propagate_deletes=False)
    seed(brain, notes=6)
    before = disk.tree()
    brain.delete_entity("note", "n2")
    report = brain.sync()
    assert (report.deleted, report.created, report.errors) == (0, 0, [])
    assert disk.tree() == before


# -- D5: the root is empty, missing or unreadable -------------------------------------


def assert_nothing_deleted(brain: Brain, rows: Any, count: int) -> None:
    assert len(rows(brain)) == count
    assert tracked(brain) == count


@pytest.mark.parametrize("kind", ["import", "sync"])
def test_d5_empty_root_is_refused(kind: str, brain: Brain, disk: Any, rows: Any) -> None:
    seed(brain, notes=6)
    for path in list(disk.root.rglob("*.md")):
        path.unlink()
    with pytest.raises(RootUnavailableError, match="empty") as caught:
        brain.run(kind)
    assert "--force-deletes" in str(caught.value)
    assert_nothing_deleted(brain, rows, 6)
    assert disk.tree() == {}


@pytest.mark.parametrize("kind", ["export", "import", "sync"])
def test_d5_missing_root_is_refused(kind: str, brain: Brain, disk: Any, rows: Any) -> None:
    seed(brain, notes=6)
    shutil.rmtree(disk.root)
    with pytest.raises(RootUnavailableError, match="does not exist"):
        brain.run(kind)
    assert_nothing_deleted(brain, rows, 6)
    assert not disk.root.exists()  # an export does not recreate an unmounted root


def test_d5_root_that_is_a_file_is_refused(brain: Brain, disk: Any, rows: Any) -> None:
    seed(brain, notes=6)
    shutil.rmtree(disk.root)
    disk.root.write_bytes(b"not a folder")
    with pytest.raises(RootUnavailableError, match="not a folder"):
        brain.sync()
    assert_nothing_deleted(brain, rows, 6)


@pytest.fixture
def unreadable(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``unreadable(folder)``: make ``folder`` unreadable, by permissions when they bite.

    Tests run as root here, where mode 000 does not stop reads; then ``os.scandir`` of
    that folder raises PermissionError instead, which is what the scan would meet.
    """
    changed: list[Path] = []
    real_scandir = os.scandir

    def make(folder: Path) -> None:
        folder.chmod(0)
        changed.append(folder)
        try:
            with real_scandir(folder):
                pass
        except PermissionError:
            return  # permissions work: nothing to fake
        blocked = str(folder)

        def scandir(path: Any = ".") -> Any:
            if os.fspath(path).rstrip("/") == blocked:
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", scandir)

    yield make
    for folder in changed:
        folder.chmod(0o755)


@pytest.mark.parametrize("kind", ["export", "import", "sync"])
def test_d5_unreadable_root_is_refused(
    kind: str, brain: Brain, disk: Any, rows: Any, unreadable: Any
) -> None:
    seed(brain, notes=6)
    brain.delete_entity("note", "n0")  # an export would want to delete its file
    unreadable(disk.root)
    with pytest.raises(RootUnavailableError, match="cannot be read"):
        brain.run(kind)
    disk.root.chmod(0o755)
    assert len(rows(brain)) == 5
    assert tracked(brain) == 6
    assert (disk.root / "n0.md").exists()


def test_d5_unreadable_subfolder_deletes_nothing_inside(
    brain: Brain, disk: Any, rows: Any, unreadable: Any
) -> None:
    seed(brain, notes=3)
    for n in range(3):
        brain.put_entity("note", f"ideas:i{n}", text=body(f"i{n}"))
    brain.export()
    unreadable(disk.root / "ideas")
    report = brain.sync()
    assert (report.deleted, report.created, report.errors) == (0, 0, [])
    assert [(s.path, s.reason.startswith("folder cannot be read")) for s in report.skipped] == [
        ("ideas", True)
    ]
    assert len(rows(brain)) == 6
    assert tracked(brain) == 6


# -- D6: mass-delete guard --------------------------------------------------------------


def test_d6_mass_delete_refused_then_forced(
    brain: Brain, disk: Any, rows: Any, planned: Any
) -> None:
    seed(brain, notes=10)
    for n in range(6):
        (disk.root / f"n{n}.md").unlink()
    left = disk.tree()

    with pytest.raises(MassDeleteError) as caught:
        brain.sync()
    message = str(caught.value)
    assert "--force-deletes" in message
    assert "6 of 10" in message
    assert len(rows(brain)) == 10
    assert tracked(brain) == 10
    with pytest.raises(MassDeleteError):
        brain.import_()
    assert len(rows(brain)) == 10
    assert disk.tree() == left

    report = brain.sync(force_deletes=True)
    assert (report.deleted, report.unchanged, report.created, report.errors) == (6, 4, 0, [])
    assert set(rows(brain)) == {f"note:n{n}" for n in range(6, 10)}
    assert disk.tree() == left
    assert planned(brain) == []


def test_d6_mass_delete_of_entities_refused_on_export(brain: Brain, disk: Any, rows: Any) -> None:
    seed(brain, notes=10)
    before = disk.tree()
    for n in range(6):
        brain.delete_entity("note", f"n{n}")
    with pytest.raises(MassDeleteError, match="--force-deletes"):
        brain.export()
    assert disk.tree() == before
    assert len(rows(brain)) == 4
    assert tracked(brain) == 10
    report = brain.export(force_deletes=True)
    assert (report.deleted, report.unchanged) == (6, 4)
    assert set(disk.tree()) == {f"n{n}.md" for n in range(6, 10)}
    assert tracked(brain) == 4


def test_d6_share_and_minimum_are_settings(make_brain: Any, disk: Any, rows: Any) -> None:
    brain = make_brain(delete_share=0.8)
    seed(brain, notes=10)
    for n in range(6):
        (disk.root / f"n{n}.md").unlink()
    assert brain.sync().deleted == 6  # 60% is under the 80% share
    brain.close()

    few = make_brain(mass_delete_min=50)
    for n in range(3):
        (disk.root / f"n{n + 6}.md").unlink()
    assert few.sync().deleted == 3  # 3 of 4, but under the minimum count
    assert set(rows(few)) == {"note:n9"}


# -- D7: late updates never resurrect ---------------------------------------------------


def test_d7_export_does_not_resurrect_deleted_file(brain: Brain, disk: Any, rows: Any) -> None:
    seed(brain, notes=6)
    (disk.root / "n3.md").unlink()
    late = brain.put_entity("note", "n3", text=body("n3") + "A late edit.\n")
    assert late.version == 2

    report = brain.export()
    assert (report.created, report.updated, report.deleted, report.errors) == (0, 0, 0, [])
    assert not (disk.root / "n3.md").exists()
    assert brain.export().created == 0
    assert not (disk.root / "n3.md").exists()
    assert rows(brain)["note:n3"].version == 2  # the edit is not lost either


def test_d7_sync_restores_edited_entity_as_a_conflict(brain: Brain, disk: Any) -> None:
    seed(brain, notes=6)
    (disk.root / "n3.md").unlink()
    late = brain.put_entity("note", "n3", text=body("n3") + "A late edit.\n")
    report = brain.sync()
    assert [(c.path, c.key) for c in report.conflicts] == [("n3.md", "note:n3")]
    assert "restored" in report.conflicts[0].resolution
    assert disk.read("n3.md") == late.document.encode()
    assert report.deleted == 0


def test_d7_late_conditional_update_after_delete_is_refused(
    brain: Brain, disk: Any, rows: Any
) -> None:
    seed(brain, notes=6)
    version = brain.get_entity("note", "n3").version
    (disk.root / "n3.md").unlink()
    assert brain.sync().deleted == 1

    with pytest.raises(ConflictError, match="version 0"):
        brain.put_entity("note", "n3", text=body("n3") + "late\n", if_version=version)
    assert "note:n3" not in rows(brain)
    report = brain.sync()
    assert (report.created, report.updated, report.errors) == (0, 0, [])
    assert not (disk.root / "n3.md").exists()


# -- D8: moves ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["import", "sync"])
def test_d8_rename_is_a_move(kind: str, brain: Brain, disk: Any, rows: Any) -> None:
    seed(brain, notes=6)
    original = brain.get_entity("note", "n2")
    (disk.root / "n2.md").rename(disk.root / "renamed.md")

    report = brain.run(kind)
    assert (report.moved, report.created, report.deleted, report.errors) == (1, 0, 0, [])
    assert report.unchanged == 5
    found = rows(brain)
    assert "note:n2" not in found
    assert found["note:renamed"].document == original.document
    assert len(found) == 6
    assert not (disk.root / "n2.md").exists()
    assert disk.read("renamed.md") == original.document.encode()
    assert tracked(brain) == 6
    assert brain.run(kind).moved == 0


def test_d8_folder_rename_is_many_moves(brain: Brain, disk: Any, rows: Any) -> None:
    seed(brain, notes=2)
    for n in range(8):
        brain.put_entity("note", f"ideas:i{n}", text=body(f"i{n}"))
    brain.export()
    documents = {f"i{n}": brain.get_entity("note", f"ideas:i{n}").document for n in range(8)}
    (disk.root / "ideas").rename(disk.root / "thoughts")

    report = brain.sync()  # 8 of 10 paths vanished, but they moved: no mass-delete refusal
    assert (report.moved, report.created, report.deleted, report.errors) == (8, 0, 0, [])
    found = rows(brain)
    assert set(found) == {"note:n0", "note:n1"} | {f"note:thoughts:i{n}" for n in range(8)}
    for n in range(8):
        assert found[f"note:thoughts:i{n}"].document == documents[f"i{n}"]
    assert not (disk.root / "ideas").exists()
    assert tracked(brain) == 10


def test_d8_move_across_types_is_not_a_move(brain: Brain, disk: Any, rows: Any) -> None:
    brain.put_entity("note", "x", text=body("x"))
    for n in range(5):
        brain.put_entity("note", f"k{n}", text=body(f"k{n}"))
    brain.export()
    (disk.root / "post").mkdir()
    (disk.root / "x.md").rename(disk.root / "post" / "x.md")
    report = brain.sync()
    assert (report.moved, report.created, report.deleted, report.errors) == (0, 1, 1, [])
    found = rows(brain)
    assert "note:x" not in found
    assert "post:x" in found
