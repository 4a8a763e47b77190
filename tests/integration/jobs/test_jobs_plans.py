"""A job's plan is stored a chunk per row: its checkpoint does not grow with the folder."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from brainsync.jobs import JobService, JobState
from brainsync.jobs.hosts import engine_url
from brainsync.jobs.plans import PlanPages

Open = Callable[..., JobService]
Work = Callable[..., dict[str, Any]]


def plan_checkpoint_bytes(url: str, job_id: str) -> int:
    """The size of the plan step's stored output (DBOS's ``operation_outputs``)."""
    engine = sa.create_engine(engine_url(url))
    schema = "dbos." if engine.dialect.name == "postgresql" else ""
    query = sa.text(
        f"SELECT output FROM {schema}operation_outputs "
        "WHERE workflow_uuid = :id AND function_name = 'brainsync.plan'"
    )
    try:
        with engine.connect() as conn:
            return len(conn.execute(query, {"id": job_id}).scalar_one())
    finally:
        engine.dispose()


def test_the_plan_checkpoint_keeps_sizes_and_the_chunks_go_when_the_job_ends(
    open_service: Open, work: Work, system_db_url: str
) -> None:
    service = open_service()
    small = service.wait(service.enqueue("fake", work("s", items=20, chunk=10), lane="/s"), 60)
    large = service.wait(service.enqueue("fake", work("l", items=2000, chunk=1000), lane="/l"))
    assert small.state is large.state is JobState.SUCCEEDED
    assert large.result is not None and large.result.created == 2000
    # two chunks each: the same checkpoint whatever the items (it was ~90 bytes an item)
    assert (
        plan_checkpoint_bytes(system_db_url, large.id)
        <= plan_checkpoint_bytes(system_db_url, small.id) + 8
    )
    pages = PlanPages(system_db_url)
    try:
        assert pages.count(small.id) == pages.count(large.id) == 0
    finally:
        pages.close()


def test_a_cancelled_job_keeps_its_chunks_and_resumes_from_them(
    open_service: Open, work: Work, system_db_url: str
) -> None:
    service = open_service()
    job_id = service.enqueue("fake", work(items=8, chunk=1, sleep=0.5), lane="/c")
    deadline = time.monotonic() + 30
    while service.status(job_id).progress.current < 1:
        assert time.monotonic() < deadline, "the job never made progress"
        time.sleep(0.02)
    service.cancel(job_id)
    assert service.wait(job_id, timeout=30).state is JobState.CANCELLED
    pages = PlanPages(system_db_url)
    try:
        assert pages.count(job_id) == 8
        service.resume(job_id)
        job = service.wait(job_id, timeout=60)
        assert job.state is JobState.SUCCEEDED and job.result is not None
        assert job.result.created == 8 and pages.count(job_id) == 0
    finally:
        pages.close()


def test_a_plan_checkpointed_inline_by_the_previous_release_still_runs() -> None:
    from jobs_fakeop import FakeOperation

    from brainsync.jobs.workflow import _plan_of

    operation = FakeOperation({"root": ".", "log": "log", "items": 3})
    inline = [{"index": 0, "items": [0, 1]}, {"index": 1, "items": [2]}]
    assert _plan_of(inline, operation) == ([2, 1], inline)
    assert _plan_of({"sizes": [2, 1]}, operation) == ([2, 1], None)


def test_chunks_are_stored_in_batches_and_a_new_plan_replaces_the_old(
    system_db_url: str, open_service: Open
) -> None:
    open_service()  # creates the job store's tables
    pages = PlanPages(system_db_url)
    try:
        chunks = [{"items": [{"path": f"{i}.md", "key": f"note:{i}"}]} for i in range(250)]
        pages.save("job-a", chunks)  # more chunks than one INSERT batch
        assert pages.count("job-a") == 250
        assert [pages.load("job-a", i) for i in (0, 99, 100, 249)] == [
            chunks[0],
            chunks[99],
            chunks[100],
            chunks[249],
        ]
        pages.save("job-a", chunks[:3])  # planned again after a crash: replaced whole
        assert pages.count("job-a") == 3
        assert pages.load("job-a", 2) == chunks[2]
    finally:
        pages.drop("job-a")
        pages.close()
