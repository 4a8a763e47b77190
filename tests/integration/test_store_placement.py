"""Which store default settings lead to (catalogue F6), and a read-only brain (S4).

Default store names follow the directory's name; the store that remembers the directory
(by device, inode and token) wins over the name. SQLite only: the rule is about files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from brainsync.app import Brain
from brainsync.config import Settings
from brainsync.errors import StoreError
from brainsync.placement import place_state


def _synced(tmp_path: Path, name: str, note: str) -> None:
    (tmp_path / name).mkdir()
    (tmp_path / name / f"{note}.md").write_text(f"---\ntitle: {note}\n---\n{note}\n")
    with Brain(Settings(directory=tmp_path / name)) as brain:
        assert brain.sync().created == 1


def test_two_folders_that_swapped_names_keep_their_own_stores(tmp_path: Path) -> None:
    _synced(tmp_path, "a", "from-a")
    _synced(tmp_path, "b", "from-b")
    (tmp_path / "a").rename(tmp_path / "swap")
    (tmp_path / "b").rename(tmp_path / "a")
    (tmp_path / "swap").rename(tmp_path / "b")

    with Brain(Settings(directory=tmp_path / "a")) as brain:
        assert brain.settings.store_url.endswith("/.brainsync/b.sqlite")
        assert brain.settings.jobs_url.endswith("/.brainsync/b.jobs.sqlite")
        report = brain.sync()
        assert (report.created, report.deleted, report.unchanged) == (0, 0, 1)
        assert "folder was renamed from 'b'" in report.notes[0]
        assert [e.id for e in brain.list_entities()] == ["from-b"]
    stores = {p.name for p in (tmp_path / ".brainsync").glob("*.sqlite")}
    assert stores == {"a.sqlite", "b.sqlite"}  # no third one


def test_a_second_store_of_the_folder_is_named_in_the_report(tmp_path: Path) -> None:
    _synced(tmp_path, "a", "from-a")
    (tmp_path / "a").rename(tmp_path / "b")
    # what an earlier release did after the rename: a new store under the new name
    second = f"sqlite:///{tmp_path / '.brainsync' / 'b.sqlite'}"
    with Brain(Settings(directory=tmp_path / "b", db=second)) as brain:
        brain.sync()
    with Brain(Settings(directory=tmp_path / "b")) as brain:
        assert brain.settings.store_url == second  # the store under its name is kept
        notes = brain.sync().notes
    assert any("a.sqlite also holds a sync state of this folder" in note for note in notes)


def test_explicit_and_untouched_settings_are_kept(tmp_path: Path) -> None:
    given = Settings(directory=tmp_path / "x", db=f"sqlite:///{tmp_path / 'mine.db'}")
    assert place_state(given).store_url == given.store_url
    fresh = Settings(directory=tmp_path / "new")
    placed = place_state(fresh)
    assert (placed.store_url, placed.jobs_url, placed.note) == (
        fresh.store_url,
        fresh.jobs_url,
        None,
    )
    assert not (tmp_path / ".brainsync").exists()


def test_a_read_only_brain_reads_an_empty_store_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    with Brain(Settings(directory=tmp_path / "notes"), read_only=True) as brain:
        assert brain.status().store_exists is False
        assert brain.list_entities() == [] and brain.folders() == []
        with pytest.raises(StoreError, match="readonly"):
            brain.put_entity("note", "x", text="---\ntitle: x\n---\nx\n")
    assert [p.name for p in tmp_path.iterdir()] == ["notes"]
