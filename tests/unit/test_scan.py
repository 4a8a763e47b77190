"""The directory walk: what counts as an entity file, and what is ignored or held back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from brainsync.errors import RootUnavailableError
from brainsync.sync.scan import scan


def _touch(root: Path, rel: str, text: str = "x") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_ignored_paths(tmp_path: Path) -> None:
    kept = ["a.md", "post/b.md", "ideas/2024/c.md", "_index.md"]
    ignored = [
        ".git/x.md",
        ".obsidian/y.md",
        ".brainsync/z.md",
        "_drafts/d.md",
        "notes.txt",
        "~lock.md",
        "e.md~",
        "#f.md#",
        ".g.md.swp",
        "h.md.tmp",
        "a.conflict-0123abcd.md",
        "k.invalid",
        "merge{1}.md",
        "{tmpl}/l.md",
        "UPPER.MD",
    ]
    for rel in kept + ignored:
        _touch(tmp_path, rel)
    result = scan(tmp_path, max_file_bytes=1024)
    assert sorted(result.files) == sorted(kept)


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
