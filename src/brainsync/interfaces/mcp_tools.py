"""The MCP tools: each reads its arguments, calls the facade and shapes the result.

Written for a model: a tool's description (its docstring) says what it does, when to use
it rather than its sibling and what it changes; its results are shaped in
:mod:`brainsync.interfaces.mcp_views`. Library errors become tool errors that say what to
do next; nothing internal (a traceback, a driver message, a server path) leaks.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp_types import CallToolResult, InputRequiredResult, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from brainsync.errors import (
    BrainsyncError,
    ConfigError,
    ConflictError,
    InvalidInputError,
    JobError,
    NotFoundError,
    SafetyError,
    StoreError,
    TransientStoreError,
)
from brainsync.interfaces.mcp_views import (
    DeleteResult,
    EntityDocument,
    EntityPage,
    JobItem,
    JobPage,
    JobStarted,
    JobView,
    PutResult,
    StateName,
    StatusView,
    document_slice,
    entity_item,
    job_cursor,
    job_offset,
    job_view,
    key_after,
    key_cursor,
    status_view,
    tool_words,
)

if TYPE_CHECKING:
    from mcp.server.mcpserver.tools.base import Tool

    from brainsync.app import Brain
    from brainsync.entities import Entity, EntityKey
    from brainsync.interfaces.mcp import LazyBrain
    from brainsync.jobs import Job, JobService

__all__ = ["BrainServer", "BrainTools", "describe", "tool_errors"]

log = logging.getLogger("brainsync.mcp")

MAX_CHARS, DEFAULT_CHARS = 20_000, 10_000  # of a document, per get_entity call
SCAN_BUDGET = 2_000  # entities one list_entities query looks at before handing back a cursor
_SEARCH_PAGE, _POLL_SECONDS = 500, 0.2

Kind = Literal["export", "import", "sync"]
Policy = Literal["merge", "keep-both", "file-wins", "db-wins", "fail"]
TypeArg = Annotated[str, Field(description="Entity type, e.g. 'note' or 'post'.")]
IdArg = Annotated[
    str, Field(description="Id in its type; ':' nests folders: 'ideas:reading-list'.")
]
JobIdArg = Annotated[str, Field(description="A job id from start_job or list_jobs.")]
IfVersion = Annotated[
    int | None, Field(ge=0, description="Act only if the stored version is this; 0: absent.")
]
Cursor = Annotated[str | None, Field(description="next_cursor of the previous page.")]
Limit = Annotated[int, Field(ge=1, le=100, description="Items per page (at most 100).")]
HISTORY_ITEMS = 50  # newest versions an entity_history call returns


class VersionItem(BaseModel):
    version: int
    deleted: bool
    content_hash: str | None
    updated: str
    recorded: str
    writer: str | None
    life: int = Field(description="1; one more each time it was created again after a delete.")


class HistoryView(BaseModel):
    type: str
    id: str
    items: list[VersionItem] = Field(description="Kept versions, oldest first.")
    omitted: int = Field(description="Older versions left out of this answer.")


# -- errors ------------------------------------------------------------------------------


class BrainServer(MCPServer):
    """The SDK's server, with argument errors worded as what to fix (not a validator dump)."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context | None = None
    ) -> CallToolResult | InputRequiredResult:
        _refuse_unknown(self._tool_manager.get_tool(name), name, arguments)
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if not isinstance(exc.__cause__, ValidationError):
                raise
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'arguments'}: {error['msg']}"
                for error in exc.__cause__.errors()
            )
            message = f"Invalid arguments for {name}: {problems}. Fix them and call again."
            raise ToolError(message) from exc.__cause__


