"""Catalogue K1: a worker process killed with SIGKILL mid-job; the job resumes elsewhere.

The end state is compared with an uninterrupted run of the same job: the whole folder,
hidden files and sub-folders included, so no litter of the killed worker goes unseen.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jobs_fakeop import factory, read_log

from brainsync.jobs import JobService, JobState

Open = Callable[..., JobService]
Work = Callable[..., dict[str, Any]]
WORKER = Path(__file__).with_name("jobs_worker_main.py")


@pytest.fixture
def spawn(system_db_url: str) -> Iterator[Callable[[str], subprocess.Popen[str]]]:
    """Start worker processes on the test's database; kill leftovers at teardown."""
    started: list[subprocess.Popen[str]] = []

    def spawn_(executor_id: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), system_db_url, executor_id],
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        return proc

    yield spawn_
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def kill_after(service: JobService, job_id: str, chunks: int, proc: subprocess.Popen[str]) -> None:
    """SIGKILL ``proc`` once the job has finished ``chunks`` chunks."""
    end = time.monotonic() + 30
    while service.status(job_id).progress.current < chunks:
        assert time.monotonic() < end, "the worker made no progress"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def tree(root: Path) -> dict[str, bytes | None]:
    """Everything under ``root``: files with their bytes, folders (None), dot ones too."""
    found: dict[str, bytes | None] = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        found.update((str((here / name).relative_to(root)), None) for name in dirs)
        found.update((str((here / n).relative_to(root)), (here / n).read_bytes()) for n in files)
    return found


def uninterrupted(params: dict[str, Any]) -> dict[str, bytes | None]:
    """The folder the same job leaves when nothing kills it (run inline, no pauses)."""
    root = Path(params["root"]).with_name(Path(params["root"]).name + "-uninterrupted")
    root.mkdir()
    log = root.with_suffix(".log")
    operation = factory("fake", {**params, "root": str(root), "log": str(log), "sleep": 0})
    for chunk in operation.plan():
        operation.run_chunk(chunk)
    return tree(root)


def check_resumed(params: dict[str, Any], first_pid: int, items: int) -> None:
    """Every chunk done, none lost, and no finished chunk redone after the crash."""
    log = read_log(Path(params["log"]))
    ended_before = {index for pid, what, _, index, _ in log if pid == first_pid and what == "end"}
    started_after = {index for pid, what, _, index, _ in log if pid != first_pid}
    ended = {index for _, what, _, index, _ in log if what == "end"}
    assert ended == set(range(items)), "a chunk was lost"
    assert ended_before and started_after, "the crash did not split the job"
    redone = ended_before & started_after
    # Only the chunk in flight (done, but not yet checkpointed) may run again.
    assert redone <= {max(ended_before)}
    assert min(started_after) >= max(ended_before)
    expected = uninterrupted(params)
    assert expected == {f"item-{n}.md": f"item {n}\n".encode() for n in range(items)}
    assert tree(Path(params["root"])) == expected


@pytest.mark.slow
def test_killed_worker_resumes_with_the_same_executor_id(
    open_service: Open, work: Work, spawn: Callable[[str], subprocess.Popen[str]]
):
    service = open_service(start_worker=False)
    params = work(items=30, sleep=0.1)  # long enough that the kill always lands mid-job
    first = spawn("w1")
    job_id = service.enqueue("fake", params, lane="/crash")
    kill_after(service, job_id, 8, first)
    assert service.status(job_id).state is JobState.RUNNING

    spawn("w1")
    job = service.wait(job_id, timeout=60)

    assert job.state is JobState.SUCCEEDED and job.result is not None
    assert job.result.created == 30
    check_resumed(params, first.pid, 30)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["recover", "resume"])
def test_dead_workers_jobs_are_recovered_by_another_worker(
    open_service: Open, work: Work, spawn: Callable[[str], subprocess.Popen[str]], how: str
):
    service = open_service(start_worker=False, deadline_seconds=0.2)
    params = work(items=12, sleep=0.2)  # long enough that the kill always lands mid-job
    first = spawn("dead-host")
    job_id = service.enqueue("fake", params, lane="/crash")
    kill_after(service, job_id, 4, first)

    open_service(start_worker=True, executor_id="other-host")
    if how == "recover":
        assert service.recover("dead-host") == [job_id]
    else:
        # The supported path for one job: it shows as stalled, then resume() reclaims it.
        deadline = time.monotonic() + 20
        while not service.status(job_id).stalled:
            assert time.monotonic() < deadline, "never reported stalled"
            time.sleep(0.02)
        service.resume(job_id)
    assert service.recover("dead-host") == [], "a second recovery is a no-op"
    job = service.wait(job_id, timeout=60)

    assert job.state is JobState.SUCCEEDED
    check_resumed(params, first.pid, 12)
