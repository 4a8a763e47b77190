"""A new user's trial: thousands of hand-made and adversarial notes, edited on both sides.

The directory is synced, then files are edited, added, renamed and deleted on disk while
entities are changed, created and deleted in the database (some items on both sides), and
synced again. Every file and every entity is then compared with what the decision table
says must have happened: nothing lost, nothing duplicated, nothing outside the root.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

from folder_state import records as folder_records

from brainsync import Brain

BrainFactory = Callable[..., Brain]
N = 1200

_NAMES = [
    "plain",
    "Ünïcødé",
    "emoji 🚀",
    "spaces  here",
    "dots.in.name",
    "semi;colon",
    "brackets [x]",
    "quote'",
    "amp&",
    "hash#tag",
    "plus+",
    "percent 100%",
    "CJK 笔记",
]
_BODIES = [
    "simple body\n",
    "CRLF body\r\nsecond line\r\n",
    "---\nlooks: like frontmatter\n---\nbut is body\n",
    "```yaml\n---\nin: fence\n---\n```\n",
    "trailing spaces   \n\n\n",
    "no final newline",
    "\u00e9t\u00e9 and e\u0301te\u0301 (NFC and NFD)\n",
]
_FRONTMATTER = [
    "",
    "---\ntitle: x\n---\n",
    "---\r\ntitle: crlf\r\ntags: [a, b]\r\n---\r\n",
    "---\nzeta: 1\nalpha: 'quoted'\n\nanswer: no\ndate: 2024-01-05\n---\n",
    "\ufeff---\nbom: true\n---\n",
    "---\nobsidian:\n  cssclass: wide\n  aliases: [a]\n---\n",
]


def _make_tree(root: Path, rng: random.Random) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for i in range(N):
        folder = rng.choice(["", "ideas/", "ideas/2024/", "journal/deep/er/", "post/"])
        name = f"{rng.choice(_NAMES)} {i}"
        if folder == "post/":
            text = f"---\ntitle: Post {i}\nstatus: draft\n---\n{rng.choice(_BODIES)}"
        else:
            text = rng.choice(_FRONTMATTER) + rng.choice(_BODIES)
        rel = f"{folder}{name}.md"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        files[rel] = text.encode("utf-8")
    return files


def _later(path: Path) -> None:
    stamp = path.stat().st_mtime_ns + 5_000_000_000
    os.utime(path, ns=(stamp, stamp))


def _disk(root: Path) -> dict[str, bytes]:
    found = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def test_thousands_of_adversarial_notes_edited_on_both_sides(
    make_brain: BrainFactory, tmp_path: Path
) -> None:
    rng = random.Random(20261128)
    brain = make_brain(chunk_size=100)
    root = brain.settings.root
    original = _make_tree(root, rng)
    first = brain.sync()
    assert first.errors == [] and first.skipped == []
    assert first.created == N
    assert _disk(root) == original  # the first sync rewrote nothing
    assert brain.sync().unchanged == N

    paths = sorted(original)
    rng.shuffle(paths)
    disk_edit, db_edit, both, disk_delete, db_delete, renames = (
        paths[0:150],
        paths[150:300],
        paths[300:350],
        paths[350:400],
        paths[400:450],
        paths[450:480],
    )
    keys = {r.path: r.key for r in folder_records(brain)}
    expected = dict(original)

    for rel in disk_edit + both:
        text = original[rel] + b"\nedited on disk\n"
        (root / rel).write_bytes(text)
        _later(root / rel)
        expected[rel] = text
    db_texts: dict[str, str] = {}
    for rel in db_edit + both:
        entity = brain.store.get(keys[rel])
        assert entity is not None
        db_texts[rel] = entity.document + "\nedited in the database\n"
        brain.put_entity(entity.type, entity.id, text=db_texts[rel])
    for rel in db_edit:
        expected[rel] = db_texts[rel].encode("utf-8")
    for rel in disk_delete:
        (root / rel).unlink()
        del expected[rel]
    for rel in db_delete:
        brain.delete_entity(keys[rel].type, keys[rel].id)
        del expected[rel]
    moved = {}
    for rel in renames:
        new = rel.replace(".md", " renamed.md")
        (root / rel).rename(root / new)
        moved[rel] = new
        expected[new] = expected.pop(rel)
    created = {}
    for i in range(40):
        entity = brain.put_entity("note", f"fresh:from db {i}", metadata={"n": i}, content="new\n")
        created[str(brain.engine.mapper.to_path(entity.key))] = entity.document.encode("utf-8")
    expected.update(created)

    second = brain.sync()
    assert second.errors == [] and second.skipped == []
    assert second.updated == len(disk_edit) + len(db_edit)
    assert second.created == len(created)
    assert second.moved == len(renames)
    assert second.deleted == len(disk_delete) + len(db_delete)
    assert sorted(c.path for c in second.conflicts) == sorted(both)

    on_disk = _disk(root)
    copies = {rel: data for rel, data in on_disk.items() if ".conflict-" in rel}
    assert len(copies) == len(both)
    for rel in both:  # keep-both: the file's edit won, the database's edit is the copy
        copy = next(c for c in copies if c.startswith(rel[:-3] + ".conflict-"))
        assert copies[copy] == db_texts[rel].encode("utf-8")
    assert {rel: data for rel, data in on_disk.items() if rel not in copies} == expected

    entities = {str(e.key): e for e in brain.list_entities(limit=10 * N)}
    assert len(entities) == len(expected)
    records = {r.path: r for r in folder_records(brain)}
    assert set(records) == set(expected)
    for rel, data in expected.items():
        assert entities[str(records[rel].key)].document.encode("utf-8") == data, rel
    third = brain.sync()
    assert (third.created, third.updated, third.deleted, third.moved) == (0, 0, 0, 0)
    assert third.conflicts == [] and third.unchanged == len(expected)
    assert all(p.resolve().is_relative_to(tmp_path) for p in tmp_path.rglob("*"))
