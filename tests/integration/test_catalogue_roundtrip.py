"""Failure catalogue, group R: round trips and churn (real files, both store backends)."""

from __future__ import annotations

from typing import Any

import pytest

from brainsync.app import Brain
from brainsync.entities import document_hash
from brainsync.report import Report

POST = "---\ntitle: Hello\ntags:\n- a\n- b\nstatus: draft\n---\nThe body.\n"
NOTE = "---\nmood: calm\n---\n# Idea\n\nSome text.\n"


def assert_quiet(report: Report, unchanged: int) -> None:
    """Nothing created, updated, deleted, moved, skipped or failed; ``unchanged`` items."""
    assert (report.created, report.updated, report.deleted, report.moved) == (0, 0, 0, 0)
    assert (report.conflicts, report.skipped, report.errors) == ([], [], [])
    assert report.unchanged == unchanged


def seed(brain: Brain) -> None:
    brain.put_entity("post", "hello", text=POST)
    brain.put_entity("note", "ideas:first", text=NOTE)
    brain.put_entity("note", "plain", metadata={}, content="just text\n")


def test_r1_round_trip_is_quiet(brain: Brain, disk: Any, rows: Any, planned: Any) -> None:
    seed(brain)
    first = brain.export()
    assert (first.created, first.updated, first.errors) == (3, 0, [])
    files = disk.tree()
    assert {path: f.data for path, f in files.items()} == {
        "post/hello.md": POST.encode(),
        "ideas/first.md": NOTE.encode(),
        "plain.md": b"just text\n",
    }
    before = rows(brain)

    assert_quiet(brain.import_(), unchanged=3)
    assert_quiet(brain.export(), unchanged=3)
    assert_quiet(brain.sync(), unchanged=3)

    assert disk.tree() == files  # bytes and mtime_ns
    after = rows(brain)
    assert {k: (e.version, e.content_hash, e.updated) for k, e in after.items()} == {
        k: (e.version, e.content_hash, e.updated) for k, e in before.items()
    }
    assert planned(brain, "sync") == []
    assert planned(brain, "import") == []
    assert planned(brain, "export") == []


def test_r2_non_canonical_file_is_not_rewritten(
    brain: Brain, disk: Any, rows: Any, planned: Any
) -> None:
    text = (
        "---\n"
        "zeta:   1\n"
        "title: 'Hand written'\n"
        "\n"
        'tags: [x, "y"]\n'
        "# a comment\n"
        "status:    published\n"
        "---\n"
        "\nBody after a blank line.\n"
    )
    path = disk.write("post/hand.md", text, mtime_ns=1_600_000_000_123_456_789)
    before = disk.tree()

    report = brain.import_()
    assert (report.created, report.errors, report.skipped) == (1, [], [])
    entity = brain.get_entity("post", "hand")
    assert entity.document == text
    assert dict(entity.metadata) == {
        "zeta": 1,
        "title": "Hand written",
        "tags": ["x", "y"],
        "status": "published",
    }
    assert entity.content == "\nBody after a blank line.\n"
    assert entity.content_hash == document_hash(text)
    assert entity.version == 1

    assert_quiet(brain.export(), unchanged=1)
    assert_quiet(brain.sync(), unchanged=1)
    assert disk.tree() == before
    assert path.stat().st_mtime_ns == 1_600_000_000_123_456_789
    assert planned(brain, "sync") == []
    assert_quiet(brain.sync(dry_run=True), unchanged=1)
    assert rows(brain)["post:hand"].version == 1


