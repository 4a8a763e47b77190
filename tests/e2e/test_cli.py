"""The CLI as a user runs it: a subprocess, real files, a real SQLite store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli_runner import SAMPLE, brainsync


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLE, tmp_path / "brain-data")
    return tmp_path / "brain-data"


def test_sync_then_status(tmp_path: Path, sample: Path) -> None:
    first = brainsync(tmp_path, "sync", "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert {
        "created",
        "updated",
        "deleted",
        "moved",
        "unchanged",
        "conflicts",
        "skipped",
        "errors",
    } <= set(report)
    assert report["created"] == 6 and report["errors"] == []
    assert (tmp_path / ".brainsync" / "brain-data.sqlite").is_file()
    status = json.loads(brainsync(tmp_path, "status", "--json").stdout)
    assert status["counts"] == {"note": 4, "post": 2}
    # from stored facts: no scan ran, so nothing is claimed about pending changes
    assert status["pending"] is None and status["last_scan"] is None
    assert "sync" in status["last_runs"]
    assert status["jobs"][0]["kind"] == "sync" and status["jobs"][0]["state"] == "succeeded"
    scanned = json.loads(brainsync(tmp_path, "status", "--pending", "--json").stdout)
    assert scanned["pending"]["unchanged"] == 6
    again = json.loads(brainsync(tmp_path, "status", "--json").stdout)
    assert again["pending"] is None and again["last_scan"]["report"]["unchanged"] == 6
    assert "pending as of the last scan" in brainsync(tmp_path, "status").stdout
    human = brainsync(tmp_path, "sync")
    assert human.returncode == 0
    assert "0 created, 0 updated, 0 deleted, 0 moved, 6 unchanged" in human.stdout
    # a real run since the scan makes it out of date: it is no longer shown
    assert json.loads(brainsync(tmp_path, "status", "--json").stdout)["last_scan"] is None


def test_entity_commands_and_export(tmp_path: Path, sample: Path) -> None:
    doc = "---\ntitle: From the CLI\ntags: [cli]\n---\nBody text.\n"
    put = brainsync(tmp_path, "entity", "put", "post", "cli:first", stdin=doc)
    assert put.returncode == 0, put.stderr
    assert "version 1" in put.stdout
    got = brainsync(tmp_path, "entity", "get", "post", "cli:first")
    assert got.stdout == doc
    listed = json.loads(brainsync(tmp_path, "entity", "list", "--type", "post", "--json").stdout)
    assert [row["id"] for row in listed] == ["cli:first"]
    exported = brainsync(tmp_path, "export", "--json")
    assert json.loads(exported.stdout)["created"] == 1
    assert (sample / "post" / "cli" / "first.md").read_text() == doc
    assert brainsync(tmp_path, "entity", "delete", "post", "cli:first").returncode == 0
    brainsync(tmp_path, "export")
    assert not (sample / "post" / "cli" / "first.md").exists()


def test_invalid_file_reports_and_exits_10(tmp_path: Path, sample: Path) -> None:
    (sample / "broken.md").write_text("---\ntitle: [unclosed\n---\nbody\n")
    (sample / "post" / "untitled.md").write_text("---\ntags: [x]\n---\nno title\n")
    result = brainsync(tmp_path, "import", "--json")
    assert result.returncode == 10
    report = json.loads(result.stdout)
    assert sorted(e["path"] for e in report["errors"]) == ["broken.md", "post/untitled.md"]
    assert report["created"] == 6
    assert (sample / "broken.md").exists()


def test_safety_refusal_exit_code(tmp_path: Path, sample: Path) -> None:
    assert brainsync(tmp_path, "sync").returncode == 0
    for path in sample.rglob("*.md"):
        path.unlink()
    result = brainsync(tmp_path, "sync")
    assert result.returncode == 5
    assert "--force-deletes" in result.stderr
    assert json.loads(brainsync(tmp_path, "status", "--json").stdout)["counts"] == {
        "note": 4,
        "post": 2,
    }


def test_settings_from_environment_and_errors(tmp_path: Path, sample: Path) -> None:
    shutil.move(sample, tmp_path / "elsewhere")
    env = {"BRAINSYNC_DIR": "elsewhere", "BRAINSYNC_HOME": "state"}
    assert brainsync(tmp_path, "sync", env=env).returncode == 0
    assert (tmp_path / "state" / "elsewhere.sqlite").is_file()
    unknown = brainsync(tmp_path, "entity", "get", "nosuchtype", "x", env=env)
    assert unknown.returncode == 2
    assert "unknown entity type" in unknown.stderr
    missing = brainsync(tmp_path, "entity", "get", "note", "nope", env=env)
    assert missing.returncode == 3
    bad_config = brainsync(tmp_path, "sync", env={**env, "BRAINSYNC_CONFLICT_POLICY": "newest"})
    assert bad_config.returncode == 8


#: The CLI as the console script runs it; at exit, whether it imported rich.
RICH_AT_EXIT = """
import atexit, sys
atexit.register(lambda: sys.stderr.write(f"rich imported: {'rich' in sys.modules}\\n"))
from brainsync.interfaces.entry import main
sys.argv[0] = "brainsync"
main()
"""


def test_commands_that_print_lines_never_import_rich(tmp_path: Path, sample: Path) -> None:
    """Rich costs about 35 ms; only a table or a progress bar on a terminal needs it."""
    commands = [
        ("sync",),
        ("sync", "--dry-run"),
        ("export", "--no-wait"),
        ("jobs",),
        ("entity", "list"),
        ("folders",),
    ]
    for args in commands:
        result = brainsync(tmp_path, *args, code=RICH_AT_EXIT)
        assert result.returncode == 0, (args, result.stderr)
        assert "rich imported: False" in result.stderr, args
        if "--dry-run" in args:  # the report marks a run that changed nothing
            assert result.stdout.startswith("sync (dry run): "), result.stdout
    # the status view draws a table: the same check sees rich there
    status = brainsync(tmp_path, "status", code=RICH_AT_EXIT)
    assert "rich imported: True" in status.stderr and "┃" in status.stdout
