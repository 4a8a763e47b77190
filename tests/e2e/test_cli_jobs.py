"""Job commands through the CLI: --no-wait, follow, show, list, cancel, worker, Ctrl-C."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from job_cli import brainsync
from job_cli import folder_env as _env
from job_cli import start as _start


def _wait_for_worker_lock(proc: subprocess.Popen[str], tmp_path: Path) -> None:
    """Until ``proc`` holds the worker lock: it is about to open the job store and run jobs."""
    # one lock per executor id and job store: this directory's is the only one here
    state = tmp_path / ".brainsync"

    def held() -> bool:
        locks = list(state.glob("worker-e2e-worker-*.lock"))
        return any(lock.read_text().strip() == str(proc.pid) for lock in locks)

    while not held():
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(0.05)


@pytest.fixture
def worker(tmp_path: Path, sample: Path) -> Iterator[subprocess.Popen[str]]:
    proc = _start(tmp_path, "worker", "--concurrency", "2")
    _wait_for_worker_lock(proc, tmp_path)
    yield proc
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "worker stopped" in stderr


def test_no_wait_then_follow_and_show(tmp_path: Path, sample: Path) -> None:
    queued = brainsync(tmp_path, "sync", "--no-wait", "--json")
    assert queued.returncode == 0, queued.stderr
    job_id = json.loads(queued.stdout)["job_id"]
    listed = json.loads(brainsync(tmp_path, "jobs", "--json", "--state", "queued").stdout)
    assert [job["id"] for job in listed] == [job_id]
    followed = brainsync(tmp_path, "job", "follow", job_id, "--json")
    assert followed.returncode == 0, followed.stderr
    assert json.loads(followed.stdout)["created"] == 6
    shown = json.loads(brainsync(tmp_path, "job", "show", job_id, "--json").stdout)
    assert shown["state"] == "succeeded"
    assert shown["progress"]["current"] == shown["progress"]["total"] == 6
    assert shown["result"]["created"] == 6
    human = brainsync(tmp_path, "jobs")
    assert job_id in human.stdout and "succeeded" in human.stdout


def test_cancel_a_queued_job(tmp_path: Path, sample: Path) -> None:
    job_id = brainsync(tmp_path, "export", "--no-wait").stdout.strip()
    cancelled = brainsync(tmp_path, "job", "cancel", job_id, "--json")
    assert json.loads(cancelled.stdout)["state"] == "cancelled"
    assert brainsync(tmp_path, "job", "show", job_id, "--json").returncode == 0
    missing = brainsync(tmp_path, "job", "show", "no-such-job")
    assert missing.returncode == 3


def test_a_live_worker_runs_what_the_cli_enqueues(
    tmp_path: Path, worker: subprocess.Popen[str]
) -> None:
    result = brainsync(tmp_path, "sync", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["created"] == 6
    second = brainsync(tmp_path, "worker")
    assert second.returncode == 7
    assert "already runs here" in second.stderr
    status = json.loads(brainsync(tmp_path, "status", "--json").stdout)
    assert status["jobs"][0]["state"] == "succeeded"


#: ``brainsync ARGS`` with SIGINT ignored, as a script's background command (or a test run
#: started as one) gets it; exec keeps the process id.
_SIGINT_IGNORED = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, '-m', 'brainsync', *sys.argv[1:]])"
)


def _newest_job(tmp_path: Path) -> dict[str, Any] | None:
    listed = brainsync(tmp_path, "jobs", "--json")
    jobs = json.loads(listed.stdout) if listed.returncode == 0 and listed.stdout else []
    return jobs[0] if jobs else None


def _running_with_work_left(job: dict[str, Any] | None) -> bool:
    """Running, past its first chunk, and two chunks (a pause before each) still to go."""
    if job is None or job["state"] != "running":
        return False
    return 0 < job["progress"]["current"] <= job["progress"]["total"] - 20


def _interrupt_while_running(proc: subprocess.Popen[str], tmp_path: Path) -> dict[str, Any]:
    """SIGINT to ``proc`` while its job runs with work left; returns the job as it was.

    ``proc`` runs the job itself, and is stopped (SIGSTOP) for the last look: the job
    cannot move on between that look and the interrupt, however slow this machine is.
    """
    while True:
        assert proc.poll() is None, proc.communicate()[1]
        if _running_with_work_left(_newest_job(tmp_path)):
            proc.send_signal(signal.SIGSTOP)
            job = _newest_job(tmp_path)  # None also when proc was stopped in a write
            if _running_with_work_left(job):
                assert job is not None
                proc.send_signal(signal.SIGINT)
                proc.send_signal(signal.SIGCONT)
                return job
            proc.send_signal(signal.SIGCONT)
        time.sleep(0.05)


def test_ctrl_c_while_following_loses_nothing(tmp_path: Path, sample: Path) -> None:
    (sample / "bulk").mkdir()
    for i in range(300):
        (sample / "bulk" / f"{i:03d}.md").write_text(f"note {i}\n")
    # 31 chunks of 10 with a pause before each; the follower runs the job in its process,
    # and starts with SIGINT ignored: Ctrl-C must reach it anyway
    env = _env(tmp_path, BRAINSYNC_CHUNK_SIZE="10", BRAINSYNC_CHUNK_PAUSE_SECONDS="0.5")
    proc = subprocess.Popen(
        [sys.executable, "-c", _SIGINT_IGNORED, "import"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    job = _interrupt_while_running(proc, tmp_path)
    _, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 130, stderr
    assert f"stopped following job {job['id']}. Nothing is lost" in stderr
    assert "Traceback" not in stderr
    # handed back at a chunk boundary, not finished: the stop came first
    stopped = _newest_job(tmp_path)
    assert stopped is not None and stopped["id"] == job["id"]
    assert stopped["state"] == "queued"
    assert job["progress"]["current"] <= stopped["progress"]["current"] < 306
    followed = brainsync(tmp_path, "job", "follow", job["id"], "--json")
    assert followed.returncode == 0, followed.stderr
    report = json.loads(followed.stdout)
    assert report["created"] + report["unchanged"] == 306
    counts = json.loads(brainsync(tmp_path, "status", "--json").stdout)["counts"]
    assert sum(counts.values()) == 306


def test_ctrl_c_while_the_worker_starts_queues_nothing(tmp_path: Path, sample: Path) -> None:
    jobs_db = tmp_path / "jobs.sqlite"
    store = {"BRAINSYNC_JOBS_DB": f"sqlite:///{jobs_db}"}
    # The follower cannot open the job store (so neither start its worker nor queue the
    # job) until this lock goes, which is after the interrupt was sent.
    holder = sqlite3.connect(jobs_db, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        proc = _start(tmp_path, "import", "--json", **store)
        _wait_for_worker_lock(proc, tmp_path)
        proc.send_signal(signal.SIGINT)
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    out, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 130, stderr
    assert "stopped before the import was queued. Nothing is lost" in stderr
    assert "Traceback" not in stderr
    assert json.loads(out)["error"]["exit_code"] == 130
    assert json.loads(brainsync(tmp_path, "jobs", "--json", **store).stdout) == []
    done = brainsync(tmp_path, "import", "--json", **store)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["created"] == 6


def test_a_folder_beside_one_with_a_running_worker_still_runs_its_jobs(
    tmp_path: Path, sample: Path, worker: subprocess.Popen[str]
) -> None:
    """Both folders keep their state in one folder beside them, but each has its own job
    store: the worker of the first must not keep the second's commands from running."""
    other = tmp_path / "other-notes"
    (other / "ideas").mkdir(parents=True)
    (other / "ideas" / "a.md").write_text("---\ntitle: A\n---\nBody.\n")
    done = brainsync(tmp_path, "--dir", str(other), "sync", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["created"] == 1
