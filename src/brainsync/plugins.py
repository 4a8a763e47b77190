"""The plugin manager, built on demand, and the built-in types shipped as a plugin."""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from brainsync import hookspecs
from brainsync.entities import EntityType, NoteType, PostType, validate_type_name
from brainsync.errors import ConfigError

__all__ = ["BuiltinTypes", "build_plugin_manager", "entity_types"]


class BuiltinTypes:
    """Registers ``note`` and ``post`` through the same hook third parties use; without
    ``post`` (setting ``builtin_types = false``) only ``note``, which is always there."""

    def __init__(self, with_post: bool = True) -> None:
        self._with_post = with_post

    @hookspecs.hookimpl
    def brainsync_entity_types(self) -> list[EntityType]:
        return [NoteType(), PostType()] if self._with_post else [NoteType()]


def build_plugin_manager(
    extra: Iterable[object] = (), *, load_entry_points: bool = True, builtin_types: bool = True
) -> pluggy.PluginManager:
    """A fresh plugin manager with the built-ins, installed plugins and ``extra``.

    ``builtin_types`` False leaves out the built-in ``post`` type: a ``post/`` folder then
    holds notes, like any folder that is not a type's.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(BuiltinTypes(builtin_types), name="brainsync-builtin-types")
    if load_entry_points:
        manager.load_setuptools_entrypoints(hookspecs.PROJECT)
    for plugin in extra:
        manager.register(plugin)
    return manager


def entity_types(manager: pluggy.PluginManager) -> dict[str, EntityType]:
    """All registered entity types by name; two plugins claiming one name is an error."""
    found: dict[str, EntityType] = {}
    for batch in manager.hook.brainsync_entity_types():
        for entity_type in batch:
            name = validate_type_name(entity_type.name)
            if name in found:
                raise ConfigError(f"entity type {name!r} is registered twice")
            found[name] = entity_type
    return found
