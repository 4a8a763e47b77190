"""Folders through the CLI: two folders on one store, a restore, listing and forgetting."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cli_runner import SAMPLE, brainsync


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_two_folders_restore_list_and_forget(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "laptop")
    store = f"sqlite:///{tmp_path / 'brain.sqlite'}"
    laptop = ["--dir", "laptop", "--db", store]
    desktop = ["--dir", "desktop", "--db", store]
    assert brainsync(tmp_path, *laptop, "sync").returncode == 0

    restored = brainsync(tmp_path, *desktop, "export", "--json")
    assert restored.returncode == 0, restored.stderr
    report = json.loads(restored.stdout)
    assert (report["created"], report["deleted"], report["unchanged"]) == (6, 0, 0)
    assert _tree(tmp_path / "desktop") == _tree(tmp_path / "laptop")

    (tmp_path / "desktop" / "welcome.md").unlink()
    assert brainsync(tmp_path, *desktop, "sync").returncode == 0
    again = json.loads(brainsync(tmp_path, *laptop, "sync", "--json").stdout)
    assert again["deleted"] == 1 and not (tmp_path / "laptop" / "welcome.md").exists()

    listed = brainsync(tmp_path, *laptop, "folders", "--json")
    assert listed.returncode == 0, listed.stderr
    folders = json.loads(listed.stdout)
    paths = {f["path"]: f for f in folders["folders"]}
    assert set(paths) == {str(tmp_path / "laptop"), str(tmp_path / "desktop")}
    assert folders["this_folder"] == paths[str(tmp_path / "laptop")]["id"]
    assert all(f["tracked_files"] == 5 and f["last_run"] for f in folders["folders"])
    table = brainsync(tmp_path, *laptop, "folders")
    lines = table.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("* ") and "laptop" in lines[0]
    assert f"{tmp_path / 'desktop'}" in lines[1] and "5 files" in lines[1]

    desktop_id = paths[str(tmp_path / "desktop")]["id"]
    forgot = brainsync(tmp_path, *laptop, "folders", "forget", desktop_id[:6])
    assert forgot.returncode == 0, forgot.stderr
    assert "no entity or file was deleted" in forgot.stdout
    assert len(list((tmp_path / "desktop").rglob("*.md"))) == 5
    left = json.loads(brainsync(tmp_path, *laptop, "folders", "--json").stdout)["folders"]
    assert [f["path"] for f in left] == [str(tmp_path / "laptop")]
    unknown = brainsync(tmp_path, *laptop, "folders", "forget", "nope", "--json")
    assert unknown.returncode == 3
    assert json.loads(unknown.stdout)["error"]["type"] == "NotFoundError"


def test_export_lists_a_file_deleted_here_and_restores_it(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "brain-data")
    assert brainsync(tmp_path, "sync").returncode == 0
    (tmp_path / "brain-data" / "welcome.md").unlink()
    plain = brainsync(tmp_path, "export")
    assert plain.returncode == 0, plain.stderr
    assert "1 left alone" in plain.stdout and "export --restore" in plain.stdout
    assert "0 unchanged" not in plain.stdout or "5 unchanged" in plain.stdout
    assert not (tmp_path / "brain-data" / "welcome.md").exists()
    restored = json.loads(brainsync(tmp_path, "export", "--restore", "--json").stdout)
    assert restored["created"] == 1 and restored["left_alone"] == []
    assert (tmp_path / "brain-data" / "welcome.md").read_bytes() == (
        SAMPLE / "welcome.md"
    ).read_bytes()