def _refuse_unknown(tool: Tool | None, name: str, arguments: dict[str, Any]) -> None:
    """A tool error naming every argument the tool does not take, and those it does."""
    if tool is None:
        return  # the SDK says the tool is unknown
    accepted = sorted(tool.parameters.get("properties", {}))
    unknown = sorted(set(arguments) - set(accepted))
    if unknown:
        them = ", ".join(unknown)
        takes = ", ".join(accepted) or "no arguments"
        raise ToolError(
            f"Unknown argument for {name}: {them}. It takes: {takes}. "
            "Nothing was done: fix the call and try again."
        )


_NEXT_STEP: tuple[tuple[type[BrainsyncError], str], ...] = (
    (NotFoundError, "Check the id: list_entities and list_jobs show what exists."),
    (ConflictError, "Nothing was written: get_entity again, then retry with its version."),
    (InvalidInputError, "Nothing was changed: fix the argument and call again."),
    (SafetyError, "Nothing was changed: check the folder; force_deletes only if intended."),
    (JobError, "get_job shows the job's state; list_jobs lists the jobs."),
    (ConfigError, "The server's configuration needs fixing by its user."),
)


@contextmanager
def tool_errors() -> Iterator[None]:
    """Turn library errors into tool errors that say what to do next."""
    try:
        yield
    except TransientStoreError as exc:
        raise ToolError("The store is busy (locked); nothing was changed. Retry shortly.") from exc
    except BrainsyncError as exc:
        raise ToolError(describe(exc)) from exc


def describe(exc: BrainsyncError) -> str:
    """The model-facing text of a library error: its message and the next step."""
    cause = exc.__cause__
    engine_failed = isinstance(exc, JobError) and cause and not isinstance(cause, BrainsyncError)
    if isinstance(exc, StoreError) or engine_failed:  # a driver's words: not for the model
        log.error("store or job engine failure", exc_info=exc)  # the details stay in the log
        return "The store failed; nothing was changed. Retry later; the server log has details."
    step = next((text for cls, text in _NEXT_STEP if isinstance(exc, cls)), "")
    return str(tool_words(f"{str(exc).rstrip('.')}. {step}".strip()))


# -- the tools ------------------------------------------------------------------------------


