"""Failure catalogue B13: ids whose file the file system cannot hold.

``put`` refuses them at the door, naming the limit; one already in a store (put by an older
version, or through the store itself) is skipped by export with the reason, and a write
that fails leaves none of the folders it made behind.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from brainsync.entities import Entity, EntityKey
from brainsync.errors import InvalidInputError
from brainsync.store import ChangeSet
from brainsync.sync.files import atomic_write
from brainsync.sync.paths import PathGuard

DOC = "---\ntitle: t\n---\nbody\n"
#: An id of 20 folders of 250 bytes: each name fits, the path (5000+ bytes) does not.
DEEP = ":".join(["d" * 250] * 20)


def planted(brain: Any, *ids: str) -> None:
    """Entities stored past the door, as an older brainsync could have."""
    now = datetime.now(UTC)
    entities = [Entity(EntityKey("note", i), DOC, "body\n", {"title": "t"}, now, now) for i in ids]
    brain.store.apply(ChangeSet(upserts=entities))


def test_b13_put_refuses_an_id_over_the_name_or_path_limit(make_brain: Any, root: Path) -> None:
    brain = make_brain()
    with pytest.raises(InvalidInputError, match=r"limit of 255 bytes per name \(NAME_MAX\)"):
        brain.put_entity("note", "n" * 300, text=DOC)
    with pytest.raises(InvalidInputError, match=r"limit of 4096 bytes per path.*\(PATH_MAX\)"):
        brain.put_entity("note", DEEP, text=DOC)
    # the path counts the sync directory's own: an id that fits alone may not fit there
    near = ":".join(["d" * 240] * 16 + ["n" * 150])  # 4009 bytes as a relative path
    assert len(str(root)) > 50
    with pytest.raises(InvalidInputError, match="PATH_MAX"):
        brain.put_entity("note", near, text=DOC)
    assert brain.list_entities() == []
    assert list(root.iterdir()) == []


def test_b13_export_skips_a_stored_id_too_long_for_the_folder(make_brain: Any, root: Path) -> None:
    brain = make_brain()
    brain.put_entity("note", "fine", text=DOC)
    planted(brain, DEEP)
    report = brain.export()
    assert (report.created, report.errors) == (1, [])
    [skip] = report.skipped
    assert skip.path == f"note:{DEEP}" and "PATH_MAX" in skip.reason
    assert sorted(p.name for p in root.iterdir()) == ["fine.md"]  # no empty folders
    assert brain.sync().errors == []  # every later run says the same, and fails nothing


def test_b13_export_asks_the_folders_own_name_limit(
    make_brain: Any, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system with shorter names (eCryptfs: 143 bytes) is asked, not assumed."""
    real = os.pathconf

    def small_names(path: Any, name: str | int) -> int:
        return 143 if name == "PC_NAME_MAX" else real(path, name)

    monkeypatch.setattr(os, "pathconf", small_names)
    brain = make_brain()
    planted(brain, "x" * 200, "short")
    report = brain.export()
    assert (report.created, report.errors) == (1, [])
    [skip] = report.skipped
    assert "limit of 143 bytes per name (NAME_MAX)" in skip.reason
    assert [p.name for p in root.iterdir()] == ["short.md"]


@pytest.mark.parametrize(
    "rel",
    [
        "new/deeper/" + "n" * 300 + ".md",  # the name fails, after its folders were made
        "/".join(["f" * 250] * 20) + "/x.md",  # a folder fails, after those above it
    ],
    ids=["name", "path"],
)
def test_b13_a_failed_write_leaves_no_folders_it_made(tmp_path: Path, rel: str) -> None:
    (tmp_path / "kept").mkdir()
    guard = PathGuard(tmp_path)
    for where in ("", "kept/"):
        with pytest.raises(OSError):  # as a chunk writes: it looked, and found no file
            atomic_write(guard, where + rel, b"x", None, existing=None)
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]
    assert list((tmp_path / "kept").iterdir()) == []
    atomic_write(guard, "new/ok.md", b"x", None)  # the guard forgot the removed folders
    assert (tmp_path / "new" / "ok.md").read_bytes() == b"x"
