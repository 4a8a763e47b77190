"""The hooks plugins implement (pluggy specifications)."""

from __future__ import annotations

import pluggy

from brainsync.entities import EntityType

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "brainsync"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def brainsync_entity_types() -> list[EntityType]:  # type: ignore[empty-body]
    """Return the entity types this plugin adds (each name registered once)."""
