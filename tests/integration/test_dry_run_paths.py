"""A dry run says which paths it would create, update, delete or move, and whether the
real run would be refused; an export into a folder that does not exist yet is previewed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from brainsync.app import Brain
from brainsync.errors import MassDeleteError


def body(name: str) -> str:
    return f"---\ntitle: {name}\n---\nText of {name}.\n"


def seed(brain: Brain, notes: int) -> None:
    """Notes ``n0..`` exported and synced (all settled)."""
    for n in range(notes):
        brain.put_entity("note", f"n{n}", text=body(f"n{n}"))
    assert brain.export().created == notes
    assert brain.sync().unchanged == notes


def test_dry_run_lists_each_path_under_its_action(brain: Brain, disk: Any, rows: Any) -> None:
    seed(brain, notes=4)
    disk.write("fresh.md", "new\n")  # created
    brain.put_entity("note", "n0", text=body("n0 changed"))  # updated (its file)
    (disk.root / "n1.md").unlink()  # deleted (its entity)
    (disk.root / "n2.md").rename(disk.root / "moved.md")  # moved
    before = dict(rows(brain))

    report = brain.sync(dry_run=True)
    assert report.created_paths == ["fresh.md"]
    assert report.updated_paths == ["n0.md"]
    assert report.deleted_paths == ["n1.md"]
    assert report.moved_paths == ["n2.md -> moved.md"]
    assert (report.created, report.updated, report.deleted, report.moved) == (1, 1, 1, 1)
    assert report.refused is None
    assert rows(brain) == before  # nothing changed
    # a real run counts what it did and lists nothing (its report may be kept for long)
    done = brain.sync()
    assert (done.created, done.updated, done.deleted, done.moved) == (1, 1, 1, 1)
    assert done.planned_paths() == {"created": [], "updated": [], "deleted": [], "moved": []}


@pytest.mark.parametrize("kind", ["sync", "import"])
def test_dry_run_of_a_mass_delete_lists_it_and_says_it_would_be_refused(
    kind: str, brain: Brain, disk: Any, rows: Any
) -> None:
    seed(brain, notes=8)
    gone = [f"n{n}.md" for n in range(6)]
    for path in gone:
        (disk.root / path).unlink()

    report = brain.run(kind, {"dry_run": True})
    assert report.refused is not None and "would be refused" in report.refused
    assert "--force-deletes" in report.refused
    assert sorted(report.deleted_paths) == gone and report.deleted == 6
    assert len(rows(brain)) == 8  # a dry run changes nothing
    with pytest.raises(MassDeleteError):  # the real run is refused, as the dry run said
        brain.run(kind)
    assert brain.run(kind, {"dry_run": True, "force_deletes": True}).refused is None
    status = brain.status(pending=True)
    assert status.problem == brain.run("sync", {"dry_run": True}).refused
    assert status.pending is not None and sorted(status.pending.deleted_paths) == gone


def test_dry_run_of_an_emptied_folder_lists_every_delete(
    brain: Brain, disk: Any, rows: Any
) -> None:
    seed(brain, notes=3)
    for n in range(3):
        (disk.root / f"n{n}.md").unlink()
    report = brain.sync(dry_run=True)
    assert report.refused is not None and "is empty" in report.refused
    assert sorted(report.deleted_paths) == ["n0.md", "n1.md", "n2.md"]
    assert len(rows(brain)) == 3


def test_dry_run_export_into_a_missing_folder_previews_it(make_brain: Any, root: Path) -> None:
    brain = make_brain(create=False)  # a store to restore from, and no folder yet
    for n in range(3):
        brain.put_entity("note", f"n{n}", text=body(f"n{n}"))
    brain.put_entity("post", "p", text=body("p"))
    assert not root.exists()

    report = brain.export(dry_run=True)
    assert report.created_paths == ["n0.md", "n1.md", "n2.md", "post/p.md"]
    assert (report.created, report.errors, report.skipped) == (4, [], [])
    assert any("does not exist yet" in note for note in report.notes)
    assert brain.export(dry_run=True, types=["post"]).created_paths == ["post/p.md"]
    assert not root.exists()  # a preview creates nothing
    # the same preview as a job (an agent's start_job), then the real export
    assert brain.submit("export", {"dry_run": True}).wait(timeout=60).result.created == 4
    assert not root.exists()
    assert brain.export().created == 4
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*.md")) == report.created_paths
