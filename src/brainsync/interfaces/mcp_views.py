"""What the MCP tools return: typed results built from the library's views, cut to size.

Each result is the library's own view (``to_dict`` of an entity, job, report or status)
validated into a model, so clients get a schema; every result stays within about 20k
characters: documents come in slices, report lists are cut with a count of the rest, and
lists page with opaque cursors (the last key, or an offset, base64url-encoded JSON).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from brainsync.entities import Entity, EntityKey
    from brainsync.jobs import Job

__all__ = [
    "DeleteResult",
    "EntityDocument",
    "EntityItem",
    "EntityPage",
    "JobItem",
    "JobPage",
    "JobStarted",
    "JobView",
    "PutResult",
    "StateName",
    "StatusView",
    "bounded",
    "document_slice",
    "entity_item",
    "job_cursor",
    "job_offset",
    "job_view",
    "key_after",
    "key_cursor",
    "status_view",
    "tool_words",
]

LIST_ITEMS = 20  # items of each list in a report or status
_TITLE_CHARS, _METADATA_CHARS = 200, 4_000
_FULL_REPORT = "counts per list are in omitted"
_BAD_CURSOR = "This cursor is not valid here; call again without cursor to start over."

StateName = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class EntityItem(BaseModel):
    type: str
    id: str
    title: str | None
    updated: str
    version: int


class EntityPage(BaseModel):
    items: list[EntityItem]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: done.")
    note: str | None = None


class EntityDocument(BaseModel):
    type: str
    id: str
    version: int
    content_hash: str
    created: str
    updated: str
    metadata: dict[str, Any] | None = Field(description="The frontmatter; null when huge.")
    document: str = Field(description="The markdown (frontmatter, then body): this slice.")
    offset: int
    total_chars: int
    truncated: bool
    next_offset: int | None
    note: str | None = None


class PutResult(BaseModel):
    type: str
    id: str
    version: int
    outcome: Literal["created", "updated", "unchanged"]


class DeleteResult(BaseModel):
    type: str
    id: str
    deleted: bool
    note: str


class JobStarted(BaseModel):
    job_id: str
    state: str
    tip: str


class ProgressView(BaseModel):
    current: int
    total: int
    message: str
    rate: float | None = Field(description="Items per second.")
    eta_seconds: float | None


class Failure(BaseModel):
    type: str
    message: str
    exit_code: int


class JobView(BaseModel):
    id: str
    kind: str
    state: StateName
    stalled: bool
    params: dict[str, Any]
    progress: ProgressView
    created: str | None
    started: str | None
    finished: str | None
    error: str | None
    failure: Failure | None = None
    result: dict[str, Any] | None = Field(description="The report, once the job is done.")
    interrupted: dict[str, Any] | None = Field(
        default=None, description="Running, but its worker (host, executor) is gone since."
    )
    tip: str


class JobItem(BaseModel):
    id: str
    kind: str
    state: StateName
    stalled: bool
    progress: str
    errors: int
    summary: str


class JobPage(BaseModel):
    items: list[JobItem]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: done.")


class StatusView(BaseModel):
    directory: str
    store: str
    counts: dict[str, int]
    entities: int
    folder: dict[str, Any] | None = Field(description="This directory's folder and its runs.")
    folders: list[dict[str, Any]] = Field(description="Every folder of the store, any host.")
    tracked_files: int
    last_runs: dict[str, str]
    pending: dict[str, Any] | None = Field(description="What the next sync would do (dry run).")
    ignored: dict[str, int] = {}
    problem: str | None = Field(description="Why the next sync would refuse, if it would.")
    jobs: list[JobItem]
    watch: list[dict[str, Any]] = Field(
        default=[], description="Watch mode of each watched folder: mode, reason, last batch."
    )
    watch_note: str | None = Field(default=None, description="Watch mode of this server.")
    omitted: dict[str, int] = {}
    note: str | None = None


def _encode(**data: Any) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, kind: str, **fields: type) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        data = None
    if not isinstance(data, dict) or data.get("k") != kind:
        raise ToolError(_BAD_CURSOR)
    if not all(isinstance(data.get(name), cls) for name, cls in fields.items()):
        raise ToolError(_BAD_CURSOR)
    return data


def key_after(cursor: str | None) -> EntityKey | None:
    """The last key of the page before ``cursor`` (None: start at the beginning)."""
    if cursor is None:
        return None
    from brainsync.entities import EntityKey

    data = _decode(cursor, "entity", t=str, i=str)
    return EntityKey(data["t"], data["i"])


def key_cursor(key: EntityKey) -> str:
    """The cursor of the entities page after ``key``."""
    return _encode(k="entity", t=key.type, i=key.id)


def bounded(view: dict[str, Any] | None, where: str = _FULL_REPORT) -> dict[str, Any] | None:
    """A report (or status) view with every list cut to its first items, and a note."""
    if view is None:
        return None
    cut = {k: v[:LIST_ITEMS] if isinstance(v, list) else v for k, v in view.items()}
    omitted = {k: len(v) - LIST_ITEMS for k, v in view.items() if isinstance(v, list)}
    omitted = {k: n for k, n in omitted.items() if n > 0}
    if omitted:
        cut["omitted"] = omitted
        cut["note"] = f"Lists cut to their first {LIST_ITEMS} items; {where}."
    return cut


def entity_item(entity: Entity) -> EntityItem:
    """An entity as a listing shows it (no document)."""
    title = entity.title[:_TITLE_CHARS] if entity.title else None
    data = entity.to_dict(with_document=False)
    return EntityItem.model_validate({**data, "title": title})


def document_slice(entity: Entity, offset: int, max_chars: int) -> EntityDocument:
    """An entity with ``max_chars`` of its document from ``offset``, and how to go on."""
    total = len(entity.document)
    if offset > total:
        raise ToolError(f"offset {offset} is past the end ({total} characters); use a smaller one.")
    end = min(total, offset + max_chars)
    data = entity.to_dict(with_document=False)
    if len(json.dumps(data["metadata"], default=str)) > _METADATA_CHARS:
        data["metadata"] = None
    truncated = end < total
    return EntityDocument(
        **data,
        document=entity.document[offset:end],
        offset=offset,
        total_chars=total,
        truncated=truncated,
        next_offset=end if truncated else None,
        note=f"Truncated: call again with offset={end} for the rest." if truncated else None,
    )


_TIPS = {
    "queued": "Queued; this server's worker runs it. get_job with wait_seconds=20 follows it.",
    "running": "get_job with wait_seconds=20 follows it; cancel_job stops it at a chunk end.",
    "succeeded": "Done: result has the counts, conflicts, skipped files and errors.",
    "failed": "Failed: read error and failure, fix the cause, then start_job again.",
    "cancelled": "Cancelled: resume_job continues it from its last finished chunk.",
}
_STALLED = "Stalled past its deadline: cancel_job frees its folder; resume_job restarts it."
_INTERRUPTED = "Interrupted (its worker is gone): resume_job goes on from its last chunk."


def job_view(job: Job) -> JobView:
    """A job (``Job.to_dict``) with its report cut to size and a tip for the next step."""
    data = job.to_dict()
    data["result"] = bounded(data.get("result"))
    return JobView.model_validate(tool_words({**data, "tip": _tip(job)}))


def _tip(job: Job) -> str:
    if job.interrupted is not None:
        return _INTERRUPTED
    return _STALLED if job.stalled else _TIPS[job.state.value]


#: The library's words name CLI commands (a run's "resolve" advice, an error's next step);
#: an agent has tools instead. Each pattern, and the tool that does the same.
_TOOL_WORDS = (
    (
        re.compile(r"`?brainsync (export|import|sync) --(restore|force)(-deletes)?`?"),
        r"start_job \1 with \2\3",
    ),
    (re.compile(r"`?brainsync (export|import|sync)(?: --[^\s`]+)*`?"), r"start_job \1"),
    (re.compile(r"`?brainsync job show [^\s`]+(?: --json)?`?"), "get_job"),
    (re.compile(r"`?brainsync job follow [^\s`]+`?"), "get_job with wait_seconds"),
    (re.compile(r"`?brainsync job (cancel|resume) [^\s`]+`?"), r"\1_job"),
    (re.compile(r"with force-deletes"), "with force_deletes"),
    (re.compile(r"`?brainsync jobs`?"), "list_jobs"),
    (re.compile(r"`?brainsync status(?: --[^\s`]+)*`?"), "brain_status"),
)


def tool_words(value: Any) -> Any:
    """``value`` (text, or a view's lists and mappings) with CLI commands named as tools."""
    if isinstance(value, str):
        for pattern, tool in _TOOL_WORDS:
            value = pattern.sub(tool, value)
        return value
    if isinstance(value, list):
        return [tool_words(item) for item in value]
    if isinstance(value, dict):
        return {key: tool_words(item) for key, item in value.items()}
    return value


def status_view(
    data: dict[str, Any], watch: Sequence[dict[str, Any]] = (), watch_note: str | None = None
) -> StatusView:
    """The status view (``Status.to_dict``), with watch states (``WatchState.to_dict``),
    its lists and its pending report cut."""
    cut = bounded({**data, "watch": list(watch)}) or {}
    view = {**cut, "pending": bounded(data["pending"]), "watch_note": watch_note}
    return StatusView.model_validate(tool_words(view))


def job_cursor(offset: int) -> str:
    """The cursor of the jobs page starting at ``offset``."""
    return _encode(k="job", o=offset)


def job_offset(cursor: str | None) -> int:
    """Where the jobs page of ``cursor`` starts."""
    offset = 0 if cursor is None else int(_decode(cursor, "job", o=int)["o"])
    if offset < 0:
        raise ToolError(_BAD_CURSOR)
    return offset
