"""Where the state lives, through the CLI: a renamed folder keeps its store, a folder moved
away from its state folder is refused, and a command with nothing to store creates nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli_runner import SAMPLE, brainsync

NOTE = "---\ntitle: Via the API\n---\nwritten through the CLI, not a file\n"


def _tree(root: Path) -> set[str]:
    """Every path under ``root`` (hidden ones too), relative."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def _synced_notes(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "notes")
    first = brainsync(tmp_path, "--dir", "notes", "sync")
    assert first.returncode == 0, first.stderr
    put = brainsync(tmp_path, "--dir", "notes", "entity", "put", "note", "api-only", stdin=NOTE)
    assert put.returncode == 0, put.stderr


def test_a_renamed_folder_keeps_its_store_and_its_history(tmp_path: Path) -> None:
    _synced_notes(tmp_path)
    state = tmp_path / ".brainsync"
    before = _tree(state)
    (tmp_path / "notes").rename(tmp_path / "notes2")

    synced = brainsync(tmp_path, "--dir", "notes2", "sync", "--json")
    assert synced.returncode == 0, synced.stderr
    report = json.loads(synced.stdout)
    assert any("renamed from 'notes'" in note for note in report["notes"]), report["notes"]
    assert report["created"] == 1 and report["deleted"] == 0  # the API's entity, as a file
    assert [p.name for p in (tmp_path / "notes2").rglob("api-only.md")] == ["api-only.md"]

    got = brainsync(tmp_path, "--dir", "notes2", "entity", "get", "note", "api-only")
    assert got.returncode == 0 and got.stdout == NOTE, got.stderr
    history = brainsync(tmp_path, "--dir", "notes2", "entity", "history", "note", "api-only")
    assert history.returncode == 0 and "api" in history.stdout.splitlines()[0]
    jobs = json.loads(brainsync(tmp_path, "--dir", "notes2", "jobs", "--json").stdout)
    assert len(jobs) == 2  # the first sync's job is still listed: the job store followed too
    # no second store: the state folder holds what it held (files of one run come and go)
    assert not {p for p in _tree(state) - before if p.endswith(".sqlite")}
    assert not (state / "notes2.sqlite").exists()
    assert not (state / "notes2.jobs.sqlite").exists()


def test_a_folder_moved_to_another_parent_keeps_its_store(tmp_path: Path) -> None:
    _synced_notes(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "notes").rename(tmp_path / "elsewhere" / "notes2")
    state = tmp_path / ".brainsync"
    before = _tree(state)

    synced = brainsync(tmp_path, "--dir", "elsewhere/notes2", "sync", "--json")
    assert synced.returncode == 0, synced.stderr
    report = json.loads(synced.stdout)
    assert report["deleted"] == 0 and report["created"] == 1  # the API's entity, as a file
    assert any(f"moved away from its state folder {state}" in n for n in report["notes"])
    got = brainsync(tmp_path, "--dir", "elsewhere/notes2", "entity", "get", "note", "api-only")
    assert got.returncode == 0 and got.stdout == NOTE, got.stderr
    status = json.loads(brainsync(tmp_path, "--dir", "elsewhere/notes2", "status", "--json").stdout)
    assert status["store"] == f"sqlite:///{state / 'notes.sqlite'}" and status["entities"] == 7
    # no state folder and no empty store beside it; none added to the old one either
    assert not (tmp_path / "elsewhere" / ".brainsync").exists()
    assert not {p for p in _tree(state) - before if p.endswith(".sqlite")}


def test_a_folder_whose_state_folder_is_gone_says_a_new_store_starts(tmp_path: Path) -> None:
    _synced_notes(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "notes").rename(tmp_path / "elsewhere" / "notes")
    shutil.rmtree(tmp_path / ".brainsync")  # a reset, or a state folder moved who knows where

    synced = brainsync(tmp_path, "--dir", "elsewhere/notes", "sync", "--json")
    assert synced.returncode == 0, synced.stderr
    notes = json.loads(synced.stdout)["notes"]
    assert any("which is gone: a new store starts here" in n for n in notes), notes
    again = json.loads(brainsync(tmp_path, "--dir", "elsewhere/notes", "sync", "--json").stdout)
    assert not any("gone" in n for n in again["notes"])  # said once, when it happened


def test_an_existing_store_under_the_directory_name_keeps_being_used(tmp_path: Path) -> None:
    _synced_notes(tmp_path)
    listed = brainsync(tmp_path, "--dir", "notes", "status", "--json")
    status = json.loads(listed.stdout)
    assert status["store"] == f"sqlite:///{tmp_path / '.brainsync' / 'notes.sqlite'}"
    assert status["store_exists"] is True and status["entities"] == 7


READ_ONLY = [
    ["status"],
    ["status", "--json"],
    ["status", "--pending"],
    ["status", "--pending", "--json"],
    ["status", "--ignored"],
    ["jobs"],
    ["jobs", "--json"],
    ["job", "show", "0123abcd"],
    ["hosts"],
    ["folders"],
    ["folders", "--json"],
    ["entity", "get", "note", "welcome"],
    ["entity", "list"],
    ["entity", "history", "note", "welcome"],
    ["sync", "--dry-run"],
    ["sync", "--dry-run", "--json"],
    ["import", "--dry-run"],
]


@pytest.mark.parametrize("with_folder", [True, False], ids=["folder", "no-folder"])
def test_read_only_commands_create_nothing(tmp_path: Path, with_folder: bool) -> None:
    if with_folder:
        shutil.copytree(SAMPLE, tmp_path / "brain-data")
    before = _tree(tmp_path)
    for command in READ_ONLY:
        done = brainsync(tmp_path, *command)
        assert done.returncode in (0, 3, 5), (command, done.stderr)
        assert "internal error" not in done.stderr, (command, done.stderr)
        assert _tree(tmp_path) == before, command
    status = json.loads(brainsync(tmp_path, "status", "--json").stdout)
    assert status["store_exists"] is False and status["entities"] == 0
    text = brainsync(tmp_path, "status").stdout
    assert "no store yet" in text


@pytest.mark.parametrize(
    "command",
    [
        ["--dir", "missing", "sync"],
        ["--dir", "missing", "sync", "--json"],
        ["--dir", "missing", "import"],
        ["--dir", "missing", "sync", "--no-wait"],
        ["--dir", "a-file", "sync"],
        ["--dir", "a-file", "export"],
    ],
)
def test_a_refused_run_creates_nothing(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "a-file").write_text("not a folder\n", encoding="utf-8")
    before = _tree(tmp_path)
    done = brainsync(tmp_path, *command)
    assert done.returncode == 5, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert ("does not exist" in done.stderr) != ("not a folder" in done.stderr)
    if "--json" in command:
        assert json.loads(done.stdout)["error"]["type"] == "RootUnavailableError"
    assert _tree(tmp_path) == before
