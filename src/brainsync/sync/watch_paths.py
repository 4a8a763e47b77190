"""Scanning only some paths of the sync directory: what a path-restricted plan stats.

A watcher names the paths that may have changed; the plan over them must judge those
paths exactly as a full scan would (same ignore rules, size limit, links never followed)
and must treat every other path as out of sight, so that nothing outside the selection can
look deleted. :class:`PartialScan` does that by counting every unselected path as
shadowed, which the planner already reads as "absence means nothing".
"""

from __future__ import annotations

import os
import stat as stat_module
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from brainsync.errors import InvalidInputError
from brainsync.report import Skip
from brainsync.sync.ignore import IgnoreRules

# list_folder: the scan's own listing, so a named path meets exactly a full walk's rules
from brainsync.sync.scan import ScanResult, check_root, list_folder

__all__ = ["PartialScan", "normalise_paths", "root_is_empty", "scan_paths"]


@dataclass
class PartialScan(ScanResult):
    """A scan of some paths: files found there; every other path counts as shadowed."""

    selected: set[str] = field(default_factory=set)
    #: Named paths that are (or were) folders: everything under them is selected.
    folders: set[str] = field(default_factory=set)

    def selects(self, path: str) -> bool:
        """True when ``path`` is one of the named paths or lies under a named folder."""
        if path in self.selected:
            return True
        # by ancestor, not by folder: the planner asks this for every record and entity
        parts = path.split("/")
        return any("/".join(parts[:depth]) in self.folders for depth in range(1, len(parts)))

    def is_shadowed(self, path: str) -> bool:
        """Unselected paths were not looked at, so their absence says nothing."""
        return not self.selects(path) or super().is_shadowed(path)


def normalise_paths(paths: object) -> tuple[str, ...]:
    """Relative POSIX paths inside the root, sorted and unique; InvalidInputError if not."""
    if isinstance(paths, str) or not isinstance(paths, list | tuple):
        raise InvalidInputError("paths must be a list of paths relative to the directory")
    found: set[str] = set()
    for raw in paths:
        if not isinstance(raw, str) or not raw or "\x00" in raw:
            raise InvalidInputError(f"not a relative path: {raw!r}")
        pure = PurePosixPath(raw.replace(os.sep, "/"))
        if pure.is_absolute() or ".." in pure.parts:
            raise InvalidInputError(f"path {raw!r} must be relative and stay inside the directory")
        if str(pure) != ".":
            found.add(str(pure))
    return tuple(sorted(found))


def root_is_empty(root: Path) -> bool:
    """True when the root holds no entry at all (an unmounted mount point, say)."""
    with os.scandir(root) as entries:
        return next(entries, None) is None


def scan_paths(root: Path, paths: tuple[str, ...], max_file_bytes: int) -> PartialScan:
    """Stat the named paths (a folder: its whole subtree) and nothing else."""
    check_root(root)
    rules = IgnoreRules(root)
    result = PartialScan()
    by_parent: dict[str, set[str]] = defaultdict(set)
    for rel in paths:
        if not _reachable(root, rel, rules, result):
            continue
        result.selected.add(rel)
        try:
            info = os.lstat(root / rel)
        except OSError:
            result.folders.add(rel)  # gone: it may have been a folder of synced files
            continue
        if stat_module.S_ISDIR(info.st_mode):
            result.folders.add(rel)
        parent, _, name = rel.rpartition("/")
        by_parent[parent].add(name)
    for parent, names in by_parent.items():
        _visit_named(root, parent, names, rules, result, max_file_bytes)
    return result


def _reachable(root: Path, rel: str, rules: IgnoreRules, result: PartialScan) -> bool:
    """False when a folder on the way is ignored or is not a real folder (a link).

    A full walk never enters such a folder, so nothing named under it may be synced.
    """
    parts = rel.split("/")
    for depth in range(1, len(parts)):
        folder = "/".join(parts[:depth])
        rule = rules.dir_rule(folder, parts[depth - 1])
        if rule is not None:
            result.ignore(rule, folder, folder=True)
            return False
        try:
            info = os.lstat(root / folder)
        except OSError:
            _select_gone(result, rel)
            return False
        if not stat_module.S_ISDIR(info.st_mode):
            return False
    return True


def _select_gone(result: PartialScan, rel: str) -> None:
    """A path whose folder vanished: selected, so its synced files can be judged gone."""
    result.selected.add(rel)
    result.folders.add(rel)


def _visit_named(
    root: Path,
    parent: str,
    names: set[str],
    rules: IgnoreRules,
    result: PartialScan,
    max_file_bytes: int,
) -> None:
    """Visit the named entries of one folder, then walk the named sub-folders whole."""
    pending: list[tuple[Path, str]] = []
    try:
        with os.scandir(root / parent if parent else root) as entries:
            named = (entry for entry in entries if entry.name in names)
            list_folder(named, parent, rules, result, pending, max_file_bytes)
    except OSError:
        return  # vanished meanwhile: its paths stay selected and are judged gone
    while pending:
        folder, rel = pending.pop()
        try:
            with os.scandir(folder) as entries:
                list_folder(entries, rel, rules, result, pending, max_file_bytes)
        except OSError as exc:
            result.unreadable.append(rel)
            result.skipped.append(Skip(rel, f"folder cannot be read: {exc.strerror}"))