def test_r3_identical_content_is_not_rewritten(brain: Brain, disk: Any) -> None:
    # a file already holding exactly the entity's bytes (no sync record yet)
    entity = brain.put_entity("note", "same", text=NOTE)
    path = disk.write("same.md", NOTE, mtime_ns=1_500_000_000_000_000_000)
    report = brain.export()
    assert_quiet(report, unchanged=1)
    assert path.stat().st_mtime_ns == 1_500_000_000_000_000_000
    assert disk.read("same.md") == NOTE.encode()
    assert brain.get_entity("note", "same").version == entity.version

    # an entity changed and changed back before the next export: nothing to write
    brain.put_entity("note", "same", text=NOTE + "more\n")
    brain.put_entity("note", "same", text=NOTE)
    assert_quiet(brain.export(), unchanged=1)
    assert path.stat().st_mtime_ns == 1_500_000_000_000_000_000
    assert disk.read("same.md") == NOTE.encode()

    # the record was written by the first export: the next plan is settled
    assert_quiet(brain.export(), unchanged=1)


def test_r4_update_that_changes_nothing(brain: Brain, disk: Any, planned: Any) -> None:
    first = brain.put_entity("post", "p", metadata={"title": "T", "tags": ["a"]}, content="Hi\n")
    brain.put_entity("note", "n", text=NOTE)
    brain.export()
    files = disk.tree()
    events: list[object] = []
    brain.bus.subscribe(events.append)

    again = brain.put_entity("post", "p", metadata={"title": "T", "tags": ["a"]}, content="Hi\n")
    same_text = brain.put_entity("post", "p", text=first.document)
    note = brain.put_entity("note", "n", text=NOTE)
    assert again.version == same_text.version == first.version == 1
    assert again.updated == first.updated
    assert note.version == 1
    assert events == []

    assert_quiet(brain.export(), unchanged=2)
    assert_quiet(brain.sync(), unchanged=2)
    assert disk.tree() == files
    assert events == []
    assert brain.get_entity("post", "p").version == 1
    assert planned(brain, "sync") == []


def test_r4_touched_file_is_no_update(brain: Brain, disk: Any, planned: Any) -> None:
    brain.put_entity("note", "n", text=NOTE)
    brain.export()
    events: list[object] = []
    brain.bus.subscribe(events.append)
    path = disk.edit("n.md", NOTE)  # same bytes, new mtime (a `touch`, an editor's save)
    touched = disk.tree()

    report = brain.import_()
    assert_quiet(report, unchanged=1)
    assert events == []
    assert brain.get_entity("note", "n").version == 1
    assert disk.tree() == touched
    # the sync state learnt the new mtime: the file is not hashed again and again
    assert planned(brain, "sync") == []
    assert path.read_bytes() == NOTE.encode()


def test_r5_unknown_frontmatter_keys_are_kept(brain: Brain, disk: Any, rows: Any) -> None:
    obsidian = (
        "---\n"
        "title: From Obsidian\n"
        "aliases: [fo, obs]\n"
        "cssclass: wide\n"
        "date: 2024-01-05\n"
        "weight: 10\n"
        "draft: false\n"
        "---\n"
        "Linked to [[other]].\n"
    )
    hugo = "---\ntitle: Untouched\nslug: /x/\nlastmod: '2024-02-01T10:00:00Z'\n---\nStays.\n"
    disk.write("post/obs.md", obsidian, mtime_ns=1_700_000_000_000_000_000)
    disk.write("post/hugo.md", hugo, mtime_ns=1_700_000_000_000_000_000)
    assert brain.import_().created == 2
    meta = dict(brain.get_entity("post", "obs").metadata)
    assert meta == {
        "title": "From Obsidian",
        "aliases": ["fo", "obs"],
        "cssclass": "wide",
        "date": "2024-01-05",
        "weight": 10,
        "draft": False,
    }
    assert dict(brain.get_entity("post", "hugo").metadata) == {
        "title": "Untouched",
        "slug": "/x/",
        "lastmod": "2024-02-01T10:00:00Z",
    }
    before = disk.tree()
    assert_quiet(brain.export(), unchanged=2)
    assert disk.tree() == before

    # an update through the API that changes one key keeps all the others
    brain.put_entity("post", "obs", metadata={**meta, "title": "Renamed"}, content="New.\n")
    report = brain.export()
    assert (report.updated, report.unchanged, report.errors) == (1, 1, [])
    after = disk.tree()
    assert after["post/hugo.md"] == before["post/hugo.md"]  # byte for byte, same mtime
    assert_quiet(brain.import_(), unchanged=2)
    stored = dict(rows(brain)["post:obs"].metadata)
    assert stored == {**meta, "title": "Renamed"}
    text = after["post/obs.md"].data.decode()
    for key in ("aliases", "cssclass", "date", "weight", "draft"):
        assert f"\n{key}:" in text


