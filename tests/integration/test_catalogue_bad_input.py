"""Failure catalogue, group B: bad input (real files, both store backends)."""

from __future__ import annotations

import os
import time
import tracemalloc
import unicodedata
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from folder_state import tracked

from brainsync.app import Brain
from brainsync.errors import InvalidInputError
from brainsync.report import ItemError, Report, Skip


def post(title: str, text: str = "Body.") -> str:
    return f"---\ntitle: {title}\n---\n{text}\n"


def seed_posts(brain: Brain, *names: str) -> None:
    for name in names:
        brain.put_entity("post", name, text=post(name))
    report = brain.export()
    assert (report.created, report.errors) == (len(names), [])


def error_paths(errors: list[ItemError]) -> list[str]:
    return sorted(error.path for error in errors)


# -- B1: invalid YAML or schema ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("---\ntitle: [unclosed\n---\nbody\n", "invalid YAML frontmatter"),
        ("---\ntitle: a\ntitle: b\n---\nbody\n", "duplicate key"),
        ("---\n- a list\n---\nbody\n", "must be a mapping"),
        ("---\ntitle: never closed\nbody\n", "never closed"),
        ("---\ntags: [x]\n---\nno title\n", "post needs a non-empty string 'title'"),
        ("---\ntitle: T\nstatus: gone\n---\nbad status\n", "post 'status' must be one of"),
    ],
    ids=["syntax", "duplicate-key", "not-a-mapping", "unclosed", "no-title", "bad-status"],
)
@pytest.mark.parametrize("kind", ["import", "sync"])
def test_b1_invalid_frontmatter_is_reported_and_kept(
    kind: str, text: str, reason: str, brain: Brain, disk: Any, rows: Any
) -> None:
    seed_posts(brain, "bad", "good")
    before = brain.get_entity("post", "bad")
    disk.edit("post/bad.md", text)
    disk.write("post/new-bad.md", text)
    disk.edit("post/good.md", post("good", "Edited."))
    files = disk.tree()

    report = brain.run(kind)
    assert error_paths(report.errors) == ["post/bad.md", "post/new-bad.md"]
    assert all(reason in error.error for error in report.errors)
    assert (report.updated, report.created, report.deleted) == (1, 0, 0)
    assert disk.tree() == files  # the bad files are left in place, as they are
    found = rows(brain)
    assert set(found) == {"post:bad", "post:good"}
    assert found["post:bad"].document == before.document
    assert found["post:bad"].version == before.version
    assert found["post:good"].document == post("good", "Edited.")

    again = brain.run(kind)  # still reported, still nothing deleted
    assert error_paths(again.errors) == ["post/bad.md", "post/new-bad.md"]
    assert again.deleted == 0
    assert set(rows(brain)) == {"post:bad", "post:good"}
    assert disk.tree() == files


# -- B2: probably mid-write -------------------------------------------------------------


