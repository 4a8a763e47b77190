"""Catalogue group F: many folders on one store (three folders, SQLite and PostgreSQL).

Every folder has its own sync state, so nothing one folder does can count another
folder's files as deleted; a folder the store has never seen joins without deleting
anything; edits and deletes made in one folder reach the others at their next sync.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from disk import Disk, FileState
from folder_state import tracked

from brainsync.app import Brain
from brainsync.config import Settings
from brainsync.errors import RootUnavailableError

Folders = Callable[..., Brain]
NOTE = "---\ntitle: {0}\n---\n{0} body.\n"


@pytest.fixture
def folder(tmp_path: Path, store_url: str) -> Iterator[Folders]:
    """``folder("a")``: a brain on ``tmp_path/a`` over the one shared store."""
    opened: list[Brain] = []

    def open_folder(name: str, *, home: str = "state", **overrides: Any) -> Brain:
        settings = Settings(
            directory=tmp_path / name,
            home=tmp_path / home,
            db=store_url,
            io_threads=2,
            **overrides,
        )
        brain = Brain(settings)
        opened.append(brain)
        return brain

    yield open_folder
    for brain in opened:
        brain.close()


def _disk(brain: Brain) -> Disk:
    brain.settings.root.mkdir(parents=True, exist_ok=True)
    return Disk(brain.settings.root)


def _notes(tree: dict[str, FileState]) -> dict[str, bytes]:
    return {path: state.data for path, state in tree.items()}


def _seed(brain: Brain, names: list[str]) -> None:
    disk = _disk(brain)
    for name in names:
        disk.write(f"{name}.md", NOTE.format(name))
    report = brain.sync()
    assert report.created == len(names)


# -- F1: a second folder joins ---------------------------------------------------------------


def test_f1_second_folder_joins_without_deleting(folder: Folders) -> None:
    a = folder("a")
    _seed(a, ["same", "store-only", "differs"])
    b = folder("b")
    disk = _disk(b)
    same = disk.write("same.md", NOTE.format("same"), mtime_ns=1_600_000_000_000_000_000)
    disk.write("differs.md", "---\ntitle: differs\n---\nB's own words.\n")
    disk.write("disk-only.md", NOTE.format("disk-only"))

    report = b.sync()

    assert (report.deleted, report.created, len(report.conflicts)) == (0, 2, 1)
    assert same.stat().st_mtime_ns == 1_600_000_000_000_000_000  # linked, not written
    assert disk.read("store-only.md") == NOTE.format("store-only").encode()
    conflict = report.conflicts[0]
    assert conflict.path == "differs.md" and conflict.copy_path is not None
    assert disk.read(conflict.copy_path) == NOTE.format("differs").encode()
    assert b.get_entity("note", "differs").document == "---\ntitle: differs\n---\nB's own words.\n"
    assert b.get_entity("note", "disk-only").document == NOTE.format("disk-only")
    assert tracked(b) == 4 and tracked(a) == 3
    # folder A still sees all of its own files as synced: nothing to delete there
    again = a.sync()
    assert (again.deleted, again.created) == (0, 1)  # disk-only reaches A
    assert (a.settings.root / "disk-only.md").read_bytes() == NOTE.format("disk-only").encode()


@pytest.mark.parametrize("kind", ["import", "export"])
def test_f1_first_one_way_run_of_a_folder_deletes_nothing(folder: Folders, kind: str) -> None:
    a = folder("a")
    _seed(a, ["one", "two", "three", "four", "five", "six"])
    b = folder("b")
    _disk(b).write("mine.md", NOTE.format("mine"))
    report = b.run(kind)
    assert report.deleted == 0
    assert a.store.count() == (7 if kind == "import" else 6)
    assert (b.settings.root / "mine.md").exists()
    if kind == "export":
        assert len(list(b.settings.root.glob("*.md"))) == 7
        assert [item.path for item in report.left_alone] == ["mine.md"]
    else:
        assert len(report.left_alone) == 6  # entities without a file here, listed with why


# -- F2: restore into a fresh folder ---------------------------------------------------------


def test_f2_export_into_a_fresh_folder_writes_every_entity(folder: Folders) -> None:
    a = folder("a")
    disk = _disk(a)
    disk.write("ideas/deep/x.md", "---\ntitle: x\ntags: [a, b]\n---\r\nCRLF body\r\n")
    disk.write("日本語 メモ.md", "\ufeff---\ntitle: bom\n---\nbody\n")
    disk.write("post/hello.md", "---\ntitle: Hello\n---\nPost body.\n")
    assert a.sync().created == 3
    fresh = folder("restored")  # the directory does not exist yet
    report = fresh.export()
    assert (report.created, report.unchanged, report.deleted) == (3, 0, 0)
    assert _notes(Disk(fresh.settings.root).tree()) == _notes(disk.tree())
    again = fresh.sync()
    assert (again.created, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 3)


# -- F3: convergence -------------------------------------------------------------------------


def test_f3_edits_and_deletes_reach_every_folder(folder: Folders) -> None:
    a, b, c = folder("a"), folder("b"), folder("c")
    _seed(a, ["kept", "edited", "deleted", "renamed", "x1", "x2", "x3", "x4"])
    for other in (b, c):
        _disk(other)
        assert other.sync().created == 8
    disk_a = _disk(a)
    disk_a.edit("edited.md", "---\ntitle: edited\n---\nEdited in A.\n")
    (a.settings.root / "deleted.md").unlink()
    (a.settings.root / "renamed.md").rename(a.settings.root / "new-name.md")
    _disk(b).write("from-b.md", NOTE.format("from-b"))
    for brain in (a, b, c, a, b, c):
        report = brain.sync()
        assert report.errors == [] and report.conflicts == []
    trees = [_notes(_disk(x).tree()) for x in (a, b, c)]
    assert trees[0] == trees[1] == trees[2]
    assert "deleted.md" not in trees[0] and "renamed.md" not in trees[0]
    assert trees[0]["edited.md"] == b"---\ntitle: edited\n---\nEdited in A.\n"
    assert {"new-name.md", "from-b.md"} <= set(trees[0])
    assert a.store.count() == 8  # 8 seeded, one deleted, one renamed, one added in B


def test_f3_delete_in_one_folder_loses_to_an_edit_in_another(folder: Folders) -> None:
    a, b = folder("a"), folder("b")
    _seed(a, ["n1", "n2", "n3", "n4", "n5", "n6"])
    _disk(b)
    assert b.sync().created == 6
    (a.settings.root / "n1.md").unlink()
    assert a.sync().deleted == 1
    _disk(b).edit("n1.md", "---\ntitle: n1\n---\nB edited this.\n")
    report = b.sync()
    assert report.deleted == 0 and [c.path for c in report.conflicts] == ["n1.md"]
    assert "re-imported" in report.conflicts[0].resolution
    assert b.get_entity("note", "n1").content == "B edited this.\n"
    assert a.sync().created == 1  # and the edit comes back to A
    assert (a.settings.root / "n1.md").read_bytes() == b"---\ntitle: n1\n---\nB edited this.\n"


# -- F4: copied, moved, replaced folders and copied state ------------------------------------


def test_f4_copied_folder_joins_as_a_new_folder(folder: Folders, tmp_path: Path) -> None:
    a = folder("a")
    _seed(a, ["n1", "n2", "n3"])
    shutil.copytree(tmp_path / "a", tmp_path / "copy", copy_function=shutil.copy2)
    copy = folder("copy")
    report = copy.sync()
    assert (report.created, report.deleted, report.conflicts) == (0, 0, [])
    assert copy.folder() is not None and a.folder() is not None
    assert copy.folder().id != a.folder().id  # type: ignore[union-attr]
    (tmp_path / "copy" / "n1.md").unlink()
    assert copy.sync().deleted == 1
    assert tracked(a) == 3  # A's state is its own: A restores nothing, deletes its file
    assert a.sync().deleted == 1 and not (tmp_path / "a" / "n1.md").exists()


def test_f4_moved_folder_keeps_its_state(folder: Folders, tmp_path: Path) -> None:
    a = folder("a")
    _seed(a, ["n1", "n2", "n3"])
    before = a.folder()
    assert before is not None
    (tmp_path / "a").rename(tmp_path / "renamed")
    moved = folder("renamed")
    report = moved.sync()
    assert (report.created, report.updated, report.deleted, report.unchanged) == (0, 0, 0, 3)
    assert any("moved from" in note for note in report.notes)
    after = moved.folder()
    assert after is not None and after.id == before.id and after.path == str(tmp_path / "renamed")
    assert [f.id for f in moved.folders()] == [before.id]


def test_f4_folder_replaced_at_the_same_path_is_a_new_folder(
    folder: Folders, tmp_path: Path
) -> None:
    a = folder("a")
    _seed(a, ["n1", "n2", "n3", "n4", "n5", "n6"])
    old = a.folder()
    shutil.copytree(tmp_path / "a", tmp_path / "backup", copy_function=shutil.copy2)
    shutil.rmtree(tmp_path / "a")
    (tmp_path / "backup").rename(tmp_path / "a")
    os.unlink(tmp_path / "a" / "n1.md")  # the backup is older: one note is missing
    again = folder("a")
    report = again.sync()
    assert report.deleted == 0 and report.created == 1  # n1 comes back, nothing deleted
    assert any("not the directory that was synced" in note for note in report.notes)
    assert again.folder() is not None and old is not None
    assert again.folder().id != old.id  # type: ignore[union-attr]


def test_f4_state_folder_copied_beside_another_folder(folder: Folders, tmp_path: Path) -> None:
    a = folder("a", home="a-state")
    _seed(a, ["n1", "n2", "n3"])
    shutil.copytree(tmp_path / "a-state", tmp_path / "b-state")
    b = folder("b", home="b-state")
    _disk(b).write("b-only.md", NOTE.format("b-only"))
    report = b.sync()
    assert (report.deleted, report.created) == (0, 4)
    assert b.folder() is not None and a.folder() is not None
    assert b.folder().id != a.folder().id  # type: ignore[union-attr]
    assert tracked(a) == 3


def test_a_forgotten_folder_joins_again_without_deleting(folder: Folders) -> None:
    a, b = folder("a"), folder("b")
    _seed(a, ["n1", "n2", "n3", "n4", "n5", "n6"])
    _disk(b)
    assert b.sync().created == 6
    old = b.folder()
    assert old is not None
    forgotten = b.forget_folder(old.id[:6])
    assert forgotten.id == old.id and b.folder() is None
    assert b.store.count() == 6 and len(list(b.settings.root.glob("*.md"))) == 6
    for path in b.settings.root.glob("n[12].md"):
        path.unlink()  # deleted while forgotten: a join cannot know, so it restores them
    report = b.sync()
    assert (report.deleted, report.created) == (0, 2)
    assert b.folder() is not None and b.folder().id != old.id  # type: ignore[union-attr]


# -- F5: one folder emptied or unmounted ------------------------------------------------------


def test_f5_emptied_folder_is_refused_alone(folder: Folders, tmp_path: Path) -> None:
    a, b, c = folder("a"), folder("b"), folder("c")
    _seed(a, ["n1", "n2", "n3", "n4", "n5", "n6"])
    _disk(b), _disk(c)
    assert b.sync().created == 6 and c.sync().created == 6
    for path in (tmp_path / "b").glob("*.md"):
        path.unlink()
    with pytest.raises(RootUnavailableError):
        b.sync()
    shutil.rmtree(tmp_path / "c")  # unmounted
    with pytest.raises(RootUnavailableError):
        c.sync()
    with pytest.raises(RootUnavailableError):
        c.export()  # a known folder's missing root is never re-created
    assert a.store.count() == 6
    report = a.sync()
    assert (report.deleted, report.unchanged, report.created) == (0, 6, 0)
    assert len(list((tmp_path / "a").glob("*.md"))) == 6


# -- honest one-way runs ---------------------------------------------------------------------


def test_export_lists_what_it_leaves_alone_and_restores_on_request(folder: Folders) -> None:
    a = folder("a")
    _seed(a, ["gone", "changed", "kept"])
    disk = _disk(a)
    (a.settings.root / "gone.md").unlink()
    disk.edit("changed.md", "---\ntitle: changed\n---\nLocal edit.\n")
    report = a.export()
    assert report.unchanged == 1 and report.created == 0  # kept.md, and only it
    reasons = {item.path: item for item in report.left_alone}
    assert set(reasons) == {"gone.md", "changed.md"}
    assert "deleted in this folder" in reasons["gone.md"].reason
    assert "export --restore" in reasons["gone.md"].resolve
    assert "import" in reasons["changed.md"].resolve
    restored = a.export(restore=True)
    assert restored.created == 1 and disk.read("gone.md") == NOTE.format("gone").encode()
    assert disk.read("changed.md") == b"---\ntitle: changed\n---\nLocal edit.\n"


def test_import_lists_what_it_leaves_alone_and_restores_on_request(folder: Folders) -> None:
    a = folder("a")
    _seed(a, ["dropped", "agent", "kept"])
    a.delete_entity("note", "dropped")
    a.put_entity("note", "agent", text="---\ntitle: agent\n---\nAgent edit.\n")
    report = a.import_()
    assert report.unchanged == 1 and report.deleted == 0  # kept.md, and only it
    reasons = {item.path: item for item in report.left_alone}
    assert set(reasons) == {"dropped.md", "agent.md"}
    assert "deleted in the store" in reasons["dropped.md"].reason
    assert "export" in reasons["agent.md"].resolve
    restored = a.import_(restore=True)
    assert restored.created == 1 and a.get_entity("note", "dropped").content == "dropped body.\n"
    assert a.get_entity("note", "agent").content == "Agent edit.\n"


# -- jobs by folder --------------------------------------------------------------------------


def test_a_job_carries_its_folder_and_uses_it_as_its_lane(folder: Folders) -> None:
    a = folder("a")
    _seed(a, ["n1"])
    job_id = a.start("export")
    job = a.wait(job_id, timeout=60)
    here = a.folder()
    assert here is not None
    assert job.params["folder"] == here.id and job.directory_lock == here.id
    assert job.result is not None and job.result.unchanged == 1


def test_a_worker_on_another_host_runs_a_shared_folders_job(folder: Folders) -> None:
    laptop = folder("a", host="laptop", shared_folder=True)
    _seed(laptop, ["n1", "n2"])
    _disk(laptop).edit("n1.md", "---\ntitle: n1\n---\nEdited on the laptop.\n")
    job_id = laptop.start("sync", worker=False)
    server = folder("a", host="server")  # the same directory, reached through a shared mount
    job = server.wait(job_id, timeout=60)
    assert job.failure is None and job.result is not None and job.result.updated == 1
    assert [f.host for f in server.folders()] == ["laptop"]  # the server joined nothing
