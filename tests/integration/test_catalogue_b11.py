"""Failure catalogue B11: no note silently ignored (real files, both store backends).

Real vaults hold notes named ``~.md``, ``{.md``, ``#1.md``, with spaces, emoji or any
script. They are imported and exported back byte for byte. What an ignore rule does leave
out is counted by rule in the report and in status, and ``Brain.ignored`` lists it.
"""

from __future__ import annotations

import contextlib
import io
import os
from typing import Any

import pytest

from brainsync.app import Brain
from brainsync.interfaces.render import print_status
from brainsync.interfaces.terminal import Terminal
from brainsync.sync.files import temp_name
from brainsync.sync.ignore import REASONS, IgnoreRule

NAMES = [
    "#1.md",
    "a b.md",
    "🦊 fox.md",
    "日本語のノート.md",
    "ملاحظة.md",
    "#tag# and ~tilde~.md",
    "x_BASE.md",  # not git mergetool's: no pid
    "~.md",
    "{.md",
    "~lock.md",
    "merge{1}.md",
    "{tmpl}/l.md",
]


def doc(title: str, body: str) -> str:
    return f"---\ntitle: {title}\n---\n{body}\n"


@pytest.mark.parametrize("name", NAMES)
def test_b11_a_name_that_looks_like_a_tool_file_is_a_note(
    name: str, brain: Brain, disk: Any, rows: Any
) -> None:
    original = doc(f"'{name}'", "Body with ünïcödé, 🦊 and trailing spaces   ").encode()
    disk.write(name, original)
    files = disk.tree()

    report = brain.import_()
    assert (report.created, report.skipped, report.errors) == (1, [], [])
    assert report.ignored == {}
    [(key, entity)] = rows(brain).items()
    assert entity.document.encode() == original
    assert disk.tree() == files  # an import never touches the file

    # exported back to the same name, byte for byte, never to an escaped twin
    entity_type, entity_id = key.split(":", 1)
    brain.put_entity(entity_type, entity_id, text=doc("changed", "Changed."))
    assert brain.export().updated == 1
    assert disk.read(name) == doc("changed", "Changed.").encode()
    brain.put_entity(entity_type, entity_id, text=original.decode())
    assert brain.export().updated == 1
    assert disk.read(name) == original
    assert set(disk.tree()) == set(files)
    again = brain.sync()
    assert (again.unchanged, again.created, again.updated, again.deleted) == (1, 0, 0, 0)


# One or more example paths per rule: (path written, path the rule lists).
EXAMPLES: dict[IgnoreRule, list[tuple[str, str]]] = {
    IgnoreRule.DOT_FOLDER: [(".obsidian/workspace.md", ".obsidian"), (".git/HEAD", ".git")],
    IgnoreRule.UNDERSCORE_FOLDER: [("_drafts/draft.md", "_drafts")],
    IgnoreRule.BRAINSYNC_TEMP: [],  # filled in by the test: its name holds our pid
    IgnoreRule.CONFLICT_COPY: [("real.conflict-0123abcd.md",) * 2],
    IgnoreRule.MERGE_LEFTOVER: [("real_BASE_4242.md",) * 2, ("real.md.orig",) * 2],
    IgnoreRule.EDITOR_LOCK: [(".#real.md",) * 2, ("~$real.md",) * 2, (".~lock.real.md#",) * 2],
    IgnoreRule.EDITOR_TEMP: [
        (".real.md.swp",) * 2,
        ("real.md___jb_tmp___",) * 2,
        ("#real.md#",) * 2,
        ("4913",) * 2,
        ("n.tmp",) * 2,
    ],
    IgnoreRule.BACKUP: [("real.md~",) * 2, ("post/old.md.bak",) * 2],
    IgnoreRule.QUARANTINED: [("x.md.invalid",) * 2],
    IgnoreRule.DOT_FILE: [(".hidden.md",) * 2, (".brainsyncignore",) * 2],
    IgnoreRule.NOT_MARKDOWN: [("picture.png",) * 2, ("UPPER.MD",) * 2],
    IgnoreRule.BRAINSYNCIGNORE: [("excluded/a.md", "excluded"), ("drafts.wip.md",) * 2],
}