TRICKY = {
    "fences": (
        "---\ntitle: Fenced\n---\n"
        "Intro\n---\nnot: frontmatter\n---\n"
        "```yaml\n---\nkey: value\n...\n```\n"
    ),
    "body-only-dashes": "---\n---\n---\nlooks: like yaml\n---\nbody\n",
    "crlf": "---\r\ntitle: Windows\r\n---\r\nline one\r\nline two\r\n",
    "bom": "\ufeff---\ntitle: With BOM\n---\nbody\n",
    "bom-no-frontmatter": "\ufeffJust a BOM and text\n",
    "trailing": "---\ntitle: Spaces\n---\ntrailing   \n\ttabs\t\n\n\n",
    "no-final-newline": "---\ntitle: Eof\n---\nno newline at the end",
    "unicode": "---\ntitle: Ünïcödé ✓ 日本語\n---\nÉmoji 🧠 and e\u0301 (NFD) and é (NFC)\n",
    "mixed-endings": "---\ntitle: Mixed\n---\na\r\nb\nc\r\n",
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_r6_tricky_bodies_round_trip_exactly(
    name: str, brain: Brain, disk: Any, planned: Any
) -> None:
    text = TRICKY[name]
    data = text.encode("utf-8")
    # file -> entity -> file
    disk.write(f"from-file/{name}.md", data, mtime_ns=1_650_000_000_000_000_000)
    # entity -> file -> entity
    brain.put_entity("note", f"from-api:{name}", text=text)

    report = brain.sync()
    assert (report.created, report.errors, report.skipped, report.conflicts) == (2, [], [], [])
    assert disk.read(f"from-file/{name}.md") == data
    assert disk.read(f"from-api/{name}.md") == data
    for entity_id in (f"from-file:{name}", f"from-api:{name}"):
        entity = brain.get_entity("note", entity_id)
        assert entity.document == text
        assert entity.version == 1
        assert entity.content_hash == document_hash(text)

    files = disk.tree()
    assert_quiet(brain.sync(), unchanged=2)
    assert_quiet(brain.import_(), unchanged=2)
    assert disk.tree() == files
    assert planned(brain, "sync") == []


def test_r6_parts_with_frontmatter_like_body_round_trip(brain: Brain, disk: Any) -> None:
    body = "---\nnot: metadata\n---\n```yaml\n---\nx: 1\n```\r\ntrailing \n"
    brain.put_entity("note", "parts", metadata={}, content=body)
    brain.put_entity("note", "parts-meta", metadata={"k": "v"}, content=body)
    assert brain.export().created == 2
    # copies of what export wrote, imported as new notes, give back the same parts
    for name in ("parts", "parts-meta"):
        disk.write(f"copy/{name}.md", disk.read(f"{name}.md"))
    report = brain.import_()
    assert (report.created, report.unchanged, report.errors) == (2, 2, [])
    for name, meta in (("parts", {}), ("parts-meta", {"k": "v"})):
        original = brain.get_entity("note", name)
        copy = brain.get_entity("note", f"copy:{name}")
        assert (dict(original.metadata), original.content) == (meta, body)
        assert (dict(copy.metadata), copy.content) == (meta, body)
        assert copy.document == original.document
        assert disk.read(f"{name}.md") == original.document.encode("utf-8")