class BrainTools:
    """The tools of ``brainsync mcp`` over one lazily opened brain."""

    def __init__(self, lazy: LazyBrain) -> None:
        self._lazy = lazy

    def brain_status(
        self, pending: Annotated[bool, Field(description="Dry-run a sync too.")] = True
    ) -> StatusView:
        """Show the brain's state: entity counts by type, its folders and their last runs,
        what the next sync would change (pending: conflicts, invalid files with reasons),
        paths left out by ignore rules, watch mode (watching, paused and why, last batch),
        and running and recent jobs with error summaries. Start here. Read-only;
        pending=false skips the dry-run sync on a huge folder."""
        with tool_errors():
            self._lazy.jobs()  # this process is the worker: decided before status looks
            brain = self._lazy.brain()
            data = brain.status(pending=pending).to_dict()
            watch = [state.to_dict() for state in brain.watch_state()]
        return status_view(data, watch, self._watch_note())

    def _watch_note(self) -> str | None:
        if self._lazy.watch_problem:
            return self._lazy.watch_problem
        if self._lazy.watch:
            running = self._lazy.watcher() is not None
            return "This server watches the folder." if running else "Watch mode is starting."
        return None

    def list_entities(
        self,
        type: Annotated[str | None, Field(description="Only this entity type.")] = None,
        query: Annotated[str | None, Field(description="Only ids or titles with this.")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> EntityPage:
        """List entities (type, id, title, updated, version) in (type, id) order, a page at
        a time: follow next_cursor until it is null. query keeps those whose id or title
        contains it (any case). Use it to find ids; get_entity reads one. Read-only."""
        after = key_after(cursor)
        with tool_errors():
            brain = self._lazy.brain()
            if query:
                return _search(brain, type, query, after, limit)
            page = brain.list_entities(type, after, limit + 1)
        more, page = len(page) > limit, page[:limit]
        next_cursor = key_cursor(page[-1].key) if more else None
        return EntityPage(items=[entity_item(entity) for entity in page], next_cursor=next_cursor)

    def get_entity(
        self,
        type: TypeArg,
        id: IdArg,
        offset: Annotated[int, Field(ge=0, description="First character to return.")] = 0,
        max_chars: Annotated[
            int, Field(ge=1, le=MAX_CHARS, description="At most.")
        ] = DEFAULT_CHARS,
        version: Annotated[
            int | None, Field(ge=1, description="An earlier version (entity_history).")
        ] = None,
    ) -> EntityDocument:
        """Read one entity: its markdown document (frontmatter and body), metadata and
        version. A long document comes in slices of max_chars: while truncated is true, call
        again with offset=next_offset. Pass version as if_version to put_entity. version
        reads an earlier kept version instead. Read-only."""
        with tool_errors():
            entity = self._lazy.brain().get_entity(type, id, version=version)
        return document_slice(entity, offset, max_chars)

    def put_entity(
        self,
        type: TypeArg,
        id: IdArg,
        document: Annotated[str | None, Field(description="Whole markdown document.")] = None,
        metadata: Annotated[dict[str, Any] | None, Field(description="Frontmatter.")] = None,
        content: Annotated[str | None, Field(description="Markdown body.")] = None,
        if_version: IfVersion = None,
    ) -> PutResult:
        """Create or replace an entity, from document ('---' frontmatter '---', then the
        body) or from metadata and content. It replaces the whole entity: get_entity first to
        change a part, and pass its version as if_version so no concurrent change is lost.
        Writes the database now; the file follows at the next export or sync (start_job)."""
        if (document is None) == (metadata is None and content is None):
            raise ToolError("Give either document, or metadata and/or content (not both).")
        with tool_errors():
            brain = self._lazy.brain()
            before = _version_of(brain, type, id)
            entity = brain.put_entity(
                type,
                id,
                text=document,
                metadata=metadata,
                content=content,
                if_version=if_version,
                writer="mcp",
            )
        return PutResult(type=type, id=id, version=entity.version, outcome=_outcome(before, entity))

    def entity_history(self, type: TypeArg, id: IdArg) -> HistoryView:
        """List the kept versions of an entity, oldest first: version, time, what wrote it
        (sync:<folder>, api, mcp) and deleted for a delete. get_entity with version reads
        one; revert_entity brings one back. Read-only."""
        with tool_errors():
            history = self._lazy.brain().entity_history(type, id)
        kept = history[-HISTORY_ITEMS:]
        items = [VersionItem.model_validate(row.to_dict()) for row in kept]
        return HistoryView(type=type, id=id, items=items, omitted=len(history) - len(kept))

    def revert_entity(
        self,
        type: TypeArg,
        id: IdArg,
        to: Annotated[int, Field(ge=1, description="The version to bring back.")],
        if_version: IfVersion = None,
    ) -> PutResult:
        """Make an earlier version (from entity_history) current again, as a new version;
        the history is kept, so a revert can itself be reverted. Brings back a deleted
        entity too. Writes the database now; the file follows at the next export or sync."""
        with tool_errors():
            brain = self._lazy.brain()
            before = _version_of(brain, type, id)
            if if_version is not None and (before or 0) != if_version:
                raise ConflictError(f"{type}:{id} is at version {before or 0}, not {if_version}")
            entity = brain.revert_entity(type, id, to=to, writer="mcp")
        return PutResult(type=type, id=id, version=entity.version, outcome=_outcome(before, entity))

    def delete_entity(self, type: TypeArg, id: IdArg, if_version: IfVersion = None) -> DeleteResult:
        """Delete an entity from the database; its file goes at the next export or sync.
        Pass if_version (from get_entity) to delete only the version you read. Deleting an
        entity already absent succeeds with deleted false. revert_entity brings one back."""
        with tool_errors():
            brain = self._lazy.brain()
            current = _version_of(brain, type, id)
            if if_version is not None and (current or 0) != if_version:
                raise ConflictError(f"{type}:{id} is at version {current or 0}, not {if_version}")
            if current is not None:
                try:
                    brain.delete_entity(type, id, writer="mcp")
                except NotFoundError:
                    current = None  # deleted meanwhile
        if current is None:  # idempotent: a second delete finds it gone and succeeds
            note = f"{type}:{id} was already absent from the database; nothing was deleted."
            return DeleteResult(type=type, id=id, deleted=False, note=note)
        note = "Deleted from the database; start_job export or sync removes its file."
        return DeleteResult(type=type, id=id, deleted=True, note=note)

    def start_job(
        self,
        kind: Annotated[Kind, Field(description="export, import or sync.")],
        types: Annotated[list[str] | None, Field(description="Only these types.")] = None,
        dry_run: Annotated[bool, Field(description="Report only; change nothing.")] = False,
        conflict: Annotated[Policy | None, Field(description="Sync's conflict policy.")] = None,
        force_deletes: Annotated[bool, Field(description="Allow mass deletions.")] = False,
        restore: Annotated[
            bool,
            Field(description="Write back what the other side deleted since the last sync."),
        ] = False,
    ) -> JobStarted:
        """Start a durable background job and return its job_id at once, before any work:
        export writes entities to files, import reads files into entities, sync does both
        (edits on both sides merge; overlapping ones keep both sides, unless conflict says
        otherwise). All may create, change
        and delete. dry_run: report only. force_deletes: allow more deletions than the
        configured share. restore (export, import): write back files deleted since the
        last sync (export) or entities deleted (import) instead of leaving them alone.
        Follow the job with get_job; cancel_job stops it."""
        params = {"types": types, "dry_run": dry_run, "conflict": conflict, "restore": restore}
        with tool_errors():
            self._lazy.jobs()
            job_id = self._lazy.brain().start(kind, {**params, "force_deletes": force_deletes})
        tip = "Follow it with get_job(job_id, wait_seconds=20) until it stops running."
        return JobStarted(job_id=job_id, state="queued", tip=tip)

    async def get_job(
        self,
        job_id: JobIdArg,
        ctx: Context,
        wait_seconds: Annotated[float, Field(ge=0, le=20, description="Wait this long.")] = 0,
    ) -> JobView:
        """Show one job: state, progress (current, total, message, rate, ETA), error and,
        once done, its report. wait_seconds (at most 20) waits for it to finish, sending
        progress notifications if you gave a progress token; call again while it runs.
        list_jobs finds job ids. Read-only."""
        with tool_errors():
            service = await anyio.to_thread.run_sync(self._lazy.jobs)
            job = await _follow(service, job_id, wait_seconds, ctx)
        return job_view(job)

    def list_jobs(
        self,
        state: Annotated[StateName | None, Field(description="Only this state.")] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> JobPage:
        """List jobs, newest first, with state, progress and an error summary; follow
        next_cursor for older ones. get_job shows one job's full report. Read-only."""
        offset = job_offset(cursor)
        with tool_errors():
            from brainsync.jobs import JobState
            from brainsync.status import job_summary

            jobs = self._lazy.jobs().list(JobState(state) if state else None, offset + limit + 1)
        page = jobs[offset : offset + limit]
        items = [JobItem.model_validate(tool_words(job_summary(job))) for job in page]
        more = len(jobs) > offset + limit
        return JobPage(items=items, next_cursor=job_cursor(offset + limit) if more else None)

    def cancel_job(self, job_id: JobIdArg) -> JobView:
        """Cancel a job: a queued one at once, a running one at its next chunk boundary
        (what it wrote stays). resume_job continues it later. A finished job stays as is."""
        with tool_errors():
            return job_view(self._lazy.jobs().cancel(job_id))

    def resume_job(self, job_id: JobIdArg) -> JobView:
        """Resume a cancelled or interrupted job from its last finished chunk; it then
        writes as start_job would. To run a finished job again, use start_job."""
        with tool_errors():
            return job_view(self._lazy.jobs().resume(job_id))

    def read_entity(self, type: str, id: str) -> str:
        """An entity's markdown document (the ``brain://entity/{type}/{id}`` resource)."""
        try:
            return self._lazy.brain().get_entity(type, id).document
        except BrainsyncError as exc:
            raise ResourceError(describe(exc)) from exc

    def register(self, server: MCPServer) -> None:
        """Add the tools, with their annotations, and the entity resource to ``server``."""
        read = _annotations(read_only=True)
        for fn, hints in (
            (self.brain_status, read),
            (self.list_entities, read),
            (self.get_entity, read),
            (self.put_entity, _annotations(destructive=True, idempotent=True)),
            (self.delete_entity, _annotations(destructive=True, idempotent=True)),
            (self.entity_history, read),
            (self.revert_entity, _annotations(destructive=True, idempotent=True)),
            (self.start_job, _annotations(destructive=True, idempotent=False)),
            (self.get_job, read),
            (self.list_jobs, read),
            (self.cancel_job, _annotations(destructive=False, idempotent=True)),
            (self.resume_job, _annotations(destructive=True, idempotent=True)),
        ):
            description = inspect.cleandoc(fn.__doc__ or "")
            server.add_tool(fn, description=description, annotations=hints)
        server.resource("brain://entity/{type}/{+id}", mime_type="text/markdown")(self.read_entity)


def _annotations(
    *, read_only: bool = False, destructive: bool | None = None, idempotent: bool | None = None
) -> ToolAnnotations:
    return ToolAnnotations(
        read_only_hint=read_only,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=False,
    )


def _search(
    brain: Brain, type: str | None, query: str, after: EntityKey | None, limit: int
) -> EntityPage:
    """A page of the entities whose id or title contains ``query``; SCAN_BUDGET at most."""
    items, scanned, needle = [], 0, query.casefold()
    while True:
        page = brain.list_entities(type, after, _SEARCH_PAGE)
        for entity in page:
            after, scanned = entity.key, scanned + 1
            if needle in entity.id.casefold() or needle in (entity.title or "").casefold():
                items.append(entity_item(entity))
            if len(items) == limit or scanned >= SCAN_BUDGET:
                note = None if len(items) == limit else f"Looked at {scanned}; more may match."
                return EntityPage(items=items, next_cursor=key_cursor(entity.key), note=note)
        if len(page) < _SEARCH_PAGE:
            return EntityPage(items=items, next_cursor=None)


def _outcome(before: int | None, entity: Entity) -> Literal["created", "updated", "unchanged"]:
    if before is None:
        return "created"
    return "unchanged" if before == entity.version else "updated"


def _version_of(brain: Brain, type: str, id: str) -> int | None:
    """The stored version of an entity, or None when it does not exist."""
    try:
        return brain.get_entity(type, id).version
    except NotFoundError:
        return None


async def _follow(service: JobService, job_id: str, wait: float, ctx: Context) -> Job:
    """Poll the job until it ends or ``wait`` runs out, reporting each change as progress."""
    deadline = anyio.current_time() + wait
    seen: tuple[object, ...] | None = None
    while True:
        # a worker that left may have left this job to nobody: run it here then
        await anyio.to_thread.run_sync(service.take_over_if_free)
        job = await anyio.to_thread.run_sync(service.status, job_id)
        if wait and (job.state, job.progress) != seen:
            seen = (job.state, job.progress)
            message = f"{job.kind} {job.state.value}: {job.progress.message}".rstrip(": ")
            await ctx.report_progress(job.progress.current, job.progress.total or None, message)
        if job.state.finished or anyio.current_time() >= deadline:
            return job
        await anyio.sleep(min(_POLL_SECONDS, max(0.0, deadline - anyio.current_time())))
