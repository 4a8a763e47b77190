"""The durable workflow that runs one job: a checkpointed plan, then one step per chunk.

This module imports ``dbos`` and is only imported when a :class:`JobService` opens.

Step by step (architecture.md, "A job, step by step"):

1. ``plan()`` runs as a step; its chunks are stored one row each
   (:mod:`brainsync.jobs.plans`) and the step's checkpoint keeps their sizes, so a
   resumed job never re-plans (a directory scanned again could give other chunks).
2. Each chunk runs as a step whose report is checkpointed; a resumed job replays finished
   chunks from their checkpoints and runs only the rest. Transient store errors are
   retried with exponential backoff (catalogue K8); any other exception fails the job.
3. After every chunk the merged progress is stored with ``DBOS.set_event`` (readable by
   job id from any process) and then announced to local subscribers.
4. Between chunks the run checks for a cancel request (catalogue K4) and for a worker
   shutdown; either stops it at the boundary, never inside a chunk.

DBOS is a process-global singleton and a workflow function is looked up by name, so the
operation factory and the other run-time collaborators cannot be passed in as arguments:
the one worker of the process binds them here with :func:`bind` when it starts and
:func:`unbind` when it stops. That is why a process has at most one running worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from dbos import DBOS, StepOptions
from dbos import error as dbos_error

from brainsync.errors import JobError, TransientStoreError
from brainsync.jobs.events import JobEvent, JobProgress, JobStarted
from brainsync.jobs.operation import Chunk, ChunkedOperation, OperationFactory
from brainsync.jobs.plans import PlanPages
from brainsync.jobs.records import Progress
from brainsync.report import Report

__all__ = ["PROGRESS_EVENT", "WORKFLOW_NAME", "RunControl", "WorkerBinding", "bind", "unbind"]

log = logging.getLogger(__name__)

#: The registered name of the job workflow (stored in every job row: never rename it).
WORKFLOW_NAME = "brainsync.job"
#: The workflow event key under which a job's latest progress is stored.
PROGRESS_EVENT = "brainsync.progress"

T = TypeVar("T")


class WorkerStopping(BaseException):
    """Unwinds a job at a chunk boundary when its worker shuts down.

    A ``BaseException`` on purpose: DBOS records any ``Exception`` leaving a workflow as
    the job's failure, while this must leave no outcome behind, so that the job, handed
    back to the queue by the stopping worker, resumes from its checkpoints elsewhere.
    """


class RunControl(Protocol):
    """What a running job needs from the engine besides DBOS itself."""

    def cancel_requested(self, job_id: str) -> bool:
        """Whether someone asked to cancel the job."""
        ...

    def cancel_now(self, job_id: str) -> None:
        """Record the job as cancelled."""
        ...

    def run_started(self, job_id: str) -> None:
        """The job began running in this process."""
        ...

    def run_ended(self, job_id: str) -> None:
        """The job's code stopped running in this process (whatever the outcome)."""
        ...

    def run_failed(self, job_id: str, error: Exception) -> None:
        """The job's code ended with ``error`` here (before its outcome is stored)."""
        ...

    def run_stopped(self, job_id: str) -> None:
        """The job stopped at a boundary because the worker shuts down."""
        ...


@dataclass(frozen=True)
class WorkerBinding:
    """The run-time collaborators of the workflow, bound by the process's worker."""

    factory: OperationFactory
    publish: Callable[[JobEvent], None]
    control: RunControl
    stopping: threading.Event
    retry_attempts: int
    retry_interval_seconds: float
    #: Where the plan step stores each chunk (its checkpoint keeps only their sizes).
    plans: PlanPages


_binding: WorkerBinding | None = None
_binding_lock = threading.Lock()


def bind(binding: WorkerBinding) -> None:
    """Make ``binding`` the one the workflows of this process run with."""
    global _binding
    with _binding_lock:
        if _binding is not None:
            raise JobError("a job worker is already running in this process")
        _binding = binding


