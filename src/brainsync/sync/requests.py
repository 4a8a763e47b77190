"""A run's parameters, as callers give them, turned into a plan request and run options.

The parameters are what a job stores (JSON): ``types`` (type names), ``dry_run``,
``force_deletes``, ``conflict`` (a policy name), ``restore``, ``paths`` (only these paths,
relative to the directory; a folder means everything under it), ``mid_write_seconds`` (a
watcher's: an invalid file younger than this is taken as mid-write). Bad ones fail here,
before a job is queued, with a message that names what is allowed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from brainsync.config import CONFLICT_POLICIES, ConflictPolicy, Durability, Settings
from brainsync.errors import InvalidInputError
from brainsync.sync.decision import Direction
from brainsync.sync.planner import PlanRequest
from brainsync.sync.watch_paths import normalise_paths
from brainsync.sync.work import RunOptions

__all__ = ["KINDS", "run_request"]

#: The operations a run or a job can be.
KINDS = tuple(direction.value for direction in Direction)


def run_request(
    settings: Settings,
    types: Collection[str],
    kind: str,
    params: Mapping[str, Any],
    folder: str | None = None,
) -> tuple[PlanRequest, RunOptions]:
    """The plan request and run options of a run of ``kind`` on ``folder``'s sync state.

    ``types`` are the registered entity types; ``folder`` None is a folder with no state.
    """
    if kind not in KINDS:
        raise InvalidInputError(f"unknown operation {kind!r}; expected one of {KINDS}")
    direction = Direction(kind)
    wanted = tuple(params.get("types") or ())
    for name in wanted:
        if name not in types:
            raise InvalidInputError(f"unknown entity type {name!r}")
    policy = params.get("conflict") or settings.conflict_policy
    if policy not in CONFLICT_POLICIES:
        raise InvalidInputError(f"conflict policy must be one of {', '.join(CONFLICT_POLICIES)}")
    request = PlanRequest(
        direction,
        folder,
        wanted,
        bool(params.get("force_deletes", False)),
        settings.propagate_deletes,
        settings.delete_share,
        settings.mass_delete_min,
        settings.max_file_bytes,
        settings.chunk_size,
        paths=normalise_paths(params.get("paths") or ()),
        dry_run=bool(params.get("dry_run", False)),
    )
    options = RunOptions(
        direction,
        folder,
        ConflictPolicy(policy),
        settings.propagate_deletes,
        bool(params.get("dry_run", False)),
        settings.fsync,
        settings.chunk_pause_seconds,
        bool(params.get("restore", False)),
        max_file_bytes=settings.max_file_bytes,
        mid_write_seconds=_seconds(params.get("mid_write_seconds", 0.0)),
        durable=settings.durability is Durability.FULL,
        overwrite_readonly=settings.overwrite_readonly,
    )
    return request, options


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 60:
        raise InvalidInputError("mid_write_seconds must be a number of seconds from 0 to 60")
    return float(value)
