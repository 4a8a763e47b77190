"""Commands on one folder at once (catalogue C5): every one returns, no job is left queued.

A command that could not take the worker lock only enqueues and waits; when the process
that held the lock ends after its own job, the waiter must take the lock and run the job
itself. Before that, one pair in four of concurrent ``sync`` commands hung forever.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from job_cli import brainsync, jobs
from job_cli import start as _start

#: Per command: generous, a round's two or three commands take a few seconds together.
_ROUND_TIMEOUT = 90.0
#: The commands started at once, round after round; each round appends to a note first.
_SHAPES = [
    ("sync", "sync"),
    ("sync", "sync", "sync"),
    ("sync", "export"),
    ("sync", "import"),
]
_ROUNDS = 16


def _run(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return brainsync(tmp_path, *args, timeout=_ROUND_TIMEOUT, **extra)


def _finish_all(procs: list[subprocess.Popen[str]], what: str) -> None:
    """Every command returns within the timeout, successfully; a hung one fails the test."""
    deadline = time.monotonic() + _ROUND_TIMEOUT
    hung: list[str] = []
    for proc in procs:
        try:
            _, stderr = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
            hung.append(f"{proc.args!r} did not return: {stderr[-500:]}")
            continue
        assert proc.returncode == 0, f"{what}: {proc.args!r}: {stderr}"
    assert not hung, f"{what}: " + "; ".join(hung)


def _queued(tmp_path: Path, **extra: str) -> list[str]:
    return [str(job["id"]) for job in jobs(tmp_path, "--state", "queued", **extra)]


@pytest.mark.slow
@pytest.mark.timeout(_ROUNDS * _ROUND_TIMEOUT)
@pytest.mark.parametrize(
    ("backend", "rounds"),
    [("sqlite", _ROUNDS), pytest.param("postgres", _ROUNDS // 2, marks=pytest.mark.postgres)],
)
def test_concurrent_commands_on_one_folder_all_return(
    tmp_path: Path, sample: Path, backend: str, rounds: int, request: pytest.FixtureRequest
) -> None:
    extra = {}
    if backend == "postgres":  # the job store only: the entity store stays this folder's
        extra["BRAINSYNC_JOBS_DB"] = str(request.getfixturevalue("pg_url"))
    first = _run(tmp_path, "sync", **extra)
    assert first.returncode == 0, first.stderr
    note = next(sample.rglob("*.md"))
    for round_no in range(rounds):
        shape = _SHAPES[round_no % len(_SHAPES)]
        with note.open("a") as f:
            f.write(f"\nround {round_no}\n")
        procs = [_start(tmp_path, kind, **extra) for kind in shape]
        _finish_all(procs, f"round {round_no} {shape}")
    assert _queued(tmp_path, **extra) == []


@contextmanager
def _holding_the_worker_lock(tmp_path: Path) -> Iterator[None]:
    """Hold the worker lock as a live worker process would (its file exists after a run)."""
    (lock_path,) = tmp_path.rglob("worker-e2e-worker-*.lock")
    fd = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)  # releases the lock


def _wait_until_queued(tmp_path: Path, proc: subprocess.Popen[str]) -> str:
    while True:
        assert proc.poll() is None, proc.communicate()[1]
        queued = _queued(tmp_path)
        if queued:
            return queued[0]
        time.sleep(0.05)


def test_a_waiter_runs_its_job_once_the_worker_lock_frees(tmp_path: Path, sample: Path) -> None:
    assert _run(tmp_path, "sync").returncode == 0  # creates the lock file
    (sample / "new.md").write_text("a new note\n")
    with _holding_the_worker_lock(tmp_path):
        proc = _start(tmp_path, "sync", "--json")
        job_id = _wait_until_queued(tmp_path, proc)
    # the holder left without running it: the waiter must take the lock and run it
    _finish_all([proc], "sync after the lock freed")
    shown = json.loads(_run(tmp_path, "job", "show", job_id, "--json").stdout)
    assert shown["state"] == "succeeded"
    assert shown["result"]["created"] == 1


def test_ctrl_c_on_a_job_nobody_runs_says_it_is_still_queued(tmp_path: Path, sample: Path) -> None:
    assert _run(tmp_path, "sync").returncode == 0
    with _holding_the_worker_lock(tmp_path):
        proc = _start(tmp_path, "sync")
        job_id = _wait_until_queued(tmp_path, proc)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=_ROUND_TIMEOUT)
    assert proc.returncode == 130, stderr
    assert "the worker running it goes on" not in stderr
    assert f"job {job_id}. Nothing is lost: the job is still queued" in stderr
    assert f"brainsync job follow {job_id}" in stderr