@pytest.mark.parametrize(
    "data", [b"", b"   \n\t\n", b"---", b"---\n", b"\xef\xbb\xbf", b"\n---\n  \n"]
)
def test_b2_empty_or_lone_fence_is_skipped_while_young(
    data: bytes, brain: Brain, disk: Any, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("brainsync.sync.work.SETTLE_SECONDS", 3600.0)  # every file is young
    seed_posts(brain, "kept", "other")
    before = brain.get_entity("post", "kept")
    disk.edit("post/kept.md", data)
    disk.write("fresh.md", data)
    files = disk.tree()

    report = brain.sync()
    assert sorted(report.skipped, key=lambda s: s.path) == [
        Skip("fresh.md", "empty or incomplete; probably mid-write"),
        Skip("post/kept.md", "empty or incomplete; probably mid-write"),
    ]
    assert report.errors == []
    assert (report.created, report.updated, report.deleted, report.unchanged) == (0, 0, 0, 1)
    assert disk.tree() == files  # not overwritten by the database side either
    found = rows(brain)
    assert set(found) == {"post:kept", "post:other"}
    assert found["post:kept"].document == before.document
    assert found["post:kept"].version == 1

    # once the writer finishes, the content is imported
    disk.edit("post/kept.md", post("kept", "Finished."))
    assert brain.sync().updated == 1
    assert brain.get_entity("post", "kept").document == post("kept", "Finished.")


def _age(path: Path, seconds: float = 3600.0) -> None:
    """Make the file's last change ``seconds`` old: it has settled."""
    then = int((time.time() - seconds) * 1e9)
    os.utime(path, ns=(then, then))


@pytest.mark.parametrize(
    "data", [b"", b"   \n\t\n", b"\xef\xbb\xbf"], ids=["empty", "blank", "bom"]
)
def test_b2_settled_empty_file_is_an_empty_note_and_round_trips(
    data: bytes, make_brain: Any, disk: Any, tmp_path: Path
) -> None:
    brain = make_brain()
    _age(disk.write("idea.md", data))
    report = brain.sync()
    assert (report.created, report.skipped, report.errors) == (1, [], [])
    entity = brain.get_entity("note", "idea")
    assert entity.document.encode("utf-8") == data and entity.metadata == {}
    assert brain.sync().created == 0  # settled: nothing to do again
    # the empty entity exported to a fresh folder is the same bytes
    (tmp_path / "restored").mkdir()
    with Brain(replace(brain.settings, directory=tmp_path / "restored")) as elsewhere:
        assert elsewhere.export().created == 1
    assert (tmp_path / "restored" / "idea.md").read_bytes() == data


def test_b2_young_empty_file_is_deferred_then_imported(
    brain: Brain, disk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("brainsync.sync.work.SETTLE_SECONDS", 3600.0)
    path = disk.write("idea.md", b"")
    report = brain.sync()
    assert report.skipped == [Skip("idea.md", "empty or incomplete; probably mid-write")]
    assert report.created == 0 and path.exists()
    _age(path, 7200.0)  # the writer is long gone: it has settled
    assert brain.sync().created == 1
    assert brain.get_entity("note", "idea").document == ""


@pytest.mark.parametrize("data", [b"---", b"---\n", b" --- \n"])
def test_b2_settled_lone_fence_is_reported_as_incomplete_frontmatter(
    data: bytes, brain: Brain, disk: Any, rows: Any
) -> None:
    seed_posts(brain, "kept")
    _age(disk.write("fence.md", data))
    disk.edit("post/kept.md", data)
    _age(disk.root / "post" / "kept.md")
    report = brain.sync()
    assert error_paths(report.errors) == ["fence.md", "post/kept.md"]
    assert all("incomplete frontmatter" in e.error for e in report.errors), report.errors
    assert set(rows(brain)) == {"post:kept"}  # nothing deleted, nothing imported
    assert disk.read("fence.md") == data


# -- B3: not UTF-8, binary ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"---\ntitle: caf\xe9\n---\nlatin-1\n", "not valid UTF-8"),
        (b"\xff\xfe#\x00 \x00u\x00t\x00f\x00-\x001\x006\x00", "binary data"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
    ],
    ids=["latin-1", "utf-16", "png"],
)
def test_b3_undecodable_file_is_reported_not_imported(
    data: bytes, reason: str, brain: Brain, disk: Any, rows: Any
) -> None:
    seed_posts(brain, "was-fine", "other")
    before = brain.get_entity("post", "was-fine")
    disk.edit("post/was-fine.md", data)
    disk.write("binary.md", data)
    files = disk.tree()

    report = brain.sync()
    assert error_paths(report.errors) == ["binary.md", "post/was-fine.md"]
    assert all(reason in error.error for error in report.errors)
    assert (report.created, report.updated, report.deleted, report.unchanged) == (0, 0, 0, 1)
    assert disk.tree() == files
    found = rows(brain)
    assert set(found) == {"post:was-fine", "post:other"}
    assert found["post:was-fine"].document == before.document
    assert found["post:was-fine"].version == 1


# -- B4: too large ------------------------------------------------------------------------


def test_b4_oversized_file_is_skipped_and_kept(make_brain: Any, disk: Any, rows: Any) -> None:
    brain = make_brain(max_file_bytes=1000)
    seed_posts(brain, "big", "small")
    before = brain.get_entity("post", "big")
    disk.edit("post/big.md", post("big", "x" * 2000))
    disk.write("huge-new.md", "y" * 5000)
    files = disk.tree()

    for kind in ("sync", "import", "export", "sync"):
        report = brain.run(kind)
        reasons = {s.path: s.reason for s in report.skipped}
        assert set(reasons) == {"post/big.md", "huge-new.md"}, kind
        assert "larger than the 1000 byte limit" in reasons["post/big.md"]
        assert "(2020 bytes)" in reasons["post/big.md"]
        assert "(5000 bytes)" in reasons["huge-new.md"]
        assert (report.created, report.updated, report.deleted, report.errors) == (0, 0, 0, [])
        assert disk.tree() == files, kind
        found = rows(brain)
        assert set(found) == {"post:big", "post:small"}
        assert found["post:big"].document == before.document
        assert found["post:big"].version == 1


def test_b4_oversized_file_is_not_overwritten_by_an_entity_update(
    make_brain: Any, disk: Any, rows: Any
) -> None:
    brain = make_brain(max_file_bytes=1000)
    seed_posts(brain, "big", "small")
    disk.edit("post/big.md", post("big", "x" * 2000))
    files = disk.tree()
    brain.put_entity("post", "big", text=post("big", "Changed in the database."))
    for kind in ("export", "sync"):
        report = brain.run(kind)
        assert [s.path for s in report.skipped] == ["post/big.md"]
        assert (report.created, report.updated, report.deleted) == (0, 0, 0)
        assert report.conflicts == []
        assert disk.tree() == files
    assert rows(brain)["post:big"].version == 2


# -- B5: a file vanishes between the plan and the chunk -------------------------------------


def test_b5_file_vanishing_after_the_plan_is_counted(brain: Brain, disk: Any, rows: Any) -> None:
    for n in range(4):
        disk.write(f"n{n}.md", post(f"n{n}"))
    operation = brain.operation("import")
    chunks = operation.plan()
    (disk.root / "n2.md").unlink()

    total = Report()
    for chunk in chunks:
        total.merge(operation.run_chunk(chunk))
    assert (total.created, total.vanished, total.deleted, total.unchanged) == (3, 1, 0, 0)
    assert (total.errors, total.skipped, total.conflicts) == ([], [], [])
    assert set(rows(brain)) == {"note:n0", "note:n1", "note:n3"}
    assert tracked(brain) == 3
    assert brain.sync().created == 0


# -- B6: what the scan ignores --------------------------------------------------------------

# ``~backup.md``, ``merge{1}.md`` and ``weird{folder}/x.md`` were here; no tool writes such
# names, they are notes (catalogue B11, tests/integration/test_catalogue_b11.py). What
# tools really write took their places: an Office owner file, git mergetool's copies.
IGNORED = [
    ".obsidian/workspace.md",
    ".git/notes.md",
    ".hidden.md",
    "_drafts/draft.md",
    "post/_private/p.md",
    ".#lock.md",
    "~$backup.md",
    "saved.md~",
    "#autosave.md#",
    "note.md.swp",
    ".note.md.swp",
    "n.tmp",
    "x.md.invalid",
    "quarantined.invalid",
    "merge_BASE_4242.md",
    "merge.md.orig",
    "real.conflict-0123abcd.md",
    "picture.png",
    "README.txt",
    "excluded/by-ignore-file.md",
    "drafts-by-glob.wip.md",
]


def test_b6_ignored_paths_are_never_read_or_touched(brain: Brain, disk: Any, rows: Any) -> None:
    disk.write(".brainsyncignore", "excluded/\n*.wip.md\n")
    for rel in IGNORED:
        disk.write(rel, post("ignored"), mtime_ns=1_600_000_000_000_000_000)
    disk.write("real.md", post("real"))
    disk.write("unknown-folder/deep/n.md", post("as a note"))  # not a type: a note
    brain.put_entity("note", "from-db", text=post("db"))
    files = disk.tree()

    report = brain.sync()
    assert (report.created, report.errors, report.skipped) == (3, [], [])
    assert set(rows(brain)) == {"note:real", "note:unknown-folder:deep:n", "note:from-db"}
    after = disk.tree()
    for rel in [*IGNORED, ".brainsyncignore"]:
        assert after[rel] == files[rel], rel
    assert set(after) - set(files) == {"from-db.md"}
    assert brain.sync().unchanged == 3


# -- B7: ids that try to leave the root -------------------------------------------------------

HOSTILE_IDS = [
    "..",
    "../escape",
    "a/../../escape2",
    "/abs-escape",
    "\\\\server\\share\\x",
    "..\\..\\win-escape",
    "C:",
    "C:\\Windows\\system32",
    "c:evil",
    "CON",
    "con.txt",
    "aux",
    "LPT1",
    "COM9.md",
    ".hidden",
    "~tilde",
    "a:..:b",
    "x:.:y",
    "trailing.",
    "trailing ",
    "x.conflict-0123abcd",
    "%2e%2e",
    "..%2f..%2fpct",
    "deep:" * 20 + "leaf",
]


def walk_all(top: Path) -> set[str]:
    found = set()
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            found.add((Path(folder) / name).relative_to(top).as_posix())
    return found


@pytest.mark.parametrize("type_name", ["note", "post"])
def test_b7_hostile_ids_stay_inside_the_root(
    type_name: str, brain: Brain, disk: Any, rows: Any, tmp_path: Path
) -> None:
    sentinel = tmp_path / "outside" / "keep.md"
    sentinel.parent.mkdir()
    sentinel.write_text("outside\n")
    outside_before = {p for p in walk_all(tmp_path) if not p.startswith("brain")}

    accepted, rejected = [], []
    for entity_id in HOSTILE_IDS:
        try:
            brain.put_entity(type_name, entity_id, text=post("hostile"))
        except InvalidInputError:
            rejected.append(entity_id)
        else:
            accepted.append(entity_id)
    assert rejected == ["C:"]  # an empty ':' segment; every other id is encoded

    report = brain.export()
    assert (report.created, report.errors, report.skipped) == (len(accepted), [], [])
    outside_after = {p for p in walk_all(tmp_path) if not p.startswith("brain")}
    new_outside = {
        p for p in outside_after - outside_before if not p.startswith(("state", "store"))
    }
    assert new_outside == set()
    assert sentinel.read_text() == "outside\n"
    assert not Path("/abs-escape.md").exists()

    files = disk.tree()
    assert len(files) == len(accepted)
    for rel in files:
        parts = rel.split("/")
        assert ".." not in parts and "." not in parts
        assert all(p.split(".")[0].upper() not in {"CON", "AUX", "LPT1", "COM9"} for p in parts)
        assert "\\" not in rel and ":" not in rel and "\x00" not in rel
        assert all(not p.startswith(".") for p in parts)  # "~x.md" is a note like any other
    # every file maps back to its entity: a second run is quiet, an import changes nothing
    assert brain.sync().unchanged == len(accepted)
    again = brain.import_()
    assert (again.created, again.deleted, again.unchanged) == (0, 0, len(accepted))
    assert set(rows(brain)) == {f"{type_name}:{i}" for i in accepted}


def test_b7_nul_in_id_or_text_is_rejected_alike_on_every_backend(
    brain: Brain, disk: Any, rows: Any
) -> None:
    with pytest.raises(InvalidInputError, match="NUL"):
        brain.put_entity("note", "nul\x00byte", text=post("nul"))
    with pytest.raises(InvalidInputError, match="NUL"):
        brain.put_entity("note", "fine", text=post("has\x00nul"))
    assert rows(brain) == {}
    assert brain.export().created == 0
    assert disk.tree() == {}


# -- B8: symlinks ----------------------------------------------------------------------------


def test_b8_symlinks_are_not_followed(brain: Brain, disk: Any, rows: Any, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "secret.md").write_text(post("secret"))
    (outside / "sub" / "deep.md").write_text(post("deep"))
    outside_files = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in outside.rglob("*.md")}

    disk.write("real.md", post("real"))
    (disk.root / "linked-folder").symlink_to(outside, target_is_directory=True)
    (disk.root / "linked-file.md").symlink_to(outside / "secret.md")
    (disk.root / "loop").symlink_to(disk.root / "loop")
    (disk.root / "a").symlink_to(disk.root / "b")
    (disk.root / "b").symlink_to(disk.root / "a")
    (disk.root / "back-to-root").symlink_to(disk.root, target_is_directory=True)
    (disk.root / "post").mkdir()
    (disk.root / "post" / "up").symlink_to(disk.root, target_is_directory=True)

    report = brain.sync()
    assert (report.created, report.errors) == (1, [])
    skipped = {s.path: s.reason for s in report.skipped}
    assert set(skipped) == {
        "linked-folder",
        "linked-file.md",
        "loop",
        "a",
        "b",
        "back-to-root",
        "post/up",
    }
    assert all(reason == "symbolic link: not followed" for reason in skipped.values())
    assert set(rows(brain)) == {"note:real"}

    # entities whose paths run through or onto the links: refused, nothing written outside
    brain.put_entity("note", "linked-folder:evil", text=post("evil"))
    brain.put_entity("note", "linked-file", text=post("overwrite"))
    report = brain.sync()
    assert (report.created, report.updated, report.deleted) == (0, 0, 0)
    assert [e.path for e in report.errors] == ["linked-folder/evil.md"]
    assert "leads outside" in report.errors[0].error
    assert {s.path for s in report.skipped} == set(skipped)  # the held link is left alone
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in outside.rglob("*.md")} == (
        outside_files
    )
    assert not (outside / "evil.md").exists()
    assert (disk.root / "linked-file.md").is_symlink()
    assert set(rows(brain)) == {"note:real", "note:linked-folder:evil", "note:linked-file"}


