"""The folder registry on its own: which directory is which folder (catalogue F4).

The rules do not depend on the backend, so these run on SQLite only; the catalogue tests
run the same situations end to end on both backends.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from brainsync.app import Brain
from brainsync.config import Settings
from brainsync.errors import ConfigError, DiskFullError
from brainsync.store import FolderRecord, Store, open_store
from brainsync.sync.folders import FolderPlace, Folders


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'brain.db'}") as opened:
        yield opened


def place(path: Path, host: str = "laptop") -> FolderPlace:
    path.mkdir(exist_ok=True)
    return FolderPlace(host, path, path.name)


def edit_registry(home: Path, **changes: int | str) -> None:
    registry = home / "folders.json"
    data = json.loads(registry.read_text())
    for entry in data["folders"]:
        entry.update(changes)
    registry.write_text(json.dumps(data))


def test_the_same_directory_is_the_same_folder(tmp_path: Path, store: Store) -> None:
    folders = Folders(store, tmp_path / "state")
    first = folders.join(place(tmp_path / "notes"))
    assert first.note is None
    again = folders.join(place(tmp_path / "notes"))
    assert again.folder.id == first.folder.id and again.note is None
    assert folders.find(place(tmp_path / "notes")) == again.folder


def test_find_never_registers(tmp_path: Path, store: Store) -> None:
    folders = Folders(store, tmp_path / "state")
    assert folders.find(place(tmp_path / "notes")) is None
    assert store.list_folders() == []
    assert not (tmp_path / "state" / "folders.json").exists()


def test_another_file_system_at_the_same_path_is_a_new_folder(tmp_path: Path, store: Store) -> None:
    folders = Folders(store, tmp_path / "state")
    first = folders.join(place(tmp_path / "notes"))
    # as if another disk were mounted there: the same inode number on another device
    edit_registry(tmp_path / "state", device=os.stat(tmp_path / "notes").st_dev + 1)
    assert folders.find(place(tmp_path / "notes")) is None
    second = folders.join(place(tmp_path / "notes"))
    assert second.folder.id != first.folder.id
    assert second.note is not None and "not the directory" in second.note


def test_another_host_with_the_same_path_is_a_new_folder(tmp_path: Path, store: Store) -> None:
    folders = Folders(store, tmp_path / "state")
    first = folders.join(place(tmp_path / "notes", host="laptop"))
    other = folders.join(place(tmp_path / "notes", host="desktop"))
    assert other.folder.id != first.folder.id
    assert {f.host for f in store.list_folders()} == {"laptop", "desktop"}


def test_another_store_never_sees_this_registry_entry(tmp_path: Path, store: Store) -> None:
    Folders(store, tmp_path / "state").join(place(tmp_path / "notes"))
    with open_store(f"sqlite:///{tmp_path / 'other.db'}") as other:
        joined = Folders(other, tmp_path / "state").join(place(tmp_path / "notes"))
        assert [f.id for f in other.list_folders()] == [joined.folder.id]
    assert len(json.loads((tmp_path / "state" / "folders.json").read_text())["folders"]) == 2


def test_a_moved_folder_keeps_its_id_and_its_new_path(tmp_path: Path, store: Store) -> None:
    folders = Folders(store, tmp_path / "state")
    first = folders.join(place(tmp_path / "notes"))
    (tmp_path / "notes").rename(tmp_path / "moved")
    moved = folders.join(FolderPlace("laptop", tmp_path / "moved", "moved"))
    assert moved.folder.id == first.folder.id
    assert (moved.folder.path, moved.folder.label) == (str(tmp_path / "moved"), "moved")
    assert moved.note is not None and "moved from" in moved.note


def test_a_broken_registry_is_a_clear_error(tmp_path: Path, store: Store) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "folders.json").write_text("{not json")
    with pytest.raises(ConfigError, match="folder registry"):
        Folders(store, tmp_path / "state").find(place(tmp_path / "notes"))


def test_a_directory_made_anew_at_the_same_path_is_a_new_folder(
    tmp_path: Path, store: Store
) -> None:
    folders = Folders(store, tmp_path / "state")
    first = folders.join(place(tmp_path / "notes"))
    (tmp_path / "notes").rmdir()
    (tmp_path / "notes").mkdir()  # ext4 hands the freed inode number out again at once
    assert folders.find(place(tmp_path / "notes")) is None
    second = folders.join(place(tmp_path / "notes"))
    assert second.folder.id != first.folder.id and second.note is not None


def test_a_new_directory_with_a_reused_inode_is_not_a_moved_folder(
    tmp_path: Path, store: Store
) -> None:
    folders = Folders(store, tmp_path / "state")
    first = folders.join(place(tmp_path / "notes"))
    (tmp_path / "notes").rmdir()
    (tmp_path / "other").mkdir()
    other = folders.join(FolderPlace("laptop", tmp_path / "other", "other"))
    assert other.folder.id != first.folder.id and other.note is None


def test_schema1_state_is_adopted_by_one_folder_only(tmp_path: Path, store: Store) -> None:
    store.add_folder(FolderRecord("legacy", "unclaimed", "", "", datetime.now(UTC)))
    assert store.claim_folder("legacy", "a", "laptop", "/a", only_unclaimed=True)
    assert not store.claim_folder("legacy", "b", "desktop", "/b", only_unclaimed=True)
    assert [(f.host, f.path) for f in store.list_folders()] == [("laptop", "/a")]


def test_one_directory_by_two_spellings_is_one_folder(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'spellings.db'}"
    (tmp_path / "vault").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "vault")
    (tmp_path / "sub").mkdir()
    ids = set()
    for spelling in (tmp_path / "vault", tmp_path / "link", tmp_path / "sub" / ".." / "vault"):
        settings = Settings(directory=spelling, home=tmp_path / "state", db=store_url)
        with Brain(settings) as brain:
            ids.add(brain.join_folder().folder.id)
    assert len(ids) == 1


def test_a_full_disk_leaves_no_half_written_registry(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """B12: the registry's temp file is removed and the full state folder is named."""
    home = tmp_path / "state"
    real_replace = os.replace

    def full(src: str, dst: str) -> None:
        if str(dst).endswith("folders.json"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(DiskFullError, match="state folder") as raised:
        Folders(store, home).join(place(tmp_path / "notes"))
    assert str(home) in str(raised.value)
    assert sorted(p.name for p in home.iterdir()) == ["folders.lock"]