def test_b11_every_rule_counts_what_it_leaves_out(brain: Brain, disk: Any, rows: Any) -> None:
    assert set(EXAMPLES) == set(IgnoreRule)  # a new rule needs an example here
    # a live writer's temp file (this process): counted, and the sweep leaves it alone
    examples = {**EXAMPLES, IgnoreRule.BRAINSYNC_TEMP: [(temp_name("real.md"),) * 2]}
    disk.write(".brainsyncignore", "excluded/\n*.wip.md\n")
    for rule, pairs in examples.items():
        for written, _listed in pairs:
            if written != ".brainsyncignore":
                disk.write(written, doc(str(rule), "not a note"))
    disk.write("real.md", doc("real", "A note."))
    files = disk.tree()
    counts = {rule.value: len(pairs) for rule, pairs in examples.items()}

    report = brain.sync()
    assert (report.created, report.errors, report.skipped) == (1, [], [])
    assert report.ignored == counts
    assert set(rows(brain)) == {"note:real"}  # no temp, lock or backup file became a note
    assert {rel: state for rel, state in disk.tree().items() if rel != "real.md"} == {
        rel: state for rel, state in files.items() if rel != "real.md"
    }

    status = brain.status(pending=True)
    assert status.ignored == counts
    assert status.to_dict()["ignored"] == counts
    listed = sorted(
        (listed, rule)
        for rule, pairs in examples.items()
        if rule is not IgnoreRule.NOT_MARKDOWN  # counted, not listed
        for _written, listed in pairs
    )
    found = brain.ignored()
    assert sorted((item.path, item.rule) for item in found) == listed
    assert all(item.reason == REASONS[item.rule] for item in found)

    with contextlib.redirect_stdout(io.StringIO()) as out:
        print_status(Terminal(), status, found)
    text = out.getvalue()
    assert f"editor-temp {len(examples[IgnoreRule.EDITOR_TEMP])}" in text
    assert f"  ignored: .#real.md [editor-lock] {REASONS[IgnoreRule.EDITOR_LOCK]}" in text


def test_b11_a_rule_added_later_deletes_nothing(brain: Brain, disk: Any, rows: Any) -> None:
    """Notes a new rule leaves out are held like skipped ones: neither side is deleted."""
    disk.write("keep.md", doc("keep", "Kept."))
    disk.write("archive/old.md", doc("old", "Old."))
    assert brain.sync().created == 2
    disk.write(".brainsyncignore", "archive/\n")
    report = brain.sync()
    assert (report.deleted, report.created, report.errors) == (0, 0, [])
    assert report.ignored == {"brainsyncignore": 1, "dot-file": 1}
    assert set(rows(brain)) == {"note:keep", "note:archive:old"}
    assert disk.read("archive/old.md") == doc("old", "Old.").encode()


def test_k1_a_run_removes_a_dead_writers_temp_file_and_counts_only_the_rest(
    brain: Brain, disk: Any, rows: Any
) -> None:
    """The run's own scan finds the litter (no second walk); what it removed is not
    reported as left alone, a live writer's temp file is."""
    dead = f"post/{temp_name('a.md', 2**22 + 1)}"  # no such pid: its writer is gone
    live = temp_name("b.md", os.getpid())
    for rel in (dead, live):
        disk.write(rel, doc("temp", "half"))
    disk.write("real.md", doc("real", "A note."))
    dry = brain.sync(dry_run=True)
    assert dry.ignored == {"brainsync-temp": 2} and dead in disk.tree()  # a dry run keeps it
    report = brain.sync()
    assert (report.created, report.errors) == (1, [])
    assert report.ignored == {"brainsync-temp": 1}
    assert set(disk.tree()) == {live, "real.md"}
    assert set(rows(brain)) == {"note:real"}
    os.unlink(disk.root / live)
    assert brain.sync().ignored == {}


def test_b11_temp_file_of_a_live_writer_is_still_not_imported(
    brain: Brain, disk: Any, rows: Any
) -> None:
    """Row B6 holds: an editor's or our own temp file is neither imported nor removed."""
    temp = temp_name("n.md", os.getpid())
    for rel in [temp, ".n.md.swp", "n.md~", "n.md.tmp"]:
        disk.write(rel, doc("temp", "half"))
    report = brain.sync()
    assert (report.created, report.errors) == (0, [])
    assert rows(brain) == {}
    assert set(disk.tree()) == {temp, ".n.md.swp", "n.md~", "n.md.tmp"}
