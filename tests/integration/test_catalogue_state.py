"""Failure catalogue, group S: where the program's state lives (both store backends)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from brainsync.app import Brain
from brainsync.config import Settings
from brainsync.errors import RootUnavailableError


def note(name: str) -> str:
    return f"---\ntitle: {name}\n---\nText of {name}.\n"


def seed(brain: Brain, count: int = 6) -> None:
    for n in range(count):
        brain.put_entity("note", f"n{n}", text=note(f"n{n}"))
    assert brain.sync().created == count


def test_s1_default_state_lives_outside_the_directory(tmp_path: Path, store_url: str) -> None:
    root = tmp_path / "brain"
    root.mkdir()
    defaults = Settings(directory=root)
    assert defaults.state_home == tmp_path / ".brainsync"
    assert defaults.store_url == f"sqlite:///{tmp_path / '.brainsync' / 'brain.sqlite'}"
    assert defaults.jobs_url == f"sqlite:///{tmp_path / '.brainsync' / 'brain.jobs.sqlite'}"

    # the default SQLite store, and the backend under test, both keep the root clean
    for settings in (defaults, Settings(directory=root, db=store_url)):
        with Brain(settings) as brain:
            brain.put_entity("note", "only", text=note("only"))
            report = brain.sync()
            assert (report.created, report.errors, report.skipped) == (1, [], [])
            assert brain.sync().unchanged == 1
            assert brain.status().tracked_files == 1
        assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == ["only.md"]
        (root / "only.md").unlink()
    assert (tmp_path / ".brainsync" / "brain.sqlite").is_file()
    assert not (root / ".brainsync").exists()


STATE_FILES = {
    "brain.sqlite": b"SQLite format 3\x00 (not really)",
    "brain.jobs.sqlite": b"SQLite format 3\x00 (jobs)",
    "brainsync.log": b"2024-05-01 sync started\n",
    "sync.lock": b"12345\n",
    "looks-like-a-note.md": b"---\ntitle: state\n---\nnot an entity\n",
}


@pytest.mark.parametrize("folder", [".brainsync", "_state"])
def test_s1_state_inside_the_directory_is_never_read_or_deleted(
    folder: str, make_brain: Any, disk: Any, rows: Any, store_url: str
) -> None:
    home = disk.root / folder
    url = store_url
    if store_url.startswith("sqlite:///"):
        url = f"sqlite:///{home / 'store.db'}"  # the live database, inside the folder
    brain = make_brain(home=home, db=url)
    for name, data in STATE_FILES.items():
        disk.write(f"{folder}/{name}", data, mtime_ns=1_600_000_000_000_000_000)
    seed(brain)
    state_before = {p: f for p, f in disk.tree().items() if p.startswith(folder + "/")}
    static = {p: f for p, f in state_before.items() if p.split("/")[1] in STATE_FILES}

    assert set(rows(brain)) == {f"note:n{n}" for n in range(6)}
    report = brain.sync()
    assert (report.created, report.deleted, report.errors, report.skipped) == (0, 0, [], [])

    # every entity file gone: refused, then forced; the state folder survives both
    for n in range(6):
        (disk.root / f"n{n}.md").unlink()
    with pytest.raises(RootUnavailableError):
        brain.sync()
    report = brain.sync(force_deletes=True)
    assert (report.deleted, report.created, report.errors) == (6, 0, [])
    assert rows(brain) == {}
    after = disk.tree()
    assert {p: f for p, f in after.items() if p in static} == static
    assert set(after) >= set(state_before) - {p for p in state_before if "-wal" in p}
    assert all(p.startswith(folder + "/") for p in after)


def test_s2_git_and_dot_folders_are_never_touched(
    brain: Brain, disk: Any, rows: Any, planned: Any
) -> None:
    dotted = {
        ".git/HEAD": b"ref: refs/heads/main\n",
        ".git/config": b"[core]\n\trepositoryformatversion = 0\n",
        ".git/index": b"DIRC\x00\x00\x00\x02binary",
        ".git/objects/ab/cdef0123": b"x\x01+)JMU\x00",
        ".git/refs/heads/main": b"0123456789abcdef0123456789abcdef01234567\n",
        ".git/COMMIT_EDITMSG.md": b"---\ntitle: looks like a note\n---\n",
        ".git/info/exclude": b"*.tmp\n",
        ".gitignore": b".obsidian/\n",
        ".gitattributes": b"*.md text eol=lf\n",
        ".obsidian/workspace.json": b"{}",
        ".obsidian/templates/t.md": b"---\ntitle: template\n---\n",
        ".github/README.md": b"# not a note\n",
        ".trash/deleted.md": b"---\ntitle: trashed\n---\n",
    }
    for rel, data in dotted.items():
        disk.write(rel, data, mtime_ns=1_600_000_000_000_000_000)
    os.chmod(disk.root / ".git" / "objects" / "ab" / "cdef0123", 0o444)
    before = {p: f for p, f in disk.tree().items() if p in dotted}
    seed(brain)
    brain.put_entity("note", ".git:HEAD", text=note("tries to write into .git"))
    brain.put_entity("note", ".obsidian:workspace", text=note("and into .obsidian"))

    report = brain.sync()
    assert (report.created, report.errors, report.skipped) == (2, [], [])
    brain.delete_entity("note", "n0")
    disk.edit("n1.md", note("n1 edited"))
    report = brain.sync()
    assert (report.deleted, report.updated, report.errors) == (1, 1, [])

    after = disk.tree()
    assert {p: f for p, f in after.items() if p in dotted} == before
    assert {p for p in after if p not in dotted} == {
        "n1.md",
        "n2.md",
        "n3.md",
        "n4.md",
        "n5.md",
        "%2Egit/HEAD.md",
        "%2Eobsidian/workspace.md",
    }
    assert set(rows(brain)) == {f"note:n{n}" for n in range(1, 6)} | {
        "note:.git:HEAD",
        "note:.obsidian:workspace",
    }
    assert planned(brain) == []

    # only dot-folders left: an empty root, refused; forcing it leaves them alone too
    for rel in list(after):
        if rel not in dotted:
            (disk.root / rel).unlink()
    with pytest.raises(RootUnavailableError):
        brain.sync()
    assert brain.sync(force_deletes=True).deleted == 7
    assert disk.tree() == before
