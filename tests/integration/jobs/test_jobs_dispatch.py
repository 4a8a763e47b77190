"""Jobs queued by a worker's own process start at once, not at the queue's next poll.

The queue poll is set to ten minutes here, so nothing but the immediate claim
(:mod:`brainsync.jobs.dispatch`) can start these jobs within the tests' bounds.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobs_fakeop import factory, read_log

from brainsync.jobs import JobCompleted, JobEvent, JobService, JobState
from brainsync.jobs.dispatch import QueuedProbe
from brainsync.jobs.queues import SHARED_QUEUE, queue_for

Open = Callable[..., JobService]
Work = Callable[..., dict[str, Any]]
NO_POLL = 600.0


def _spans(log: Path) -> dict[str, list[float]]:
    spans: dict[str, list[float]] = {}
    for _pid, _what, name, _index, when in read_log(log):
        span = spans.setdefault(name, [when, when])
        span[0], span[1] = min(span[0], when), max(span[1], when)
    return spans


def test_jobs_queued_here_run_without_the_queue_poll_one_lane_at_a_time(
    open_service: Open, work: Work
) -> None:
    service = open_service(poll_interval_seconds=NO_POLL)
    lanes = [("a1", "/A"), ("b1", "/B"), ("a2", "/A"), ("a3", "/A")]
    jobs = [
        service.enqueue("fake", work(name, items=3, sleep=0.02), lane=lane) for name, lane in lanes
    ]
    # each a2/a3 could only start when the job before it in lane /A ended
    for job_id in jobs:
        assert service.wait(job_id, timeout=60).state is JobState.SUCCEEDED
    spans = _spans(Path(work()["log"]))
    a_spans = sorted(spans[name] for name in ("a1", "a2", "a3"))
    for first, second in itertools.pairwise(a_spans):
        assert first[1] <= second[0], "two jobs of one lane overlapped"


def test_the_end_of_a_job_run_here_is_announced_without_the_poll(
    open_service: Open, work: Work
) -> None:
    service = open_service(poll_interval_seconds=NO_POLL)
    seen: list[JobEvent] = []
    completed = threading.Event()

    def record(event: JobEvent) -> None:
        seen.append(event)
        if isinstance(event, JobCompleted):
            completed.set()

    service.subscribe(record)
    job_id = service.enqueue("fake", work(items=2), lane="/A")
    assert service.wait(job_id, timeout=60).state is JobState.SUCCEEDED
    # the completion watcher is nudged when the job returns, not after its ten-minute poll
    assert completed.wait(60), "the job's end was never announced"
    names = [type(event).__name__ for event in seen if event.job_id == job_id]
    assert names[0] == "JobStarted" and names[-1] == "JobCompleted"


def test_a_job_another_process_queues_on_sqlite_starts_without_the_poll(
    tmp_path: Path, work: Work
) -> None:
    """The worker sees the SQLite job store's data_version move; PostgreSQL has the poll."""
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    options = {"poll_interval_seconds": NO_POLL, "retry_interval_seconds": 0.01}
    with (
        JobService(url, factory, executor_id="worker", **options) as worker,
        JobService(url, factory, executor_id="client", start_worker=False, **options) as client,
    ):
        job_id = client.enqueue("fake", work("elsewhere", items=2), lane="/x")
        assert client.wait(job_id, timeout=60).state is JobState.SUCCEEDED
        assert worker.status(job_id).executor == "worker"


def test_the_dispatcher_is_the_only_claimer_of_its_process(open_service: Open) -> None:
    """DBOS's queue threads claim nothing: on SQLite two claimers could admit one lane twice."""
    from dbos._dbos import _get_dbos_instance

    open_service()
    assert _get_dbos_instance()._listening_queues == []


def test_the_probe_sees_a_queued_job_before_a_claim_round_is_spent(
    tmp_path: Path, work: Work
) -> None:
    """An idle worker on SQLite skips claim rounds while nothing is queued: the probe must
    read DBOS's table as it is (a renamed table or column would make it claim always)."""
    path = tmp_path / "jobs.sqlite"
    options = {"poll_interval_seconds": NO_POLL, "retry_interval_seconds": 0.01}
    with JobService(f"sqlite:///{path}", factory, start_worker=False, **options) as client:
        ours, theirs = queue_for("here"), queue_for("elsewhere")
        probe = QueuedProbe(str(path), [ours, SHARED_QUEUE])
        try:
            assert not probe.queued()
            job_id = client.enqueue("fake", work(items=1), lane="/x", host="elsewhere")
            assert queue_for(client.status(job_id).host) == theirs
            assert not probe.queued()
            client.enqueue("fake", work("mine", items=1), lane="/y", host="here")
            assert probe.queued()
        finally:
            probe.close()
