"""Job commands through the CLI: --no-wait, follow, show, list, cancel, worker, Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-brain"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINSYNC_")}
    env.update(BRAINSYNC_DIR=str(tmp_path / "brain-data"), BRAINSYNC_EXECUTOR_ID="e2e-worker")
    env.update(extra)
    return env


def brainsync(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "brainsync", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_env(tmp_path, **extra),
        timeout=120,
        check=False,
    )


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLE, tmp_path / "brain-data")
    return tmp_path / "brain-data"


@pytest.fixture
def worker(tmp_path: Path, sample: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "brainsync", "worker", "--concurrency", "2"],
        cwd=tmp_path,
        env=_env(tmp_path),
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = tmp_path / ".brainsync" / "worker-e2e-worker.lock"
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text().strip() == str(proc.pid)):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)
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


def test_ctrl_c_while_following_loses_nothing(tmp_path: Path, sample: Path) -> None:
    for i in range(300):
        (sample / "bulk" / f"{i:03d}.md").parent.mkdir(exist_ok=True)
        (sample / "bulk" / f"{i:03d}.md").write_text(f"note {i}\n")
    env = _env(tmp_path, BRAINSYNC_CHUNK_SIZE="10", BRAINSYNC_CHUNK_PAUSE_SECONDS="0.3")
    proc = subprocess.Popen(
        [sys.executable, "-m", "brainsync", "import"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while True:
        listed = brainsync(tmp_path, "jobs", "--json")
        jobs = json.loads(listed.stdout) if listed.returncode == 0 and listed.stdout else []
        if jobs and jobs[0]["progress"]["current"] >= 30:
            break
        assert time.monotonic() < deadline, "the import made no progress"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 130
    assert "Nothing is lost" in stderr
    job_id = jobs[0]["id"]
    followed = brainsync(tmp_path, "job", "follow", job_id, "--json")
    assert followed.returncode == 0, followed.stderr
    report = json.loads(followed.stdout)
    assert report["created"] + report["unchanged"] == 306
    counts = json.loads(brainsync(tmp_path, "status", "--json").stdout)["counts"]
    assert sum(counts.values()) == 306
