"""The job layer on a real DBOS system database (SQLite and PostgreSQL), in one process."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jobs_fakeop import read_log

from brainsync.errors import InvalidInputError, JobError, NotFoundError
from brainsync.jobs import (
    JobCompleted,
    JobEvent,
    JobProgress,
    JobService,
    JobStarted,
    JobState,
)

Open = Callable[..., JobService]
Work = Callable[..., dict[str, Any]]


def eventually(check: Callable[[], bool], what: str, limit: float = 20.0) -> None:
    """Poll ``check`` until true; fail (not a timing assertion) if it never becomes true."""
    end = time.monotonic() + limit
    while not check():
        if time.monotonic() > end:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.02)


def files(root: str) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(Path(root).iterdir())}


def test_job_succeeds_with_merged_report_and_ordered_events(open_service: Open, work: Work):
    service = open_service()
    events: list[JobEvent] = []
    service.subscribe(events.append)
    params = work(items=12, chunk=4, fail_items=[1, 6])

    job_id = service.enqueue("fake", params, lane="/lane")
    job = service.wait(job_id, timeout=30)

    assert job.state is JobState.SUCCEEDED
    assert job.result is not None
    assert job.result.created == 10
    assert sorted(e.path for e in job.result.errors) == ["item-1.md", "item-6.md"]
    assert (job.progress.current, job.progress.total) == (12, 12)
    assert job.kind == "fake" and job.params == params and job.directory_lock == "/lane"
    assert job.started is not None and job.finished is not None and not job.stalled
    eventually(lambda: any(isinstance(e, JobCompleted) for e in events), "completed event")
    assert isinstance(events[0], JobStarted)
    progress = [e.progress.current for e in events if isinstance(e, JobProgress)]
    assert progress == [0, 4, 8, 12]
    assert isinstance(events[-1], JobCompleted) and events[-1].result.created == 10


def test_wait_reports_progress_and_status_lists_jobs(open_service: Open, work: Work):
    service = open_service()
    seen: list[int] = []
    job_id = service.enqueue("fake", work(items=3, sleep=0.05), lane="/l")
    job = service.wait(job_id, timeout=30, on_progress=lambda j: seen.append(j.progress.current))
    assert job.state is JobState.SUCCEEDED
    assert seen == sorted(seen) and seen[-1] == 3
    assert [j.id for j in service.list()] == [job_id]
    assert service.list(JobState.FAILED) == []
    with pytest.raises(NotFoundError):
        service.status("no-such-job")
    with pytest.raises(InvalidInputError):
        service.enqueue("fake", {"x": object()}, lane="/l")


def test_plan_error_fails_the_job(open_service: Open, work: Work):
    service = open_service()
    job = service.wait(service.enqueue("fake", work(plan_error="too many deletes"), lane="/l"))
    assert job.state is JobState.FAILED
    assert job.error is not None and "too many deletes" in job.error
    assert "MassDeleteError" in job.error and job.result is None


def test_unexpected_chunk_exception_fails_the_job(open_service: Open, work: Work):
    service = open_service()
    job_id = service.enqueue("fake", work(items=3, raise_on_chunk=1), lane="/l")
    job = service.wait(job_id, timeout=30)
    assert job.state is JobState.FAILED
    assert job.error is not None and "boom in chunk 1" in job.error


def test_unknown_kind_fails_the_job(open_service: Open, work: Work):
    service = open_service()
    job = service.wait(service.enqueue("nope", work(), lane="/l"), timeout=30)
    assert job.state is JobState.FAILED and "unknown job kind" in (job.error or "")


def test_transient_errors_are_retried(open_service: Open, work: Work):
    service = open_service(retry_attempts=4)
    params = work(items=2, transient=2)
    job = service.wait(service.enqueue("fake", params, lane="/l"), timeout=30)
    assert job.state is JobState.SUCCEEDED and job.result is not None
    assert job.result.created == 2
    starts = [row for row in read_log(Path(params["log"])) if row[1] == "start" and row[3] == 0]
    assert len(starts) == 3


def test_persistent_transient_errors_fail_after_the_last_attempt(open_service: Open, work: Work):
    service = open_service(retry_attempts=2)
    job = service.wait(service.enqueue("fake", work(items=1, transient=99), lane="/l"), 30)
    assert job.state is JobState.FAILED
    assert "still failing after 2 attempts" in (job.error or "")


def test_cancel_stops_at_a_chunk_boundary_and_resume_finishes(open_service: Open, work: Work):
    service = open_service()
    release = Path(work()["log"]).with_name("release")
    # the third chunk waits until the cancel is in
    params = work("cut", items=12, chunk=2, hold=str(release), hold_chunk=2)
    job_id = service.enqueue("fake", params, lane="/cut")
    eventually(lambda: service.status(job_id).progress.current >= 4, "some chunks done")

    service.cancel(job_id)
    release.touch()
    job = service.wait(job_id, timeout=30)

    assert job.state is JobState.CANCELLED
    written = {int(name[5:-3]) for name in files(params["root"]) if name.startswith("item-")}
    assert written and len(written) < 12
    assert all((n ^ 1) in written for n in written), "only whole chunks are written"
    assert not [n for n in files(params["root"]) if n.startswith(".tmp")]

    resumed = service.wait(service.resume(job_id).id, timeout=60)
    whole = service.wait(service.enqueue("fake", work("whole", items=12, chunk=2), lane="/w"))

    assert resumed.state is JobState.SUCCEEDED and resumed.result == whole.result
    assert files(params["root"]) == files(whole.params["root"])
    ends = [row[3] for row in read_log(Path(params["log"])) if row[1] == "end" and row[2] == "cut"]
    assert sorted(set(ends)) == list(range(6)) and len(ends) == 6, "no chunk ran twice"


def test_cancel_of_a_queued_job_is_immediate(open_service: Open, work: Work):
    service = open_service(start_worker=False)
    job_id = service.enqueue("fake", work(items=2), lane="/q")
    job = service.cancel(job_id)
    assert job.state is JobState.CANCELLED
    assert service.status(job_id).progress.current == 0


def test_same_lane_never_overlaps_other_lanes_may(open_service: Open, work: Work):
    service = open_service()
    jobs = [
        service.enqueue("fake", work(name, items=3, sleep=0.04), lane=lane)
        for name, lane in [("a1", "/A"), ("b1", "/B"), ("a2", "/A"), ("a3", "/A")]
    ]
    for job_id in jobs:
        assert service.wait(job_id, timeout=60).state is JobState.SUCCEEDED

    spans: dict[str, list[float]] = {}
    for _pid, _what, name, _index, when in read_log(Path(work()["log"])):
        span = spans.setdefault(name, [when, when])
        span[0], span[1] = min(span[0], when), max(span[1], when)
    a_spans = sorted(spans[name] for name in ("a1", "a2", "a3"))
    for first, second in itertools.pairwise(a_spans):
        assert first[1] <= second[0], "two jobs of one lane overlapped"
    b = spans["b1"]
    assert any(a[0] < b[1] and b[0] < a[1] for a in a_spans), "lanes ran one after another"


def test_stalled_job_is_reported_cancellable_and_does_not_block_other_lanes(
    open_service: Open, work: Work
):
    service = open_service(deadline_seconds=0.1)
    release = Path(work()["log"]).with_name("release")
    # its only chunk runs until the test is done with it
    slow = service.enqueue("fake", work("slow", items=1, hold=str(release)), lane="/slow")
    eventually(lambda: service.status(slow).stalled, "stalled flag")

    other = service.wait(service.enqueue("fake", work("fast", items=2), lane="/fast"), 30)
    assert other.state is JobState.SUCCEEDED and service.status(slow).stalled

    cancelled = service.cancel(slow)
    release.touch()
    assert cancelled.state is JobState.CANCELLED and not cancelled.stalled


def test_a_process_without_worker_enqueues_for_a_worker(open_service: Open, work: Work):
    client = open_service(start_worker=False)
    job_id = client.enqueue("fake", work(items=3), lane="/x")
    assert client.status(job_id).state is JobState.QUEUED
    open_service(start_worker=True)
    assert client.wait(job_id, timeout=30).state is JobState.SUCCEEDED


def test_one_worker_per_process(open_service: Open, system_db_url: str):
    open_service()
    with pytest.raises(JobError):
        open_service()


def test_close_hands_running_jobs_back_for_the_next_worker(open_service: Open, work: Work):
    first = open_service()
    params = work("handoff", items=8, sleep=0.2)  # slow enough to close mid-job
    job_id = first.enqueue("fake", params, lane="/h")
    eventually(lambda: first.status(job_id).progress.current >= 2, "some chunks done")
    first.close()
    client = open_service(start_worker=False)
    assert client.status(job_id).state is JobState.QUEUED
    open_service()
    job = client.wait(job_id, timeout=30)
    assert job.state is JobState.SUCCEEDED and job.result is not None
    assert job.result.created == 8
    assert files(params["root"]) == {f"item-{n}.md": f"item {n}\n" for n in range(8)}
