"""The facade: one object that opens the store, the plugins and the sync engine.

The CLI, the MCP server and Python callers all go through :class:`Brain`; no rule lives
in an interface. Everything that can take long exists in two forms: inline (``export``,
``import_``, ``sync``) and as a durable background job (``start``), running the same code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from brainsync.config import Settings
from brainsync.entities import Entity, EntityKey, EntityType
from brainsync.entity_access import EntityAccess
from brainsync.errors import (
    BrainsyncError,
)
from brainsync.events import EventBus
from brainsync.placement import EmptyStore, open_brain_store, place_state
from brainsync.plugins import build_plugin_manager, entity_types
from brainsync.report import Report
from brainsync.status import Status, job_summary
from brainsync.store import FolderRecord, Store
from brainsync.store.history import EntityVersion, Retention
from brainsync.sync.chunk import RunOptions
from brainsync.sync.engine import SyncEngine
from brainsync.sync.files import FileIO
from brainsync.sync.folder_runs import FolderRuns, check_root
from brainsync.sync.folders import FolderPlace, Joined
from brainsync.sync.last_scan import fresh_scan, save_last_scan
from brainsync.sync.planner import PlanRequest
from brainsync.sync.requests import run_request
from brainsync.sync.scan import IgnoredPath, ignored_paths
from brainsync.sync.watch_jobs import WatchEvent, WatchOptions
from brainsync.sync.watch_state import WatchState, read_watch_states

if TYPE_CHECKING:
    from brainsync.jobs import Job, JobHandle, JobService
    from brainsync.jobs.lock import WorkerLock
    from brainsync.jobs.reader import JobReader, JobRecords
    from brainsync.sync.engine import SyncOperation
    from brainsync.sync.watcher import Watcher

__all__ = ["Brain", "Status"]


class Brain:
    """The brainsync facade over one sync directory and one entity store.

    Without a ``db`` setting the store is the one that remembers this directory, even when
    it was renamed (:mod:`brainsync.placement`). ``read_only``: this brain only reads, and
    creates nothing; a store that does not exist yet reads as an empty one.
    """

    def __init__(
        self, settings: Settings, plugins: Iterable[object] = (), *, read_only: bool = False
    ) -> None:
        place = place_state(settings)
        home = place.home or settings.home
        self.settings = replace(settings, db=place.store_url, jobs_db=place.jobs_url, home=home)
        #: Said in the reports of this brain's runs: how its store was found.
        self.place_notes = [place.note] if place.note else []
        self.read_only = read_only
        self.bus: EventBus[object] = EventBus()
        self._plugins = tuple(plugins)
        manager = build_plugin_manager(self._plugins, builtin_types=settings.builtin_types)
        self.types: dict[str, EntityType] = entity_types(manager)
        self._store: Store | None = None
        self._io: FileIO | None = None
        self._engine: SyncEngine | None = None
        self._jobs: JobService | None = None
        self._reader: JobReader | None = None
        self._worker_lock: WorkerLock | None = None
        self._others: dict[Path, Brain] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Brain:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker (jobs hand back at a chunk boundary), then release everything."""
        if self._jobs is not None:
            self._jobs.close()
            self._jobs = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._worker_lock is not None:
            self._worker_lock.release()
            self._worker_lock = None
        for other in self._others.values():
            other.close()
        self._others.clear()
        if self._io is not None:
            self._io.close()
        if self._store is not None:
            self._store.close()
        self._store = self._io = self._engine = None

    @property
    def store(self) -> Store:
        """The entity store, opened on first use."""
        if self._store is None:
            self._store = open_brain_store(self.settings, read_only=self.read_only)
            days = self.settings.history_keep_days
            self._store.retention = Retention(self.settings.history_keep_versions, days or None)
        return self._store

    @property
    def engine(self) -> SyncEngine:
        """The sync engine bound to this brain's store and directory."""
        if self._engine is None:
            self._io = FileIO(self.settings.io_threads)
            self._engine = SyncEngine(
                self.store, self.settings.root, self.types, self._io, self.bus
            )
        return self._engine

    # -- folders ----------------------------------------------------------------------------

    @property
    def _folder_runs(self) -> FolderRuns:
        s = self.settings
        # resolved: a directory reached through a link or ``..`` is one folder, one lane
        place = FolderPlace(s.host, s.root.resolve(), s.folder_label or s.root.name)
        return FolderRuns(self.store, s.state_home, place)

    def folder(self) -> FolderRecord | None:
        """The folder this brain's directory is in the store, or None before it joins."""
        return self._folder_runs.find()

    def join_folder(self) -> Joined:
        """This directory's folder, registered first if the store does not know it yet."""
        return self._folder_runs.join()

    def folders(self) -> list[FolderRecord]:
        """Every folder the store keeps in sync (any host), oldest first."""
        return self.store.list_folders()

    def forget_folder(self, folder_id: str) -> FolderRecord:
        """Drop a folder's sync state; no entity and no file is ever deleted by this.

        ``folder_id`` may be a unique prefix of at least 4 characters. The directory joins
        again as a new folder at its next run.
        """
        return self._folder_runs.forget(folder_id)

    # -- export / import / sync -------------------------------------------------------------

    def request(
        self, kind: str, params: Mapping[str, Any], folder: str | None = None
    ) -> tuple[PlanRequest, RunOptions]:
        """Turn a job kind and its parameters into a plan request and run options
        (see :mod:`brainsync.sync.requests`); ``folder`` is the folder whose sync state the
        run uses (None: a folder with no state yet)."""
        return run_request(self.settings, self.types, kind, params, folder)

    def run(
        self,
        kind: str,
        params: Mapping[str, Any] | None = None,
        on_chunk: Callable[[int, int], None] | None = None,
    ) -> Report:
        """Run an export, import or sync inline, in this thread, and return its report."""
        return self.engine.run(self.operation(kind, params), on_chunk)

    def operation(self, kind: str, params: Mapping[str, Any] | None = None) -> SyncOperation:
        """The chunked operation a run of ``kind`` executes (a real run joins the folder)."""
        params = params or {}
        self.check_run(kind, params)  # fails before the folder joins
        folder, notes = self._folder_runs.for_run(kind, bool(params.get("dry_run")))
        request, options = self.request(kind, params, folder)
        return self.engine.operation(request, options, [*self.place_notes, *notes])

    def check_run(self, kind: str, params: Mapping[str, Any]) -> None:
        """Refuse a run that cannot start before anything is opened or created: bad
        parameters, or a sync directory that is not a readable directory (a missing one
        only for an export, which creates it, or where the store knows the folder)."""
        self.request(kind, params)
        check_root(self.settings.root, kind, self.settings.store_url)

    def export(self, **params: Any) -> Report:
        """Write entities to files (inline). See :meth:`run` for the parameters."""
        return self.run("export", params)

    def import_(self, **params: Any) -> Report:
        """Read files into entities (inline)."""
        return self.run("import", params)

    def sync(self, **params: Any) -> Report:
        """Both directions in one run, conflicts resolved by policy (inline)."""
        return self.run("sync", params)

    # -- durable jobs ----------------------------------------------------------------------

    def jobs(
        self, *, worker: bool = True, require_worker: bool = False, brief: bool = False
    ) -> JobService:
        """The job service, opened on first use; ``worker`` makes this process run jobs.

        When another live worker holds this executor id, this process enqueues and
        observes, unless ``require_worker`` makes that an error; ``brief`` says this
        process ends once its own job does, which makes its shutdown quicker
        (:func:`~brainsync.jobs.opening.open_job_service`). The first call decides the
        mode; an observer that wanted to be a worker becomes one when that worker leaves.
        """
        if self._jobs is None:
            from brainsync.jobs.opening import open_job_service  # imports the job engine

            self._jobs, self._worker_lock = open_job_service(
                self.settings,
                self._operation,
                worker=worker,
                require_worker=require_worker,
                brief=brief,
            )
        return self._jobs

    def start(
        self, kind: str, params: Mapping[str, Any] | None = None, *, worker: bool = True
    ) -> str:
        """Enqueue an export, import or sync as a durable job; returns its id at once.

        Jobs of one folder never run at the same time (the folder is the lane). A real run
        joins the folder now, so the job carries its folder's id. It runs on this host's
        workers, or on any host's when ``settings.shared_folder`` says every host reaches
        the folder (recorded in the job as ``shared``).
        """
        job_params = {k: v for k, v in (params or {}).items() if v not in (None, (), [])}
        self.check_run(kind, job_params)  # bad parameters fail now, not inside the job
        folder, notes = self._folder_runs.for_run(kind, bool(job_params.get("dry_run")))
        notes = [*self.place_notes, *notes]
        job_params["directory"] = str(self.settings.root)
        if folder is not None:
            job_params["folder"] = folder
        if notes:
            job_params["notes"] = notes
        lane = folder or f"directory:{self.settings.root}"
        host = None if self.settings.shared_folder else self.settings.host
        job_params["shared"] = host is None
        return self.jobs(worker=worker).enqueue(kind, job_params, lane=lane, host=host)

    def submit(
        self, kind: str, params: Mapping[str, Any] | None = None, *, worker: bool = True
    ) -> JobHandle:
        """Like :meth:`start`, returning a handle (status, wait, cancel, resume)."""
        from brainsync.jobs import JobHandle

        job_id = self.start(kind, params, worker=worker)
        return JobHandle(job_id, self.jobs(worker=worker))

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        on_progress: Callable[[Job], None] | None = None,
    ) -> Job:
        """Block until the job finishes (running it here when this process is a worker)."""
        return self.jobs().wait(job_id, timeout, on_progress)

    def _operation(self, kind: str, params: dict[str, Any]) -> SyncOperation:
        """The job engine's factory: the operation a job runs, for its own directory."""
        brain = self._brain_for(Path(params.get("directory") or self.settings.root))
        folder = params.get("folder")
        if folder is not None:
            brain._folder_runs.check(folder)
        request, options = brain.request(kind, params, folder)
        return brain.engine.operation(request, options, params.get("notes", ()))

    def _brain_for(self, directory: Path) -> Brain:
        """This brain, or one for another directory with the same settings (worker mode)."""
        if directory == self.settings.root:
            return self
        with self._lock:
            if directory not in self._others:
                settings = replace(self.settings, directory=directory)
                self._others[directory] = Brain(settings, self._plugins)
            return self._others[directory]

    # -- entities ---------------------------------------------------------------------------

    @property
    def _entities(self) -> EntityAccess:
        return EntityAccess(
            self.store,
            self.types,
            self.engine.mapper,
            self.bus,
            self.settings.max_file_bytes,
            self.settings.root,
        )

    def put_entity(
        self,
        type: str,
        id: str,
        *,
        text: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        content: str | None = None,
        if_version: int | None = None,
        writer: str = "api",
    ) -> Entity:
        """Create or update an entity from full markdown ``text`` or from its parts.

        ``if_version`` makes the write conditional: it fails with ConflictError unless the
        stored entity has that version (0: must not exist), so a late update can never
        resurrect an entity deleted meanwhile. An update that changes nothing creates no
        version and no event. ``writer`` is what the entity history says wrote it.
        """
        return self._entities.put_entity(
            type,
            id,
            text=text,
            metadata=metadata,
            content=content,
            if_version=if_version,
            writer=writer,
        )

    def get_entity(self, type: str, id: str, version: int | None = None) -> Entity:
        """The entity (or its kept ``version`` from the history), or NotFoundError."""
        return self._entities.get_entity(type, id, version)

    def entity_history(self, type: str, id: str) -> list[EntityVersion]:
        """Every kept version of an entity, oldest first (a delete shows as a tombstone)."""
        return self._entities.entity_history(type, id)

    def revert_entity(self, type: str, id: str, to: int, *, writer: str = "api") -> Entity:
        """Make version ``to`` current again, as a new version (history is never rewritten)."""
        return self._entities.revert_entity(type, id, to, writer=writer)

    def list_entities(
        self, type: str | None = None, after: EntityKey | None = None, limit: int = 500
    ) -> list[Entity]:
        """One keyset page of entities, ordered by (type, id)."""
        return self._entities.list_entities(type, after, limit)

    def delete_entity(
        self, type: str, id: str, *, if_version: int | None = None, writer: str = "api"
    ) -> None:
        """Delete the entity (its file goes at the next export or sync); ``if_version``
        deletes only that version (ConflictError otherwise)."""
        self._entities.delete_entity(type, id, if_version=if_version, writer=writer)

    # -- status -----------------------------------------------------------------------------

    def job_records(self) -> JobRecords:
        """Jobs to read (list, status): the job service when open, else a reader that
        never imports or starts the job engine (quick commands stay quick)."""
        if self._jobs is not None:
            return self._jobs
        return self._job_reader()

    def job_id(self, given: str) -> str:
        """The id of the job ``given`` names: an id or a unique prefix of 4+ characters."""
        return self._job_reader().resolve(given)

    def _job_reader(self) -> JobReader:
        if self._reader is None:
            from brainsync.jobs.reader import JobReader

            self._reader = JobReader(
                self.settings.jobs_url,
                deadline_seconds=self.settings.job_deadline_seconds,
                dead_after_seconds=self.settings.host_dead_seconds,
            )
        return self._reader

    def status(self, *, pending: bool = False) -> Status:
        """Counts, last runs, jobs and watch state, from stored facts (at once at any size).

        ``pending`` also plans a dry-run sync now (what the next sync would do), and keeps
        its summary as the folder's last scan, which a plain status then shows with its age.
        """
        folder = self.folder()
        report, problem = self._plan_pending(folder) if pending else (None, None)
        return Status(
            jobs=[job_summary(job) for job in self.job_records().list(limit=10)],
            directory=str(self.settings.root),
            store=self.store.url,
            store_exists=not isinstance(self.store, EmptyStore),
            counts=self.store.count_by_type(),
            folder=folder,
            folders=self.store.list_folders(),
            pending=report,
            problem=problem,
            watch=self.watch_state(),
            last_scan=None if pending or folder is None else fresh_scan(self.store, folder),
        )

    def _plan_pending(self, folder: FolderRecord | None) -> tuple[Report | None, str | None]:
        try:
            report = self.run("sync", {"dry_run": True})
        except BrainsyncError as exc:  # status must answer even when a sync would refuse
            return None, str(exc)
        if folder is not None:
            save_last_scan(self.store, folder.id, report)
        return report, report.refused

    # -- watch ------------------------------------------------------------------------------

    def watch(
        self,
        *,
        import_files: bool = True,
        export_entities: bool = True,
        on_event: Callable[[WatchEvent], None] | None = None,
    ) -> Watcher:
        """A watcher keeping this folder and the store in sync while it runs (``with``)."""
        from brainsync.sync.watcher import Watcher

        options = WatchOptions.from_settings(
            self.settings, import_files=import_files, export_entities=export_entities
        )
        return Watcher(self, options, on_event)

    def watch_state(self) -> list[WatchState]:
        """The watch state of every folder watched from this state folder, any process."""
        return read_watch_states(self.settings.state_home)

    def ignored(self) -> list[IgnoredPath]:
        """Every path under the directory that an ignore rule leaves out, with its rule."""
        return ignored_paths(self.settings.root, self.settings.max_file_bytes)
