"""Twins: new files whose names decode to one entity (``a%20b.md`` and ``a b.md``).

The planner keeps one path per entity (two files of one entity would overwrite each
other); this finds the groups it has to judge without a list per new file.
"""

from __future__ import annotations

from collections.abc import Container, Iterator

from brainsync.entities import EntityKey

__all__ = ["twin_groups"]


def twin_groups(
    new_paths: dict[str, EntityKey], record_paths: Container[EntityKey]
) -> Iterator[tuple[EntityKey, list[str]]]:
    """The new paths of each entity that two paths could name, in the order the keys
    first appear: two or more new paths, or one beside the entity's synced path.

    A first import of 100k files has 100k new paths and almost never a twin: a list per
    key was 15 MB at the plan's peak; this holds one path per key and lists only twins.
    """
    first: dict[EntityKey, str] = {}
    twins: dict[EntityKey, list[str]] = {}
    for path, key in new_paths.items():
        other = first.setdefault(key, path)
        if other != path:
            twins.setdefault(key, [other]).append(path)
        elif key in record_paths:
            twins[key] = [path]
    for key in first:
        if key in twins:
            yield key, twins[key]