# -- B9: ids that clash on case-insensitive or normalising file systems ---------------------


def test_b9_case_clash_is_reported_not_merged(brain: Brain, disk: Any, rows: Any) -> None:
    brain.put_entity("note", "Readme", text=post("upper"))
    brain.put_entity("note", "readme", text=post("lower"))
    report = brain.export()
    assert report.created == 1
    assert [s.path for s in report.skipped] == ["readme.md"]
    assert "clashes with Readme.md" in report.skipped[0].reason
    assert set(disk.tree()) == {"Readme.md"}
    assert disk.read("Readme.md") == post("upper").encode()
    found = rows(brain)
    assert found["note:Readme"].document == post("upper")
    assert found["note:readme"].document == post("lower")  # not merged, not lost
    again = brain.sync()
    assert [s.path for s in again.skipped] == ["readme.md"]
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)
    assert rows(brain)["note:readme"].document == post("lower")


def test_b9_unicode_normalisation_clash_is_reported(brain: Brain, disk: Any, rows: Any) -> None:
    nfc = unicodedata.normalize("NFC", "café")
    nfd = unicodedata.normalize("NFD", "café")
    assert nfc != nfd
    disk.write(f"{nfc}.md", post("composed"))
    disk.write(f"{nfd}.md", post("decomposed"))
    report = brain.sync()
    assert report.created == 1
    assert len(report.skipped) == 1
    assert "clashes with" in report.skipped[0].reason
    found = rows(brain)
    assert len(found) == 1
    # both files stay as they were: nothing overwritten with the other's content
    assert disk.read(f"{nfc}.md") == post("composed").encode()
    assert disk.read(f"{nfd}.md") == post("decomposed").encode()
    winner = report.skipped[0].path
    assert winner in (f"{nfc}.md", f"{nfd}.md")


