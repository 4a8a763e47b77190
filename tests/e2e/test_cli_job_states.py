"""What `jobs`, `job show|cancel` and `status` say about a job is what happened to it."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from job_cli import brainsync
from job_cli import jobs as _jobs
from job_cli import start as _start

#: One format on every job store: ISO 8601, UTC, to the second.
_ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_a_merged_run_is_summarised_as_merged(tmp_path: Path) -> None:
    folder = tmp_path / "brain-data"
    folder.mkdir()
    note = folder / "a.md"
    note.write_text("---\ntitle: A\n---\nline1\nline2\nline3\n")
    assert brainsync(tmp_path, "sync").returncode == 0
    stored = "---\ntitle: A\n---\nline1 store\nline2\nline3\n"
    assert brainsync(tmp_path, "entity", "put", "note", "a", stdin=stored).returncode == 0
    note.write_text("---\ntitle: A\n---\nline1\nline2\nline3 file\n")
    merged = brainsync(tmp_path, "sync", "--json")
    assert merged.returncode == 0, merged.stderr
    assert len(json.loads(merged.stdout)["merged"]) == 1
    listed = brainsync(tmp_path, "jobs").stdout.splitlines()
    assert listed[0].split()[:3] == ["RUNS", "ON", "JOB"]  # a header names the columns
    assert listed[1].endswith("  1 merged"), listed
    assert "no changes" not in listed[1] and "0+" not in listed[1]
    status = brainsync(tmp_path, "status").stdout
    assert re.search(r"job \S+: sync succeeded 1 merged$", status, re.M), status
    shown = json.loads(
        brainsync(tmp_path, "job", "show", _jobs(tmp_path)[0]["id"], "--json").stdout
    )  # type: ignore[arg-type]
    # the items counted beside the last step's name: never "chunk 2/2" beside "1/1"
    progress = shown["progress"]
    assert (progress["current"], progress["total"], progress["message"]) == (1, 1, "finishing")


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_jobs_refuses_a_limit_below_one(tmp_path: Path, sample: Path, limit: str) -> None:
    refused = brainsync(tmp_path, "jobs", "--limit", limit)
    assert refused.returncode == 2
    assert "--limit" in refused.stderr


def _rename_jobs(tmp_path: Path, ids: list[str], new: list[str]) -> None:
    (store,) = tmp_path.rglob("*.jobs.sqlite")
    with sqlite3.connect(store) as conn:
        for old, renamed in zip(ids, new, strict=True):
            conn.execute(
                "UPDATE workflow_status SET workflow_uuid = ? WHERE workflow_uuid = ?",
                (renamed, old),
            )


def test_a_job_is_named_by_a_unique_prefix(tmp_path: Path, sample: Path) -> None:
    queued = [brainsync(tmp_path, "sync", "--no-wait").stdout.strip() for _ in range(2)]
    twins = ["abcd0001-0000-4000-8000-000000000000", "abcd0002-0000-4000-8000-000000000000"]
    _rename_jobs(tmp_path, queued, twins)
    shown = brainsync(tmp_path, "job", "show", "abcd0002", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["id"] == twins[1]
    ambiguous = brainsync(tmp_path, "job", "show", "abcd")
    assert ambiguous.returncode == 2
    assert "names 2 jobs" in ambiguous.stderr
    assert twins[0] in ambiguous.stderr and twins[1] in ambiguous.stderr
    assert brainsync(tmp_path, "job", "show", "abc").returncode == 3  # too short to be a prefix
    cancelled = brainsync(tmp_path, "job", "cancel", "abcd0001")
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.strip() == f"job {twins[0]}: cancelled"


def test_cancelling_a_finished_job_cancels_nothing(tmp_path: Path, sample: Path) -> None:
    assert brainsync(tmp_path, "sync").returncode == 0
    job_id = str(_jobs(tmp_path)[0]["id"])
    refused = brainsync(tmp_path, "job", "cancel", job_id)
    assert refused.returncode == 7
    assert f"job {job_id} already succeeded; nothing was cancelled" in refused.stderr
    assert _jobs(tmp_path)[0]["state"] == "succeeded"


def _wait_running(tmp_path: Path, proc: subprocess.Popen[str]) -> dict[str, object]:
    """The job, once it runs and has finished its first chunk (generous deadline)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        jobs = _jobs(tmp_path, "--state", "running")
        progress = jobs[0]["progress"] if jobs else {}
        if jobs and progress["current"] > 0:  # type: ignore[index]
            return jobs[0]
        time.sleep(0.1)
    raise AssertionError("the job never ran")