def unbind() -> None:
    """Forget the binding (the worker stopped)."""
    global _binding
    with _binding_lock:
        _binding = None


def _current_binding() -> WorkerBinding:
    binding = _binding
    if binding is None:
        # Only possible if DBOS runs a job after the worker unbound: stop it unrecorded.
        raise WorkerStopping()
    return binding


def _chunk_labels(sizes: list[int]) -> list[str]:
    """What each chunk's progress says: item chunks are counted ("chunk 2/3"), a chunk
    without items (the run's finishing step) is "finishing", so the count of chunks never
    runs ahead of the count of items beside it."""
    count = sum(1 for size in sizes if size)
    labels: list[str] = []
    numbered = 0
    for size in sizes:
        numbered += bool(size)
        labels.append(f"chunk {numbered}/{count}" if size else "finishing")
    return labels


@DBOS.workflow(name=WORKFLOW_NAME)
def job_workflow(kind: str, params: dict[str, Any], lane: str) -> dict[str, Any]:
    """Run one job to the end and return its merged report as a mapping."""
    job_id = DBOS.workflow_id
    assert job_id is not None, "a workflow always has an id"
    return _JobRun(_current_binding(), job_id, kind, params, lane).execute()


class _Meter:
    """Rate and ETA from the items this process ran (replayed chunks took no time)."""

    def __init__(self) -> None:
        self._began = time.monotonic()
        self._items = 0

    def ran(self, items: int) -> None:
        self._items += items

    def progress(self, current: int, total: int, message: str) -> Progress:
        elapsed = time.monotonic() - self._began
        rate = self._items / elapsed if self._items and elapsed > 0 else None
        eta = (total - current) / rate if rate else None
        return Progress(current, total, message, rate, eta)


