"""One walk of the sync directory: what entity files exist, with their size and mtime.

The walk uses ``os.scandir`` once per folder and never follows symbolic links, so a link
pointing outside the root (or a link loop) is never entered. Nothing is read here; hashing
happens later and only where size or mtime moved against the sync state.
"""

from __future__ import annotations

import os
import stat as stat_module
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from brainsync.errors import RootUnavailableError
from brainsync.report import Skip
from brainsync.sync.ignore import REASONS, IgnoreRule, IgnoreRules

__all__ = [
    "FileStat",
    "IgnoredPath",
    "ScanResult",
    "check_root",
    "check_same_root",
    "ignored_paths",
    "list_folder",
    "root_identity",
    "scan",
]


#: Inode numbers from 2**63 on are kept as negative numbers (a signed 64-bit column).
_BIG, _WRAP = 1 << 63, 1 << 64


@dataclass(frozen=True, slots=True)
class FileStat:
    """What a stat says about one entity file."""

    path: str
    size: int
    mtime_ns: int
    #: The ctime and inode (signed, as the store keeps it): see ``SyncRecord``.
    ctime_ns: int = 0
    inode: int = 0


@dataclass(frozen=True, slots=True)
class IgnoredPath:
    """A path an ignore rule left out of the sync, with the rule and its reason."""

    path: str
    rule: IgnoreRule
    reason: str

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready view."""
        return {"path": self.path, "rule": self.rule.value, "reason": self.reason}


@dataclass
class ScanResult:
    """Files found, files skipped with reasons, what each ignore rule left out, and
    folders that could not be read.

    :attr:`ignored` maps a rule's name to the paths it left out (a skipped folder is
    listed, not its contents); files that are not markdown at all are only counted, in
    :attr:`other_files`.
    """

    files: dict[str, FileStat] = field(default_factory=dict)
    skipped: list[Skip] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    held: set[str] = field(default_factory=set)
    ignored: dict[str, list[str]] = field(default_factory=dict)
    other_files: int = 0
    ignored_folders: list[str] = field(default_factory=list)

    def is_shadowed(self, path: str) -> bool:
        """True when ``path`` exists but was skipped or ignored, or lies in a folder that
        could not be read or was ignored.

        Such a path's absence from :attr:`files` means nothing, so nothing may be deleted
        because of it (a rule added later never deletes the notes it now leaves out).
        """
        if path in self.held:
            return True
        folders = self.unreadable + self.ignored_folders
        return any(path.startswith(folder + "/") for folder in folders)

    def ignore(self, rule: IgnoreRule, path: str, *, folder: bool = False) -> None:
        """Record that ``rule`` left ``path`` out."""
        if rule is IgnoreRule.NOT_MARKDOWN:
            self.other_files += 1
            return
        self.ignored.setdefault(rule.value, []).append(path)
        if folder:
            self.ignored_folders.append(path)
        elif path.endswith(".md"):
            self.held.add(path)

    def ignored_counts(self) -> dict[str, int]:
        """How many paths each rule left out, by rule name."""
        counts = {rule: len(paths) for rule, paths in self.ignored.items()}
        if self.other_files:
            counts[IgnoreRule.NOT_MARKDOWN.value] = self.other_files
        return counts


def check_root(root: Path) -> None:
    """Raise when the root is missing, not a folder or unreadable (never 'all deleted')."""
    if not root.exists():
        raise RootUnavailableError(f"sync directory {root} does not exist (unmounted?)")
    if not root.is_dir():
        raise RootUnavailableError(f"sync directory {root} is not a folder")
    try:
        with os.scandir(root):
            pass
    except OSError as exc:
        raise RootUnavailableError(f"sync directory {root} cannot be read: {exc}") from exc


def root_identity(root: Path) -> list[int]:
    """The device and inode of the root: a remount or a swapped folder changes them."""
    info = root.stat()
    return [info.st_dev, info.st_ino]


def check_same_root(root: Path, identity: list[int]) -> None:
    """Raise unless ``root`` is still usable and still the folder that was planned on.

    A durable job's chunks may run long after its plan (after a crash, say); if the
    directory was unmounted or replaced meanwhile, every planned file would look deleted.
    """
    check_root(root)
    if root_identity(root) != identity:
        raise RootUnavailableError(
            f"sync directory {root} is not the folder this job planned on (remounted or "
            "replaced?); resume the job once the right folder is back, or start a new one"
        )


def scan(root: Path, max_file_bytes: int) -> ScanResult:
    """Walk ``root`` and return every entity file with its stat."""
    check_root(root)
    rules = IgnoreRules(root)
    result = ScanResult()
    pending: list[tuple[Path, str]] = [(root, "")]
    while pending:
        folder, rel = pending.pop()
        try:
            with os.scandir(folder) as entries:
                list_folder(entries, rel, rules, result, pending, max_file_bytes)
        except OSError as exc:
            if not rel:
                raise RootUnavailableError(f"sync directory {root} cannot be read: {exc}") from exc
            result.unreadable.append(rel)
            result.skipped.append(Skip(rel, f"folder cannot be read: {exc.strerror}"))
    return result


def ignored_paths(root: Path, max_file_bytes: int) -> list[IgnoredPath]:
    """Every path under ``root`` an ignore rule leaves out (not markdown: not listed)."""
    found = [
        IgnoredPath(path, IgnoreRule(rule), REASONS[IgnoreRule(rule)])
        for rule, paths in scan(root, max_file_bytes).ignored.items()
        for path in paths
    ]
    return sorted(found, key=lambda item: item.path)


def list_folder(
    entries: Iterable[os.DirEntry[str]],
    rel: str,
    rules: IgnoreRules,
    result: ScanResult,
    pending: list[tuple[Path, str]],
    max_file_bytes: int,
) -> None:
    """Take in the ``entries`` of the folder ``rel`` (all of them, or a partial scan's
    named ones): a plain note here, anything else in :func:`_visit`.

    Almost every entry is a regular ``.md`` file no rule leaves out, and the loop costs
    per file, so that case is handled inline instead of through every case of the visit.
    """
    prefix = f"{rel}/" if rel else ""
    files, file_rule, is_regular = result.files, rules.file_rule, stat_module.S_ISREG
    for entry in entries:
        name = entry.name
        rel_path = prefix + name
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # vanished between listing and stat
        size = info.st_size
        if (
            is_regular(info.st_mode)
            and size <= max_file_bytes
            and file_rule(rel_path, name) is None
        ):
            ino = info.st_ino
            files[rel_path] = FileStat(
                rel_path,
                size,
                info.st_mtime_ns,
                info.st_ctime_ns,
                ino if ino < _BIG else ino - _WRAP,
            )
        else:
            _visit(entry, info, rel_path, rules, result, pending, max_file_bytes)


def _visit(
    entry: os.DirEntry[str],
    info: os.stat_result,
    rel_path: str,
    rules: IgnoreRules,
    result: ScanResult,
    pending: list[tuple[Path, str]],
    max_file_bytes: int,
) -> None:
    if stat_module.S_ISDIR(info.st_mode):
        rule = rules.dir_rule(rel_path, entry.name)
        if rule is None:
            pending.append((Path(entry.path), rel_path))
        else:
            result.ignore(rule, rel_path, folder=True)
        return
    rule = rules.file_rule(rel_path, entry.name)
    is_link = stat_module.S_ISLNK(info.st_mode)
    if rule is not None and not (is_link and rule is IgnoreRule.NOT_MARKDOWN):
        result.ignore(rule, rel_path)  # an emacs lock is a link, for one
        return
    if is_link:  # to a note or a folder, maybe outside: reported, never followed
        result.skipped.append(Skip(rel_path, "symbolic link: not followed"))
        result.held.add(rel_path)
        return
    if not stat_module.S_ISREG(info.st_mode):
        return
    if info.st_size > max_file_bytes:
        reason = f"larger than the {max_file_bytes} byte limit ({info.st_size} bytes)"
        result.skipped.append(Skip(rel_path, reason))
        result.held.add(rel_path)
        return
    ino = info.st_ino if info.st_ino < _BIG else info.st_ino - _WRAP
    result.files[rel_path] = FileStat(
        rel_path, info.st_size, info.st_mtime_ns, info.st_ctime_ns, ino
    )
