"""Catalogue B12 (a full disk) and P2 (no note content leaks), through the command line.

Each test mounts a small tmpfs for the disk that fills (needs root: skipped elsewhere,
failed under ``CI=true``), plants a marker in the notes' bodies and frontmatter values,
and runs ``brainsync`` as a user does: a subprocess. The failing run must end at once
with exit 9 and one line naming the full disk; the marker must appear in no output, log
line or job store file; nothing half-written may stay; and the run after space is freed
finishes the work.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from disk import grep_tree, resize_disk, small_disk, temp_files

from brainsync.errors import DiskFullError
from cli_runner import brainsync

MARKER = "Zq7PRIVATEmarkerXk2"
#: A run that hangs fails the test long before pytest's own timeout.
RUN_TIMEOUT = 90


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``brainsync ARGS`` in a subprocess, without the test run's BRAINSYNC_* settings."""
    return brainsync(cwd, *args, timeout=RUN_TIMEOUT)


def write_notes(folder: Path, count: int, size: int) -> None:
    """``count`` notes of about ``size`` bytes, the marker in a frontmatter value and body."""
    folder.mkdir(parents=True, exist_ok=True)
    filler = "lorem ipsum " * (size // 12)
    for n in range(count):
        text = f"---\ntitle: {MARKER} title {n}\n---\n{MARKER} body {n}\n{filler}\n"
        (folder / f"note-{n:03d}.md").write_text(text, encoding="utf-8")


def assert_named_once(done: subprocess.CompletedProcess[str], where: str, path: Path) -> None:
    """Exit 9; stderr says which disk (with its path) in one line, no traceback, no note."""
    assert done.returncode == DiskFullError.exit_code, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, done.stderr
    assert "disk full" in lines[0] and where in lines[0] and str(path) in lines[0], lines[0]
    assert "Traceback" not in done.stderr
    assert MARKER not in done.stderr + done.stdout


def assert_no_leak(home: Path) -> None:
    """The marker is in no log line and no job store file (the entity store holds notes)."""
    leaked = [p for p in grep_tree(home, MARKER.encode()) if ".jobs." in p or p.endswith(".log")]
    assert leaked == []


def test_state_folder_full_during_sync(tmp_path: Path) -> None:
    folder = tmp_path / "brain"
    write_notes(folder, 300, 3000)
    with small_disk(tmp_path / "state", "1m") as home:
        args = ("--dir", str(folder), "--home", str(home))
        failed = cli(tmp_path, *args, "sync", "--json")
        assert_named_once(failed, "state folder", home)
        error = json.loads(failed.stdout)["error"]
        assert error["type"] == "DiskFullError" and error["exit_code"] == 9
        assert_no_leak(home)
        # again from scratch, with the tracebacks shown: still no note text anywhere
        for leftover in home.iterdir():
            leftover.unlink()
        verbose = cli(tmp_path, *args, "--verbose", "sync")
        assert verbose.returncode == DiskFullError.exit_code, verbose.stderr
        assert "could not apply changes" in verbose.stderr
        assert MARKER not in verbose.stderr + verbose.stdout
        assert_no_leak(home)
        assert temp_files(folder) == [] and temp_files(home) == []
        resize_disk(home, "64m")
        done = cli(tmp_path, *args, "sync", "--json")
        assert done.returncode == 0, done.stderr
        listed = cli(tmp_path, *args, "entity", "list")
        assert len(listed.stdout.splitlines()) == 300


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def store_url(backend: str, home: Path, request: pytest.FixtureRequest) -> str:
    """The test's PostgreSQL database, or a SQLite file in the state folder ``home``."""
    if backend == "postgresql":
        return str(request.getfixturevalue("empty_pg_url"))
    return f"sqlite:///{home / 'brain.sqlite'}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_synced_folder_full_during_export(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    source = tmp_path / "source"
    write_notes(source, 100, 3000)
    home = tmp_path / "state"
    db = store_url(backend, home, request)
    store = ("--db", db, "--home", str(home))
    assert cli(tmp_path, "--dir", str(source), *store, "import").returncode == 0
    with small_disk(tmp_path / "disk", "200k") as mount:
        target = mount / "notes"
        args = ("--dir", str(target), *store)
        failed = cli(tmp_path, *args, "export", "--json")
        assert_named_once(failed, "synced folder", target)
        job = json.loads(failed.stdout)["job_id"]
        shown = json.loads(cli(tmp_path, *args, "job", "show", job, "--json").stdout)
        assert shown["state"] == "failed"
        assert MARKER not in json.dumps(shown)
        assert temp_files(target) == []
        assert_no_leak(home)
        resize_disk(mount, "8m")
        done = cli(tmp_path, *args, "export", "--json")
        assert done.returncode == 0, done.stderr
        written = sorted(p.name for p in target.glob("*.md"))
        assert written == sorted(p.name for p in source.glob("*.md"))
        for name in written:
            assert (target / name).read_bytes() == (source / name).read_bytes()
        assert temp_files(target) == []


def refuse_writes(db: str) -> None:
    """Make every new entity row fail in the database, the way a broken store would."""
    if db.startswith("sqlite"):
        with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
            conn.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON entities "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        return
    import psycopg

    dsn = db.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        # PostgreSQL's DETAIL quotes the whole failing row: the note's text among it
        # NOT VALID: rows other tests left in the shared database stay; new ones fail
        conn.execute(
            "ALTER TABLE entities ADD CONSTRAINT refuse CHECK (length(content) < 0) NOT VALID"
        )


@pytest.mark.parametrize("backend", BACKENDS)
def test_store_error_and_bad_input_leak_no_note(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """P2: a store that refuses the rows, and a post whose frontmatter value is invalid."""
    folder = tmp_path / "brain"
    write_notes(folder, 5, 200)
    post = folder / "post" / "bad.md"
    post.parent.mkdir()
    post.write_text(f"---\ntitle: T\nstatus: {MARKER}\n---\n{MARKER}\n", encoding="utf-8")
    home = tmp_path / "state"
    db = store_url(backend, home, request)
    args = ("--dir", str(folder), "--db", db, "--home", str(home))
    seed = tmp_path / "seed.md"
    seed.write_text("seed\n", encoding="utf-8")
    made = cli(tmp_path, *args, "entity", "put", "note", "seed", "--file", str(seed))
    assert made.returncode == 0, made.stderr  # the store's tables exist (status makes none)
    refuse_writes(db)
    for extra in ((), ("--verbose",)):
        failed = cli(tmp_path, *args, *extra, "sync", "--json")
        assert failed.returncode == 6, failed.stderr  # StoreError
        assert MARKER not in failed.stdout + failed.stderr
        job = json.loads(failed.stdout)["job_id"]
        shown = cli(tmp_path, *args, "job", "show", job, "--json")
        assert MARKER not in shown.stdout + shown.stderr
    assert_no_leak(home)
    if backend == "postgresql":
        import psycopg

        dsn = db.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ALTER TABLE entities DROP CONSTRAINT refuse")
    else:
        with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
            conn.execute("DROP TRIGGER refuse")
    # the post's invalid status is reported without its value, in the output and the job
    done = cli(tmp_path, *args, "sync", "--json")
    assert done.returncode == 10, done.stderr
    assert "post/bad.md" in done.stdout and MARKER not in done.stdout + done.stderr
    assert_no_leak(home)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_state_folder_full_from_the_start_is_named(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    folder = tmp_path / "brain"
    write_notes(folder, 3, 100)
    with small_disk(tmp_path / "state", "2m") as home:
        filler = home / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            with pytest.raises(OSError):
                while True:
                    os.write(fd, b"x" * 4096)
        finally:
            os.close(fd)
        db = request.getfixturevalue("empty_pg_url") if backend == "postgresql" else None
        store = ("--db", db) if db else ()
        args = ("--dir", str(folder), "--home", str(home), *store)
        assert_named_once(cli(tmp_path, *args, "sync"), "state folder", home)
        assert sorted(p.name for p in home.iterdir() if p.name.endswith(".tmp")) == []
        filler.unlink()
        assert cli(tmp_path, *args, "sync").returncode == 0