class _JobRun:
    """One execution (first run or resumption) of one job's workflow."""

    def __init__(
        self, binding: WorkerBinding, job_id: str, kind: str, params: dict[str, Any], lane: str
    ) -> None:
        self._binding = binding
        self._job_id = job_id
        self._kind = kind
        self._params = params
        self._lane = lane
        self._meter = _Meter()

    def execute(self) -> dict[str, Any]:
        control = self._binding.control
        control.run_started(self._job_id)
        try:
            self._binding.publish(JobStarted(self._job_id, self._kind, self._lane))
            return self._run(self._operation()).to_dict()
        except WorkerStopping:
            control.run_stopped(self._job_id)
            raise
        except dbos_error.DBOSWorkflowCancelledError:
            raise  # a cancelled job keeps its chunks for its resumption
        except Exception as exc:
            self._forget_chunks()  # a failed job never runs again
            # told before DBOS stores the outcome: that write can fail too (a full disk)
            control.run_failed(self._job_id, exc)
            raise
        finally:
            control.run_ended(self._job_id)

    def _run(self, operation: ChunkedOperation) -> Report:
        self._boundary()
        planned, planned_here = self._step("brainsync.plan", "plan", lambda: self._plan(operation))
        sizes, inline = _plan_of(planned, operation)
        total = sum(sizes)
        labels = _chunk_labels(sizes)
        self._publish(0, total, f"planned {total} items", announce=planned_here)
        report = Report()
        done = 0
        for index, size in enumerate(sizes):
            self._boundary()
            data, ran_here = self._run_chunk(operation, index, inline)
            report.merge(Report.from_dict(data))
            done += size
            if ran_here:
                self._meter.ran(size)
            self._publish(done, total, labels[index], announce=ran_here)
        # the outcome is stored after this returns; a job run again replays its chunks.
        # Best effort: a database restart here must not fail a job whose work is all done
        self._forget_chunks()
        return report

    def _forget_chunks(self) -> None:
        try:
            self._binding.plans.drop(self._job_id)
        except Exception:
            # the rows are only litter (a failed job reports its own error)
            log.warning("could not drop the chunks of job %s", self._job_id, exc_info=True)

    def _plan(self, operation: ChunkedOperation) -> dict[str, Any]:
        """Plan, store each chunk in its own row, checkpoint only their sizes."""
        sizes: list[int] = []

        def sized() -> Iterator[Chunk]:
            # one pass: a plan may build each chunk when asked (engine.PlannedChunks)
            for chunk in operation.plan():
                sizes.append(operation.chunk_size(chunk))
                yield chunk

        self._binding.plans.save(self._job_id, sized())
        return {"sizes": sizes}

    def _operation(self) -> ChunkedOperation:
        try:
            return self._binding.factory(self._kind, self._params)
        except Exception as exc:
            raise JobError(f"cannot build a {self._kind!r} job: {_describe(exc)}") from exc

    def _run_chunk(
        self, operation: ChunkedOperation, index: int, inline: list[Chunk] | None
    ) -> tuple[dict[str, Any], bool]:
        def body() -> dict[str, Any]:
            # read in the step: a replayed chunk never reads its (dropped) row again
            chunk = (
                inline[index]
                if inline is not None
                else self._binding.plans.load(self._job_id, index)
            )
            return operation.run_chunk(chunk).to_dict()

        return self._step("brainsync.chunk", f"chunk {index}", body)

    def _step(self, name: str, what: str, body: Callable[[], T]) -> tuple[T, bool]:
        """Run ``body`` as a checkpointed step; also say whether it ran here (not replayed)."""
        ran: list[bool] = []

        def step() -> T:
            ran.append(True)
            return _guarded(what, body)

        options: StepOptions = {
            "name": name,
            "retries_allowed": True,
            "max_attempts": self._binding.retry_attempts,
            "interval_seconds": self._binding.retry_interval_seconds,
            "backoff_rate": 2.0,
            "should_retry": _is_transient,
        }
        try:
            return DBOS.run_step(options, step), bool(ran)
        except dbos_error.DBOSMaxStepRetriesExceeded as exc:
            last = exc.errors[-1] if exc.errors else "unknown error"
            message = f"{what} still failing after {exc.max_retries} attempts: {last}"
            raise JobError(message) from None

    def _publish(self, current: int, total: int, message: str, *, announce: bool) -> None:
        progress = self._meter.progress(current, total, message)
        DBOS.set_event(PROGRESS_EVENT, progress.to_dict())
        if announce:
            # Only for work done in this run: a replayed chunk was announced when it ran.
            self._binding.publish(JobProgress(self._job_id, progress))

    def _boundary(self) -> None:
        """Stop here if the worker is shutting down or a cancel was requested."""
        control = self._binding.control
        if self._binding.stopping.is_set():
            # The worker hands the job back to the queue once DBOS stopped dequeuing.
            raise WorkerStopping()
        if control.cancel_requested(self._job_id):
            control.cancel_now(self._job_id)
            # DBOS treats this as "the run saw its own cancellation" and records nothing.
            raise dbos_error.DBOSWorkflowCancelledError(f"job {self._job_id} cancelled")


def _plan_of(
    planned: dict[str, Any] | list[Chunk], operation: ChunkedOperation
) -> tuple[list[int], list[Chunk] | None]:
    """The chunk sizes of a checkpointed plan, and its chunks when it holds them inline
    (a job planned by a release before the chunks had rows of their own)."""
    if isinstance(planned, list):
        return [operation.chunk_size(chunk) for chunk in planned], planned
    return [int(size) for size in planned["sizes"]], None


def _guarded(what: str, body: Callable[[], T]) -> T:
    """Run ``body``; let transient errors through for retry, turn the rest into JobError.

    Step errors are pickled into the job store and read back by other processes, which may
    not be able to import an operation's own exception classes; a JobError always can.
    """
    try:
        return body()
    except TransientStoreError:
        raise
    except Exception as exc:
        raise JobError(f"{what} failed: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TransientStoreError)
