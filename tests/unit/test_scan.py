"""The directory walk: what counts as an entity file, and what is ignored or held back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from brainsync.errors import RootUnavailableError
from brainsync.sync.ignore import REASONS, IgnoreRule
from brainsync.sync.scan import ignored_paths, scan


def _touch(root: Path, rel: str, text: str = "x") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_ignored_paths(tmp_path: Path) -> None:
    # names that look like tool files but that no tool writes are notes (catalogue B11)
    kept = ["a.md", "post/b.md", "ideas/2024/c.md", "_index.md", "~lock.md", "merge{1}.md"]
    kept += ["{tmpl}/l.md", "#1.md", "a b.md"]
    ignored = {
        "dot-folder": [".git", ".obsidian", ".brainsync"],
        "underscore-folder": ["_drafts"],
        "backup": ["e.md~"],
        "editor-temp": ["#f.md#", ".g.md.swp", "h.md.tmp"],
        "editor-lock": ["~$word.md"],
        "merge-leftover": ["a_BASE_1234.md"],
        "conflict-copy": ["a.conflict-0123abcd.md"],
        "quarantined": ["k.invalid"],
    }
    folders = {".git": "x.md", ".obsidian": "y.md", ".brainsync": "z.md", "_drafts": "d.md"}
    for rel in kept + [p for paths in ignored.values() for p in paths if p not in folders]:
        _touch(tmp_path, rel)
    for folder, name in folders.items():
        _touch(tmp_path, f"{folder}/{name}")
    for rel in ["notes.txt", "UPPER.MD"]:
        _touch(tmp_path, rel)
    result = scan(tmp_path, max_file_bytes=1024)
    assert sorted(result.files) == sorted(kept)
    assert {rule: sorted(paths) for rule, paths in result.ignored.items()} == {
        rule: sorted(paths) for rule, paths in ignored.items()
    }
    assert result.other_files == 2  # not markdown: counted, not listed
    counts = result.ignored_counts()
    assert counts["not-markdown"] == 2 and counts["dot-folder"] == 3
    assert result.skipped == []


def test_ignored_notes_and_folders_are_shadowed(tmp_path: Path) -> None:
    """A rule never makes a note look deleted: its path is held, like a skipped one."""
    _touch(tmp_path, ".brainsyncignore", "archive/\n")
    for rel in ["archive/old.md", "a_BASE_1.md", ".hidden.md", "keep.md"]:
        _touch(tmp_path, rel)
    result = scan(tmp_path, 1024)
    assert list(result.files) == ["keep.md"]
    assert result.ignored["brainsyncignore"] == ["archive"]
    for rel in ["archive/old.md", "a_BASE_1.md", ".hidden.md"]:
        assert result.is_shadowed(rel), rel
    assert not result.is_shadowed("keep.md")
    assert not result.is_shadowed("archived.md")


def test_an_emacs_lock_link_is_ignored_not_reported(tmp_path: Path) -> None:
    _touch(tmp_path, "a.md")
    os.symlink("user@host.1234:1700000000", tmp_path / ".#a.md")  # how emacs writes it
    result = scan(tmp_path, 1024)
    assert result.skipped == []
    assert result.ignored == {"editor-lock": [".#a.md"]}


def test_ignored_paths_lists_rule_and_reason(tmp_path: Path) -> None:
    for rel in ["n.md", "n.md~", "_site/index.md", "photo.png"]:
        _touch(tmp_path, rel)
    assert [(i.path, i.rule) for i in ignored_paths(tmp_path, 1024)] == [
        ("_site", IgnoreRule.UNDERSCORE_FOLDER),
        ("n.md~", IgnoreRule.BACKUP),
    ]
    first = ignored_paths(tmp_path, 1024)[0]
    assert first.to_dict() == {
        "path": "_site",
        "rule": "underscore-folder",
        "reason": REASONS[IgnoreRule.UNDERSCORE_FOLDER],
    }


def test_brainsyncignore(tmp_path: Path) -> None:
    _touch(tmp_path, ".brainsyncignore", "private/\n*.draft.md\n")
    for rel in ["a.md", "private/b.md", "c.draft.md", "pub/d.md"]:
        _touch(tmp_path, rel)
    assert sorted(scan(tmp_path, 1024).files) == ["a.md", "pub/d.md"]


def test_oversized_files_are_held_not_listed(tmp_path: Path) -> None:
    _touch(tmp_path, "big.md", "x" * 2000)
    result = scan(tmp_path, max_file_bytes=1000)
    assert result.files == {}
    assert result.is_shadowed("big.md")
    assert "larger than" in result.skipped[0].reason


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    _touch(outside, "secret.md")
    root = tmp_path / "root"
    _touch(root, "a.md")
    os.symlink(outside, root / "link")
    os.symlink(root, root / "loop")
    os.symlink(outside / "secret.md", root / "s.md")
    result = scan(root, 1024)
    assert sorted(result.files) == ["a.md"]
    assert result.is_shadowed("s.md")


def test_stat_matches(tmp_path: Path) -> None:
    _touch(tmp_path, "a.md", "hello")
    info = (tmp_path / "a.md").stat()
    entry = scan(tmp_path, 1024).files["a.md"]
    assert (entry.size, entry.mtime_ns) == (5, info.st_mtime_ns)


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_unusable_root(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "root"
    if kind == "file":
        root.write_text("not a folder")
    with pytest.raises(RootUnavailableError):
        scan(root, 1024)


def test_unreadable_subfolder_shadows_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _touch(tmp_path, "ok/a.md")
    _touch(tmp_path, "locked/b.md")
    real = os.scandir

    def guarded(path: os.PathLike[str] | str) -> object:
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", guarded)
    result = scan(tmp_path, 1024)
    assert list(result.files) == ["ok/a.md"]
    assert result.is_shadowed("locked/b.md")
    assert not result.is_shadowed("ok/a.md")