# -- B10: YAML bombs and object tags ------------------------------------------------------------

LAUGHS = "\n".join(
    ["---", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]" for i in range(9)]
    + ["---", "boom"]
)
DEEP = "---\nx: " + "[" * 5000 + "]" * 5000 + "\n---\ndeep\n"
DEEP_MAP = "---\n" + "".join(" " * i + f"k{i}:\n" for i in range(200)) + "---\nmaps\n"


def python_tag(marker: Path) -> str:
    return f"---\ntitle: !!python/object/apply:os.system ['touch {marker}']\n---\npwn\n"


def test_b10_yaml_bombs_are_rejected(brain: Brain, disk: Any, rows: Any, tmp_path: Path) -> None:
    marker = tmp_path / f"pwned-{uuid.uuid4().hex}"
    bombs = {
        "laughs": (LAUGHS, "anchors"),
        "deep": (DEEP, "nesting"),  # libyaml's own depth limit may trip first
        "deepmap": (DEEP_MAP, "nesting deeper than 64 levels"),
        "python": (python_tag(marker), "is not allowed"),
        "pyname": ("---\nx: !!python/name:os.system\n---\n", "is not allowed"),
    }
    seed_posts(brain, *bombs)
    before = {name: brain.get_entity("post", name) for name in bombs}
    for name, (text, _reason) in bombs.items():
        disk.edit(f"post/{name}.md", text)
        disk.write(f"new-{name}.md", text)
    files = disk.tree()

    tracemalloc.start()
    try:
        report = brain.sync()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20  # an expanded bomb would need gigabytes
    errors = {e.path: e.error for e in report.errors}
    assert set(errors) == {f"post/{n}.md" for n in bombs} | {f"new-{n}.md" for n in bombs}
    for name, (_text, reason) in bombs.items():
        assert reason in errors[f"post/{name}.md"], name
        assert reason in errors[f"new-{name}.md"], name
    assert (report.created, report.updated, report.deleted) == (0, 0, 0)
    assert not marker.exists()
    assert disk.tree() == files
    found = rows(brain)
    assert set(found) == {f"post:{n}" for n in bombs}
    for name, entity in before.items():
        assert (found[f"post:{name}"].document, found[f"post:{name}"].version) == (
            entity.document,
            entity.version,
        )

    for name, (text, _reason) in bombs.items():
        with pytest.raises(InvalidInputError):
            brain.put_entity("note", f"api-{name}", text=text)
    assert not marker.exists()
    assert set(rows(brain)) == {f"post:{n}" for n in bombs}
