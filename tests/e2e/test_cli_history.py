"""`brainsync entity history|show|revert` as a user runs them (a subprocess, SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import brainsync


def test_history_show_and_revert(tmp_path: Path) -> None:
    (tmp_path / "brain-data").mkdir()
    for n in (1, 2):
        put = brainsync(tmp_path, "entity", "put", "note", "n", stdin=f"version {n}\n")
        assert put.returncode == 0, put.stderr
    listed = brainsync(tmp_path, "entity", "history", "note", "n", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["version"], r["writer"], r["deleted"]) for r in rows] == [
        (1, "api", False),
        (2, "api", False),
    ]
    text = brainsync(tmp_path, "entity", "history", "note", "n")
    first = text.stdout.splitlines()[0].split()
    assert (first[0], first[3], len(first[4])) == ("v1", "api", 12)  # version, when, who, hash
    old = brainsync(tmp_path, "entity", "show", "note", "n", "--version", "1")
    assert (old.returncode, old.stdout) == (0, "version 1\n")
    also = brainsync(tmp_path, "entity", "get", "note", "n", "--version", "1", "--json")
    assert json.loads(also.stdout)["version"] == 1
    reverted = brainsync(tmp_path, "entity", "revert", "note", "n", "--to", "1")
    assert (reverted.returncode, reverted.stdout) == (0, "note:n version 3\n")
    now = brainsync(tmp_path, "entity", "get", "note", "n")
    assert now.stdout == "version 1\n"
    missing = brainsync(tmp_path, "entity", "show", "note", "n", "--version", "9")
    assert missing.returncode != 0 and "no version 9" in missing.stderr


def test_versions_never_repeat_after_a_delete_and_each_is_reachable(tmp_path: Path) -> None:
    (tmp_path / "brain-data").mkdir()
    for text in ("one\n", "two\n"):
        assert brainsync(tmp_path, "entity", "put", "note", "n", stdin=text).returncode == 0
    assert brainsync(tmp_path, "entity", "delete", "note", "n").returncode == 0
    again = brainsync(tmp_path, "entity", "put", "note", "n", stdin="three\n")
    assert (again.returncode, again.stdout) == (0, "note:n version 3\n")
    rows = json.loads(brainsync(tmp_path, "entity", "history", "note", "n", "--json").stdout)
    assert [(r["version"], r["life"], r["deleted"]) for r in rows] == [
        (1, 1, False),
        (2, 1, False),
        (2, 1, True),
        (3, 2, False),
    ]
    lines = brainsync(tmp_path, "entity", "history", "note", "n").stdout.splitlines()
    assert lines[-1].startswith("v3 ") and "created again after a delete: life 2" in lines[-1]
    assert not any("created again" in line for line in lines[:-1])
    for version, text in ((1, "one\n"), (2, "two\n"), (3, "three\n")):
        shown = brainsync(tmp_path, "entity", "get", "note", "n", "--version", str(version))
        assert (shown.returncode, shown.stdout) == (0, text)
    reverted = brainsync(tmp_path, "entity", "revert", "note", "n", "--to", "1")
    assert (reverted.returncode, reverted.stdout) == (0, "note:n version 4\n")
    assert brainsync(tmp_path, "entity", "get", "note", "n").stdout == "one\n"
