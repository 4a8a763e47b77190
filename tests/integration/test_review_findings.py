"""Regressions found in review: aliases of one id, edits racing a chunk, odd values,
unreadable move candidates, and a root swapped between a job's plan and its chunks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from folder_state import records as folder_records

from brainsync import Brain, RootUnavailableError
from brainsync.sync import planner as planner_module

BrainFactory = Callable[..., Brain]


def test_renaming_to_a_name_of_the_same_id_is_a_move(brain: Brain, disk: Any, rows: Any) -> None:
    disk.write("Meeting%20notes.md", "---\ntitle: m\n---\nagenda\n")
    disk.write("other.md", "x\n")
    assert brain.sync().created == 2
    (disk.root / "Meeting%20notes.md").rename(disk.root / "Meeting notes.md")
    report = brain.sync()
    assert (report.moved, report.deleted, report.created) == (1, 0, 0)
    assert report.skipped == []
    for _ in range(2):  # later runs neither delete the entity nor the file
        again = brain.sync()
        assert (again.deleted, again.created, again.updated, again.moved) == (0, 0, 0, 0)
    assert rows(brain)["note:Meeting notes"].content == "agenda\n"
    assert disk.read("Meeting notes.md") == b"---\ntitle: m\n---\nagenda\n"
    assert {r.path for r in folder_records(brain)} == {"Meeting notes.md", "other.md"}


def test_two_files_of_one_id_never_overwrite_each_other(brain: Brain, disk: Any, rows: Any) -> None:
    disk.write("my note.md", "typed by hand\n")
    disk.write("my%20note.md", "downloaded\n")
    first = brain.sync()
    assert first.created == 1
    assert [s.path for s in first.skipped] == ["my%20note.md"]
    assert "same entity" in first.skipped[0].reason
    second = brain.sync()
    assert (second.created, second.updated, second.deleted) == (0, 0, 0)
    assert disk.read("my note.md") == b"typed by hand\n"
    assert disk.read("my%20note.md") == b"downloaded\n"
    assert rows(brain)["note:my note"].content == "typed by hand\n"


def test_a_database_edit_during_a_chunk_is_never_overwritten(
    brain: Brain, disk: Any, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk.write("a.md", "v1\n")
    disk.write("b.md", "b1\n")
    brain.sync()
    disk.edit("a.md", "v2 from the editor\n")
    (disk.root / "b.md").unlink()
    runner = brain.engine.runner
    real = runner._write_all

    def agent_writes_meanwhile(total: Any) -> None:
        brain.put_entity("note", "a", text="agent's a\n")
        brain.put_entity("note", "b", text="agent's b\n")
        real(total)

    monkeypatch.setattr(runner, "_write_all", agent_writes_meanwhile)
    report = brain.sync()
    assert (report.updated, report.deleted) == (0, 0)
    assert sorted(s.path for s in report.skipped) == ["a.md", "b.md"]
    assert rows(brain)["note:a"].content == "agent's a\n"
    assert rows(brain)["note:b"].content == "agent's b\n"
    monkeypatch.undo()
    settled = brain.sync()  # now both sides changed: a conflict, and the edit-wins rule
    assert sorted(c.path for c in settled.conflicts) == ["a.md", "b.md"]
    assert disk.read("a.md") == b"v2 from the editor\n"
    assert disk.read("b.md") == b"agent's b\n"  # file deleted, entity edited: restored
    copies = [p for p in disk.tree() if ".conflict-" in p]
    assert len(copies) == 1 and disk.read(copies[0]) == b"agent's a\n"


@pytest.mark.parametrize(
    ("rel", "text", "reason"),
    [
        ("post/list-status.md", "---\ntitle: t\nstatus: [draft]\n---\n", "status"),
        ("huge-int.md", "---\nn: " + "1" * 5000 + "\n---\n", "invalid YAML"),
    ],
)
def test_odd_values_are_item_errors(
    brain: Brain, disk: Any, rel: str, text: str, reason: str
) -> None:
    disk.write(rel, text)
    disk.write("fine.md", "fine\n")
    report = brain.import_()
    assert report.created == 1
    assert [e.path for e in report.errors] == [rel]
    assert reason in report.errors[0].error


def test_an_unreadable_move_candidate_does_not_stop_the_plan(
    brain: Brain, disk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk.write("a.md", "same size\n")
    brain.sync()
    (disk.root / "a.md").unlink()
    disk.write("z.md", "same size\n")

    def unreadable(*args: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(planner_module, "read_snapshot", unreadable)
    report = brain.sync()
    assert report.moved == 0
    assert (report.created, report.deleted) == (1, 1)


def test_a_root_swapped_after_planning_stops_the_chunks(
    brain: Brain, disk: Any, rows: Any, tmp_path: Any
) -> None:
    for i in range(8):
        disk.write(f"n{i}.md", f"note {i}\n")
    brain.sync()
    for i in range(8):
        disk.edit(f"n{i}.md", f"edited {i}\n")
    operation = brain.operation("sync")
    chunks = operation.plan()
    disk.root.rename(tmp_path / "unplugged")
    disk.root.mkdir()  # an empty mount point where the folder was
    with pytest.raises(RootUnavailableError, match="not the folder this job planned on"):
        operation.run_chunk(chunks[0])
    assert len(rows(brain)) == 8


def test_a_synced_file_keeps_its_place_against_a_clashing_newcomer(
    brain: Brain, disk: Any, rows: Any
) -> None:
    disk.write("Zeta.md", "first, synced\n")
    brain.sync()
    brain.put_entity("note", "zeta", text="newcomer\n")  # sorts after, clashes by case
    brain.put_entity("note", "ALPHA", text="a\n")
    disk.write("alpha.md", "hand-made alpha\n")  # sorts after ALPHA.md, clashes too
    report = brain.sync()
    skipped = {s.path: s.reason for s in report.skipped}
    assert set(skipped) == {"zeta.md", "alpha.md"}  # the synced path, then sort order, wins
    assert all("clashes with" in reason for reason in skipped.values())
    assert disk.read("Zeta.md") == b"first, synced\n"
    assert not (disk.root / "zeta.md").exists()
    assert disk.read("ALPHA.md") == b"a\n"
    assert disk.read("alpha.md") == b"hand-made alpha\n"
    for type_filter in (["note"], ["post"]):
        filtered = brain.sync(types=type_filter)
        assert filtered.deleted == 0
    assert rows(brain)["note:Zeta"].content == "first, synced\n"
    assert rows(brain)["note:zeta"].content == "newcomer\n"
