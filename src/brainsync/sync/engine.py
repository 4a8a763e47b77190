"""Export, import and sync as chunked operations: a plan, then idempotent chunks.

:class:`SyncOperation` is the shape the job engine runs (``plan`` once, ``run_chunk``
per chunk); :meth:`SyncEngine.run` runs the same operation inline for one-shot calls and
tests. Both paths execute exactly the same code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

from brainsync.entities import EntityType
from brainsync.errors import NotFoundError
from brainsync.events import EventBus
from brainsync.report import Report
from brainsync.store import Store
from brainsync.sync.chunk import ChunkRunner, RunOptions
from brainsync.sync.files import FileIO, sweep_temp_files
from brainsync.sync.ignore import IgnoreRule
from brainsync.sync.paths import PathMapper
from brainsync.sync.planner import Plan, Planner, PlanRequest
from brainsync.sync.scan import check_same_root, root_identity

__all__ = ["SyncEngine", "SyncOperation"]

Chunk = dict[str, Any]


class SyncEngine:
    """The sync machinery bound to one store, one root and one set of entity types."""

    def __init__(
        self,
        store: Store,
        root: Path,
        types: Mapping[str, EntityType],
        io: FileIO,
        bus: EventBus[object] | None = None,
    ) -> None:
        self.store = store
        self.root = root
        self.mapper = PathMapper(types)
        self.planner = Planner(store, self.mapper, root)
        self.runner = ChunkRunner(store, root, types, io, bus)

    def operation(
        self, request: PlanRequest, options: RunOptions, notes: Sequence[str] = ()
    ) -> SyncOperation:
        """A chunked operation for the job engine (or for :meth:`run`); ``notes`` go to
        its report (how the folder was found, say)."""
        return SyncOperation(self, request, options, notes)

    @staticmethod
    def run(operation: SyncOperation, on_chunk: Callable[[int, int], None] | None = None) -> Report:
        """Plan and run every chunk inline; ``on_chunk(done, total)`` after each one."""
        chunks = operation.plan()
        total = chunks.item_count  # counted from the plan: each chunk is built once, to run
        report, done = Report(dry_run=operation.dry_run), 0
        for chunk in chunks:
            report.merge(operation.run_chunk(chunk))
            done += operation.chunk_size(chunk)
            if on_chunk is not None:
                on_chunk(done, total)
        return report


class SyncOperation:
    """One export, import or sync run, split into chunks the job engine can checkpoint."""

    def __init__(
        self,
        engine: SyncEngine,
        request: PlanRequest,
        options: RunOptions,
        notes: Sequence[str] = (),
    ) -> None:
        self._engine = engine
        self._request = request
        self._options = options
        self._notes = list(notes)

    @property
    def dry_run(self) -> bool:
        """Whether the run only reports what it would do."""
        return self._options.dry_run

    def plan(self) -> PlannedChunks:
        """Plan the run; the first chunk carries what the plan counted itself."""
        folder = self._request.folder
        if folder is not None and self._engine.store.get_folder(folder) is None:
            raise NotFoundError(
                f"folder {folder} was forgotten after this run was queued; start the run "
                "again and the directory joins as a new folder"
            )
        plan = self._engine.planner.plan(self._request)
        # litter of a writer killed mid-write (catalogue K1), from the plan's own scan; a
        # watcher's batch over a few paths leaves it to the full runs (its startup
        # reconcile, its rescans)
        if not self._options.dry_run and not self._request.paths:
            _sweep(self._engine.root, plan)
        plan.report.notes.extend(self._notes)
        if plan.new_folder:
            root = self._engine.root
            plan.report.notes.append(f"{root} does not exist yet; the export creates it")
        # a new folder has no identity yet: its dry run reads nothing from it
        identity = [] if plan.new_folder else root_identity(self._engine.root)
        return PlannedChunks(plan, identity, self._request.direction.value)

    def run_chunk(self, chunk: Chunk) -> Report:
        """Run one chunk; idempotent, so a chunk re-run after a crash changes nothing more."""
        if chunk["items"]:
            if chunk["root"] or not self._options.dry_run:
                check_same_root(self._engine.root, chunk["root"])
            if self._options.pause_seconds:
                time.sleep(self._options.pause_seconds)
        report = self._engine.runner.run(chunk["items"], self._options)
        if "carry" in chunk:
            report.merge(Report.from_dict(chunk["carry"]))
        folder = self._options.folder
        if "finish" in chunk and not self._options.dry_run and folder is not None:
            self._engine.store.folder_ran(folder, chunk["finish"], datetime.now(UTC))
        report.dry_run = self._options.dry_run
        return report

    def chunk_size(self, chunk: Chunk) -> int:
        """Items in the chunk, for progress."""
        return len(chunk["items"])


class PlannedChunks(Sequence[Chunk]):
    """A plan's chunks, each built when it is asked for: a job stores them and an inline
    run runs them one at a time, so a plan of 100k files never holds all its items as
    chunk mappings at once. After the item chunks comes one that
    finishes the run; the first chunk carries what the plan counted itself."""

    def __init__(self, plan: Plan, root: list[int], finish: str) -> None:
        self._plan = plan
        self._root = root
        self._finish = finish
        self._carry = plan.report.to_dict()

    def __len__(self) -> int:
        return self._plan.chunk_count + 1

    @property
    def item_count(self) -> int:
        """How many items the chunks hold in all (the finishing chunk holds none)."""
        return len(self._plan.candidates)

    @overload
    def __getitem__(self, index: int) -> Chunk: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Chunk]: ...

    def __getitem__(self, index: int | slice) -> Chunk | Sequence[Chunk]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        index %= len(self)
        chunk: Chunk
        if index < self._plan.chunk_count:
            chunk = {"items": self._plan.chunk(index), "root": self._root}
        else:
            chunk = {"items": [], "finish": self._finish}
        if index == 0:
            chunk["carry"] = self._carry
        return chunk


def _sweep(root: Path, plan: Plan) -> None:
    """Remove the stale temp files the plan's scan listed; they are no longer ignored."""
    removed = len(sweep_temp_files(root, plan.temp_files))
    rule = IgnoreRule.BRAINSYNC_TEMP.value
    left = plan.report.ignored.get(rule, 0) - removed
    if left > 0:
        plan.report.ignored[rule] = left
    else:
        plan.report.ignored.pop(rule, None)
