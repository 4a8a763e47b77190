"""The merge policy (the default): C2 edits that do not overlap merge into both sides.

Real files, real stores (SQLite and PostgreSQL). What does not merge falls back to
keep-both exactly (see test_catalogue_conflicts.py); this module checks what does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from disk import Disk

from brainsync.app import Brain
from brainsync.config import Settings
from brainsync.report import Merged, Report

BODY = "Intro line.\n\nMiddle paragraph.\n\nClosing line.\n"
ORIGINAL = f"---\ntitle: Shared\ntags:\n- a\n---\n{BODY}"
PERSON = ORIGINAL.replace("Closing line.", "Closing line, edited by a person.")
AGENT = ORIGINAL.replace("Intro line.", "Intro line, edited by an agent.")
BOTH = PERSON.replace("Intro line.", "Intro line, edited by an agent.")


def synced(brain: Brain, text: str = ORIGINAL) -> None:
    brain.put_entity("post", "c", text=text)
    assert brain.sync().created == 1


def quiet(report: Any) -> bool:
    counts = (report.created, report.updated, report.deleted, report.moved)
    return counts == (0, 0, 0, 0) and not report.conflicts and not report.merged


def test_c2_edits_on_different_lines_merge(brain: Brain, disk: Disk, rows: Any) -> None:
    synced(brain)
    disk.edit("post/c.md", PERSON)
    brain.put_entity("post", "c", text=AGENT)
    report = brain.sync()
    assert report.conflicts == [] and report.errors == []
    assert report.merged == [Merged("post/c.md", "post:c", ["line 10"], ["line 6"])]
    assert set(disk.tree()) == {"post/c.md"}  # no conflict copy
    assert disk.read("post/c.md") == BOTH.encode()
    stored = rows(brain)["post:c"]
    assert (stored.document, stored.version) == (BOTH, 3)
    assert [v.writer for v in brain.entity_history("post", "c")][-1].startswith("sync:")
    files = disk.tree()
    assert quiet(brain.sync())
    assert disk.tree() == files


def test_agent_frontmatter_while_person_edits_body(brain: Brain, disk: Disk, rows: Any) -> None:
    synced(brain)
    disk.edit("post/c.md", PERSON)
    current = brain.get_entity("post", "c")
    tags = [*current.metadata["tags"], "from-agent"]
    brain.put_entity("post", "c", metadata={**current.metadata, "tags": tags}, content=BODY)
    report = brain.sync()
    assert report.conflicts == []
    assert [(m.from_file, m.from_store) for m in report.merged] == [
        (["line 11"], ["frontmatter tags"])
    ]
    expected = PERSON.replace("- a\n", "- a\n- from-agent\n")
    assert disk.read("post/c.md") == expected.encode()
    assert rows(brain)["post:c"].document == expected
    assert rows(brain)["post:c"].metadata["tags"] == ["a", "from-agent"]


def test_both_edit_the_same_line_keeps_both(brain: Brain, disk: Disk, rows: Any) -> None:
    synced(brain)
    disk.edit("post/c.md", PERSON)
    brain.put_entity("post", "c", text=PERSON.replace("by a person", "by an agent"))
    report = brain.sync()
    assert report.merged == []
    [conflict] = report.conflicts
    assert conflict.resolution.startswith("not merged (both sides changed line 10); kept both")
    assert conflict.copy_path is not None
    assert disk.read("post/c.md") == PERSON.encode()
    assert b"by an agent" in disk.read(conflict.copy_path)
    assert b"<<<<<<<" not in disk.read("post/c.md")
    assert rows(brain)["post:c"].document == PERSON


def test_both_delete_is_nothing_to_do(brain: Brain, disk: Disk, rows: Any, planned: Any) -> None:
    synced(brain)
    brain.put_entity("note", "keep", text="kept\n")
    brain.sync()
    brain.delete_entity("post", "c")
    (disk.root / "post" / "c.md").unlink()
    report = brain.sync()
    assert (report.deleted, report.conflicts, report.merged, report.errors) == (0, [], [], [])
    assert set(rows(brain)) == {"note:keep"}
    assert set(disk.tree()) == {"keep.md"}
    assert planned(brain) == []


def test_crlf_and_bom_note_merges_byte_exact(brain: Brain, disk: Disk, rows: Any) -> None:
    original = "\ufeff---\r\ntitle: Windows\r\n---\r\nfirst\r\nsecond\r\nthird\r\n"
    disk.write("post/w.md", original.encode())
    assert brain.sync().created == 1
    disk.edit("post/w.md", original.replace("third", "third, edited").encode())
    # an agent adds a tag from the parts: the store side has LF frontmatter and no BOM
    current = brain.get_entity("post", "w")
    brain.put_entity(
        "post", "w", metadata={**current.metadata, "tags": ["x"]}, content=current.content
    )
    report = brain.sync()
    assert [m.key for m in report.merged] == ["post:w"]
    expected = (
        "\ufeff---\r\ntitle: Windows\r\ntags:\r\n- x\r\n---\r\nfirst\r\nsecond\r\nthird, edited\r\n"
    )
    assert disk.read("post/w.md") == expected.encode("utf-8")
    assert rows(brain)["post:w"].document == expected


def test_dry_run_reports_the_merge_and_changes_nothing(brain: Brain, disk: Disk, rows: Any) -> None:
    synced(brain)
    disk.edit("post/c.md", PERSON)
    brain.put_entity("post", "c", text=AGENT)
    files = disk.tree()
    report = brain.sync(dry_run=True)
    assert [m.path for m in report.merged] == ["post/c.md"] and report.conflicts == []
    assert disk.tree() == files
    assert rows(brain)["post:c"].document == AGENT


def test_merged_survives_the_report_round_trip(brain: Brain, disk: Disk) -> None:
    # a durable job stores each chunk's report as to_dict and reads it back with from_dict
    synced(brain)
    disk.edit("post/c.md", PERSON)
    brain.put_entity("post", "c", text=AGENT)
    report = brain.sync()
    again = Report.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again == report
    assert again.merged[0].from_store == ["line 6"]
    assert Report().merge(report).merged == report.merged


def test_base_pruned_from_history_falls_back_to_keep_both(
    make_brain: Any, disk: Disk, rows: Any
) -> None:
    brain = make_brain(history_keep_versions=1)  # the base goes as soon as v2 is written
    synced(brain)
    disk.edit("post/c.md", PERSON)
    brain.put_entity("post", "c", text=AGENT)
    report = brain.sync()
    assert report.merged == []
    [conflict] = report.conflicts
    assert conflict.resolution.startswith("not merged (no common version to merge from)")
    assert disk.read("post/c.md") == PERSON.encode()


@pytest.fixture
def second(tmp_path: Path, store_url: str) -> Iterator[Brain]:
    """Another folder (another machine: its own state home) on the same store."""
    settings = Settings(
        directory=tmp_path / "second", home=tmp_path / "state-b", db=store_url, io_threads=2
    )
    (tmp_path / "second").mkdir()
    with Brain(settings) as brain:
        yield brain


def test_two_folders_and_an_agent_every_edit_survives(
    brain: Brain, disk: Disk, second: Brain, rows: Any
) -> None:
    synced(brain)
    there = Disk(second.settings.root)
    assert second.sync().created == 1  # the second folder joins and gets the note
    disk.edit("post/c.md", PERSON)  # a person in the first folder
    there.edit("post/c.md", ORIGINAL.replace("Middle paragraph.", "Middle, from folder two."))
    current = brain.get_entity("post", "c")
    brain.put_entity(
        "post", "c", metadata={**current.metadata, "status": "published"}, content=BODY
    )
    for folder in (brain, second, brain, second):
        report = folder.sync()
        assert report.conflicts == [] and report.errors == []
    final = rows(brain)["post:c"].document
    for needle in ("edited by a person", "Middle, from folder two.", "status: published"):
        assert needle in final
    assert disk.read("post/c.md") == final.encode() == there.read("post/c.md")
    assert set(disk.tree()) == {"post/c.md"} and set(there.tree()) == {"post/c.md"}
