"""Host routing, heartbeats and the engine's private access (SQLite and PostgreSQL)."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from dbos import DBOS, DBOSClient

from brainsync.errors import JobError
from brainsync.jobs import JobService, JobState
from brainsync.jobs.dispatch import DBOS_HOUSEKEEPING_SECONDS
from brainsync.jobs.queues import SHARED_QUEUE, host_of, queue_for
from brainsync.jobs.redact import redact, redact_url

Open = Callable[..., JobService]
Work = Callable[..., dict[str, Any]]


def _until(check: Callable[[], bool], what: str, limit: float = 30.0) -> None:
    end = time.monotonic() + limit
    while not check():
        if time.monotonic() > end:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.05)


def test_a_worker_runs_its_hosts_and_shared_jobs_only(open_service: Open, work: Work) -> None:
    service = open_service(host="here")
    elsewhere = service.enqueue("fake", work("there", items=1), lane="/there", host="there")
    mine = service.enqueue("fake", work("here", items=1), lane="/here", host="here")
    shared = service.enqueue("fake", work("shared", items=1), lane="/shared")
    for job_id in (mine, shared):
        assert service.wait(job_id, timeout=30).state is JobState.SUCCEEDED
    waiting = service.status(elsewhere)
    assert (waiting.state, waiting.host, waiting.executor) == (JobState.QUEUED, "there", None)
    assert service.status(mine).host == "here" and service.status(shared).host is None


def test_a_lane_never_waits_on_two_queues(open_service: Open, work: Work) -> None:
    service = open_service(start_worker=False)
    service.enqueue("fake", work(items=1), lane="/lane", host="a")
    with pytest.raises(JobError, match="unfinished job"):
        service.enqueue("fake", work(items=1), lane="/lane")
    service.enqueue("fake", work(items=1), lane="/lane", host="a")  # same queue: it waits


def test_a_cancelled_job_resumes_on_its_own_hosts_queue(open_service: Open, work: Work) -> None:
    service = open_service(start_worker=False)
    job_id = service.enqueue("fake", work(items=1), lane="/lane", host="far")
    service.cancel(job_id)
    assert service.resume(job_id).host == "far"


def test_the_heartbeat_shows_a_worker_alive_then_stopped(open_service: Open) -> None:
    worker = open_service(host="h1", executor_id="h1-w", heartbeat_seconds=0.1)
    observer = open_service(start_worker=False)
    _until(lambda: any(w.alive for w in observer.hosts()), "a live worker")
    (seen,) = observer.hosts()
    assert (seen.host, seen.executor_id, seen.stopped) == ("h1", "h1-w", False)
    worker.close()
    (gone,) = observer.hosts()
    assert gone.stopped and not gone.alive
    assert gone.to_dict()["executor_id"] == "h1-w"


def test_queue_names() -> None:
    assert host_of(queue_for("laptop")) == "laptop"
    assert queue_for(None) == SHARED_QUEUE and host_of(SHARED_QUEUE) is None


def test_redaction_masks_the_password_in_urls_and_messages() -> None:
    url = "postgresql+psycopg://bob:p%40ss-w0rd@db.example/brain"
    assert redact_url(url) == "postgresql+psycopg://bob:***@db.example/brain"
    text = redact(RuntimeError(f"failed: {url} (password p@ss-w0rd, quoted p%40ss-w0rd)"), url)
    assert "p@ss" not in text and "p%40ss" not in text and "bob:***@db.example" in text
    assert redact("no secret here", "sqlite:///x.db") == "no secret here"


def test_the_engine_private_api_is_what_the_engine_expects() -> None:
    """The one use of a private DBOS part (re-queueing a dead worker's job): it fails here,
    not in production, when a new DBOS version changes it."""
    from dbos._sys_db import SystemDatabase

    assert "_sys_db" in inspect.getsource(DBOSClient.__init__)
    params = list(inspect.signature(SystemDatabase.reenqueue_for_recovery).parameters)
    assert params == ["self", "workflow_id", "executor_ids", "recovery_queue_name"]
    assert list(inspect.signature(DBOS.listen_queues).parameters) == ["queues"]


def test_every_job_store_engine_hides_statement_parameters(open_service: Open) -> None:
    """Catalogue P2: the DBOS client's engine (told through its private ``_sys_db``) and the
    runtime's (through its config) never render parameters into an error or a log line."""
    from dbos._dbos import _get_dbos_instance

    service = open_service()
    client_engine = service._engine._client._sys_db.engine
    runtime_engine = _get_dbos_instance()._sys_db.engine
    for engine in (client_engine, runtime_engine):
        assert engine.hide_parameters
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as raised:
            conn.execute(sa.text("SELECT no_such_column WHERE :p = :p"), {"p": "private"})
        assert "private" not in str(raised.value)


def test_the_immediate_claim_uses_what_dbos_offers() -> None:
    """The second private use (claiming a queued job at once, jobs/dispatch.py)."""
    from dbos._core import ActiveWorkflowById, execute_dequeued_workflow
    from dbos._sys_db import SystemDatabase
    from dbos._utils import GlobalParams

    claim = inspect.signature(SystemDatabase.start_queued_partitioned_workflows).parameters
    assert list(claim)[:5] == ["self", "queue", "executor_id", "app_version", "max_tasks"]
    assert "owner_xid" in claim
    assert list(inspect.signature(execute_dequeued_workflow).parameters) == [
        "dbos",
        "status",
        "owner_xid",
    ]
    assert hasattr(ActiveWorkflowById, "count_for_queue")
    assert hasattr(GlobalParams, "executor_id") and hasattr(GlobalParams, "app_version")


def test_dbos_pollers_are_slowed_where_dbos_reads_their_intervals(open_service: Open) -> None:
    """The third private use (jobs/dispatch.py quiet_dbos_pollers): the knobs must be the
    ones DBOS's threads read, or an idle watcher quietly goes back to polling every second."""
    from dbos import _queue, _workflow_commands
    from dbos._dbos import _get_dbos_instance

    open_service()
    assert _workflow_commands._BACKGROUND_JOBS_INTERVAL_SEC == DBOS_HOUSEKEEPING_SECONDS
    internal = _get_dbos_instance()._registry.get_internal_queue()
    assert internal._polling_interval_sec == DBOS_HOUSEKEEPING_SECONDS
    assert "_BACKGROUND_JOBS_INTERVAL_SEC" in inspect.getsource(
        _workflow_commands.background_jobs_thread
    )
    assert "queue._polling_interval_sec" in inspect.getsource(_queue.queue_worker_thread)
    assert "get_internal_queue()" in inspect.getsource(_queue.queue_thread)
