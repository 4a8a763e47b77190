"""What a user sees when a command fails: a line or two, the exit code, JSON with --json."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cli_runner import SAMPLE, brainsync

#: Runs the CLI with ``Brain.status`` broken, to stand for a bug anywhere below the CLI.
BROKEN_STATUS = """
import sys
import brainsync.app
from brainsync.interfaces.cli import main

def broken(self, **options):
    raise RuntimeError("boom")

brainsync.app.Brain.status = broken
sys.argv[0] = "brainsync"
main()
"""


@pytest.fixture
def synced(tmp_path: Path) -> Path:
    """The sample directory, synced once."""
    shutil.copytree(SAMPLE, tmp_path / "brain-data")
    assert brainsync(tmp_path, "sync").returncode == 0
    return tmp_path / "brain-data"


def assert_short(result: subprocess.CompletedProcess[str], exit_code: int) -> None:
    assert result.returncode == exit_code, result.stderr
    assert len(result.stderr.splitlines()) <= 2, result.stderr
    assert "Traceback" not in result.stderr


def error_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    reply = json.loads(result.stdout)  # exactly one JSON document, or this raises
    assert isinstance(reply, dict) and set(reply["error"]) == {"type", "message", "exit_code"}
    return reply


def test_mass_delete_refusal(tmp_path: Path, synced: Path) -> None:
    for path in sorted(synced.rglob("*.md"))[1:]:
        path.unlink()
    result = brainsync(tmp_path, "sync", "--json")
    assert_short(result, 5)
    reply = error_of(result)
    assert reply["error"]["type"] == "MassDeleteError"
    assert reply["error"]["exit_code"] == 5
    assert "--force-deletes" in reply["error"]["message"]
    assert reply["error"]["message"] in result.stderr
    shown = json.loads(brainsync(tmp_path, "job", "show", reply["job_id"], "--json").stdout)
    assert shown["state"] == "failed" and "MassDeleteError" in shown["error"]
    log = (tmp_path / ".brainsync" / "brainsync.log").read_text(encoding="utf-8")
    assert "Traceback" in log and "MassDeleteError" in log


def test_empty_root_refusal(tmp_path: Path, synced: Path) -> None:
    for path in synced.rglob("*.md"):
        path.unlink()
    human = brainsync(tmp_path, "sync")
    assert_short(human, 5)
    assert "--force-deletes" in human.stderr and human.stdout == ""
    verbose = brainsync(tmp_path, "--verbose", "sync", "--json")
    assert verbose.returncode == 5
    assert "Traceback" in verbose.stderr and "RootUnavailableError" in verbose.stderr
    reply = error_of(verbose)
    assert reply["error"]["type"] == "RootUnavailableError" and reply["job_id"]


def test_not_found_is_exit_3_and_json(tmp_path: Path) -> None:
    result = brainsync(tmp_path, "entity", "get", "note", "nope", "--json")
    assert_short(result, 3)
    assert error_of(result) == {
        "error": {"type": "NotFoundError", "message": "no entity note:nope", "exit_code": 3}
    }
    job = brainsync(tmp_path, "job", "show", "no-such-job", "--json")
    assert_short(job, 3)
    assert error_of(job)["error"]["type"] == "NotFoundError"


@pytest.mark.parametrize("args", [("nosuch",), ("entity", "history"), ("sync", "--bogus")])
def test_mistyped_command_is_a_usage_error(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = brainsync(tmp_path, *args)
    assert result.returncode == 2, result.stderr
    assert "Usage:" in result.stderr and "Traceback" not in result.stderr


def test_a_bug_is_one_line_unless_verbose(tmp_path: Path) -> None:
    result = brainsync(tmp_path, "status", "--json", code=BROKEN_STATUS)
    assert_short(result, 1)
    assert result.stderr.splitlines() == [
        "error: internal error: RuntimeError: boom (run with --verbose for the traceback)"
    ]
    assert error_of(result)["error"] == {"type": "RuntimeError", "message": "boom", "exit_code": 1}
    verbose = brainsync(tmp_path, "--verbose", "status", code=BROKEN_STATUS)
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr and "in broken" in verbose.stderr


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_refusal_with_a_postgres_store_and_a_second_folder(tmp_path: Path, store_url: str) -> None:
    """M4 on PostgreSQL: folder B is emptied and refused; folder A is untouched."""
    db = ["--db", store_url.replace("+psycopg", "")]
    shutil.copytree(SAMPLE, tmp_path / "a")
    assert brainsync(tmp_path, "--dir", "a", *db, "sync").returncode == 0
    assert brainsync(tmp_path, "--dir", "b", *db, "export").returncode == 0
    for path in (tmp_path / "b").rglob("*.md"):
        path.unlink()
    result = brainsync(tmp_path, "--dir", "b", *db, "sync", "--json")
    assert_short(result, 5)
    reply = error_of(result)
    assert reply["error"]["type"] == "RootUnavailableError" and reply["job_id"]
    again = json.loads(brainsync(tmp_path, "--dir", "a", *db, "sync", "--json").stdout)
    assert (again["deleted"], again["unchanged"]) == (0, 6)