def _bulk(sample: Path) -> None:
    (sample / "bulk").mkdir()
    for i in range(200):
        (sample / "bulk" / f"{i:03d}.md").write_text(f"note {i}\n")


#: Small chunks with a pause before each: a run lasts long enough to act on it.
_SLOW = {"BRAINSYNC_CHUNK_SIZE": "10", "BRAINSYNC_CHUNK_PAUSE_SECONDS": "0.3"}


def test_cancelling_a_running_job_says_when_it_stops(tmp_path: Path, sample: Path) -> None:
    _bulk(sample)
    proc = _start(tmp_path, "sync", **_SLOW)
    try:
        job = _wait_running(tmp_path, proc)
        asked = brainsync(tmp_path, "job", "cancel", str(job["id"])[:8])
        assert asked.returncode == 0, asked.stderr
        said = asked.stdout.strip()
        # the job may reach its boundary before the answer is read back: both are true
        assert said in (
            f"job {job['id']}: cancel requested; it stops after the current chunk "
            f"(`brainsync job show {job['id']}` tells when)",
            f"job {job['id']}: cancelled",
        )
        assert said != f"job {job['id']}: running"
        proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert _jobs(tmp_path)[0]["state"] == "cancelled"


#: Quick heartbeats: a killed worker is judged gone after a second.
_BEATS = {"BRAINSYNC_HEARTBEAT_SECONDS": "0.2", "BRAINSYNC_HOST_DEAD_SECONDS": "1"}


def _interrupted(tmp_path: Path, sample: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A sync killed (SIGKILL) mid-run: the job as it ran, and as shown once judged gone."""
    _bulk(sample)
    proc = _start(tmp_path, "sync", **_SLOW, **_BEATS)
    job = _wait_running(tmp_path, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 60
    while (shown := _jobs(tmp_path, **_BEATS)[0])["interrupted"] is None:
        assert time.monotonic() < deadline, shown
        time.sleep(0.1)
    return job, shown


def test_a_killed_worker_leaves_its_job_shown_interrupted(tmp_path: Path, sample: Path) -> None:
    beats = _BEATS
    job, shown = _interrupted(tmp_path, sample)
    assert shown["state"] == "running"  # as recorded; the view says who left it
    gone = shown["interrupted"]
    assert gone["host"] and gone["executor"] == "e2e-worker"  # type: ignore[index]
    assert _ISO_Z.match(gone["since"])  # type: ignore[index]
    listed = brainsync(tmp_path, "jobs", **beats).stdout.splitlines()[1]
    assert " interrupted " in listed and "gone since" in listed, listed
    status = brainsync(tmp_path, "status", **beats).stdout
    assert f"job {job['id']}: sync running interrupted: worker e2e-worker" in status
    finished = brainsync(tmp_path, "sync", **beats)
    assert finished.returncode == 0, finished.stderr
    assert f"resuming first job {job['id']} (sync): it was interrupted" in finished.stderr
    assert {j["state"] for j in _jobs(tmp_path)} == {"succeeded"}


def test_an_interrupted_job_resumes_on_request(tmp_path: Path, sample: Path) -> None:
    job, _ = _interrupted(tmp_path, sample)
    resumed = brainsync(tmp_path, "job", "resume", str(job["id"])[:6], **_BEATS)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip() == f"job {job['id']}: queued"
    followed = brainsync(tmp_path, "job", "follow", str(job["id"]), "--json", **_BEATS)
    assert followed.returncode == 0, followed.stderr
    report = json.loads(followed.stdout)
    assert report["created"] + report["unchanged"] == 206


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_job_times_have_one_format_on_every_job_store(
    tmp_path: Path, sample: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    extra = {}
    if backend == "postgres":
        extra["BRAINSYNC_JOBS_DB"] = str(request.getfixturevalue("pg_url"))
    done = brainsync(tmp_path, "sync", **extra)
    assert done.returncode == 0, done.stderr
    job = _jobs(tmp_path, "--limit", "1", **extra)[0]
    for field in ("created", "started", "finished"):
        assert _ISO_Z.match(str(job[field])), (field, job[field])
    shown = brainsync(tmp_path, "job", "show", str(job["id"]), **extra).stdout
    assert f"  created: {job['created']}" in shown
