"""A plan over named files (a watcher's batch) reads O(paths), and judges them as a full plan.

The planner loads only the records and entities the named files concern
(``Planner._named_files``); these tests check that it does everything a full sync would
do at those paths, on both backends, and nothing anywhere else.
"""

from __future__ import annotations

from typing import Any

from brainsync.app import Brain


def body(name: str, extra: str = "") -> str:
    return f"---\ntitle: {name}\n---\nText of {name}.{extra}\n"


def seed(brain: Brain, disk: Any) -> None:
    for n in range(8):
        brain.put_entity("note", f"n{n}", text=body(f"n{n}"))
    brain.put_entity("note", "a b", text=body("a b"))
    assert brain.export().errors == []
    assert brain.sync().unchanged == 9


def pending(brain: Brain) -> dict[str, int]:
    report = brain.sync(dry_run=True)
    counts = {"created": report.created, "updated": report.updated, "deleted": report.deleted}
    return {name: n for name, n in counts.items() if n} | (
        {"conflicts": len(report.conflicts)} if report.conflicts else {}
    )


def test_a_named_batch_does_at_its_paths_what_a_full_sync_would(
    brain: Brain, disk: Any, rows: Any
) -> None:
    seed(brain, disk)
    disk.edit("n1.md", body("n1", " Edited in a file."))
    disk.write("new.md", body("new"))
    brain.put_entity("note", "fresh", text=body("fresh"))  # no file yet
    brain.put_entity("note", "n3", text=body("n3", " Edited by an agent."))
    brain.delete_entity("note", "n4")
    disk.write("a%20b.md", body("twin"))  # decodes to the synced note "a b"
    disk.edit("n6.md", body("n6", " Not named in the batch."))
    named = ["n1.md", "new.md", "fresh.md", "n3.md", "n4.md", "a%20b.md"]

    report = brain.sync(paths=named)

    assert (report.created, report.updated, report.deleted) == (2, 2, 1), report
    assert [skip.path for skip in report.skipped] == ["a%20b.md"]
    notes = rows(brain)
    assert "Edited in a file." in notes["note:n1"].content
    assert "note:new" in notes and "note:n4" not in notes
    assert disk.read("fresh.md").decode() == body("fresh")
    assert "Edited by an agent." in disk.read("n3.md").decode()
    assert not (disk.root / "n4.md").exists()
    # what is left for a full sync: only the edit the batch did not name
    assert pending(brain) == {"updated": 1}


def test_a_named_batch_keeps_the_mass_delete_guard_of_the_whole_folder(
    make_brain: Any, disk: Any
) -> None:
    brain = make_brain(mass_delete_min=1, delete_share=0.5)
    seed(brain, disk)
    for n in range(5):
        (disk.root / f"n{n}.md").unlink()
    # a vanished path takes the whole inventory; the share is of the folder's 9 files
    report = brain.sync(paths=[f"n{n}.md" for n in range(5)], force_deletes=True)
    assert report.deleted == 5
    brain.put_entity("note", "n0", text=body("n0"))
    brain.export()
    (disk.root / "n0.md").unlink()
    # one delete of nine tracked files is under the share: no refusal for a small batch
    assert brain.sync(paths=["n0.md"]).deleted == 1
