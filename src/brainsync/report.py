"""The report of an export, import or sync: counts plus per-item problems.

A report is plain data so that it can cross process boundaries (a durable job stores the
report of each chunk) and be merged: the report of a whole run is the merge of the reports
of its chunks.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from brainsync.errors import EXIT_ITEMS_FAILED, ConflictError, SafetyError

__all__ = [
    "UNRESOLVED",
    "Conflict",
    "Entry",
    "ItemError",
    "LeftAlone",
    "Merged",
    "Outcome",
    "Report",
    "Skip",
]


#: The resolution of a conflict that policy ``fail`` left alone (both sides as they were).
UNRESOLVED = "left unresolved (policy fail)"


class Outcome(enum.Enum):
    """What a run did with one item, as its report counts it."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    MOVED = "moved"
    UNCHANGED = "unchanged"
    VANISHED = "vanished"  # planned, then gone before its chunk ran


@dataclass(frozen=True)
class Conflict:
    """Both sides changed (or a deleted file met a changed entity) and what was done."""

    path: str
    key: str
    resolution: str
    copy_path: str | None = None


@dataclass(frozen=True)
class Merged:
    """Both sides changed and their edits merged cleanly; the merge went to both sides.

    ``from_file`` and ``from_store`` say what each side gave: frontmatter keys
    (``frontmatter tags``) and line ranges of the merged file (``lines 7-9``).
    """

    path: str
    key: str
    from_file: list[str] = field(default_factory=list)
    from_store: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Skip:
    """An item deliberately left alone, with the reason."""

    path: str
    reason: str


@dataclass(frozen=True)
class LeftAlone:
    """An item whose sides differ but that this one-way run may not touch, and why.

    ``resolve`` names the command that settles it, so a report never calls it unchanged.
    """

    path: str
    key: str
    reason: str
    resolve: str


@dataclass(frozen=True)
class ItemError:
    """An item that failed; the rest of the run went on."""

    path: str
    error: str


#: What a report lists item by item: the items that need a look, and why.
Entry = Conflict | Merged | LeftAlone | Skip | ItemError


@dataclass
class Report:
    """What a run did, item by item where something needs attention."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    moved: int = 0
    unchanged: int = 0
    vanished: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    #: Items changed on both sides whose edits merged (policy ``merge``).
    merged: list[Merged] = field(default_factory=list)
    left_alone: list[LeftAlone] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    #: What the run says about itself: how its folder was found (joined, moved, adopted).
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    #: Paths left out by each ignore rule, by rule name (see ``brainsync.sync.ignore``).
    ignored: dict[str, int] = field(default_factory=dict)
    #: A dry run's paths by what the real run would do to each (a move: ``old -> new``);
    #: a real run leaves them empty (its counts say what it did).
    created_paths: list[str] = field(default_factory=list)
    updated_paths: list[str] = field(default_factory=list)
    deleted_paths: list[str] = field(default_factory=list)
    moved_paths: list[str] = field(default_factory=list)
    #: A dry run only: why the real run would be refused (the guard's message); the dry
    #: run went on as if forced, so that the paths say what forcing would do.
    refused: str | None = None

    @property
    def ok(self) -> bool:
        """True when no item failed."""
        return not self.errors

    @property
    def unresolved(self) -> int:
        """Conflicts that policy ``fail`` left as they were: the run refused them."""
        return sum(1 for conflict in self.conflicts if conflict.resolution == UNRESOLVED)

    @property
    def exit_code(self) -> int:
        """The command line's exit code for this report (see the README's table)."""
        if self.refused:
            return SafetyError.exit_code  # a dry run whose real run would be refused
        if self.unresolved:
            return ConflictError.exit_code
        return 0 if self.ok else EXIT_ITEMS_FAILED

    @property
    def processed(self) -> int:
        """Items looked at, whatever happened to them."""
        counts = self.created + self.updated + self.deleted + self.moved + self.unchanged
        listed = (
            len(self.conflicts)
            + len(self.merged)
            + len(self.left_alone)
            + len(self.skipped)
            + len(self.errors)
        )
        return counts + self.vanished + listed

    def count(self, outcome: Outcome) -> None:
        """Count one item under ``outcome``."""
        match outcome:
            case Outcome.CREATED:
                self.created += 1
            case Outcome.UPDATED:
                self.updated += 1
            case Outcome.DELETED:
                self.deleted += 1
            case Outcome.MOVED:
                self.moved += 1
            case Outcome.UNCHANGED:
                self.unchanged += 1
            case Outcome.VANISHED:
                self.vanished += 1

    def list_path(self, outcome: Outcome, path: str) -> None:
        """List ``path`` under what a dry run would do to it (created, ..., moved)."""
        listed = _PATH_LISTS.get(outcome)
        if listed is not None:
            getattr(self, listed).append(path)

    def planned_paths(self) -> dict[str, list[str]]:
        """The listed paths by action (``created``, ``updated``, ``deleted``, ``moved``)."""
        return {outcome.value: getattr(self, name) for outcome, name in _PATH_LISTS.items()}

    def add(self, entry: Entry) -> None:
        """List ``entry`` with the others of its kind."""
        match entry:
            case Conflict():
                self.conflicts.append(entry)
            case Merged():
                self.merged.append(entry)
            case LeftAlone():
                self.left_alone.append(entry)
            case Skip():
                self.skipped.append(entry)
            case ItemError():
                self.errors.append(entry)

    def merge(self, other: Report) -> Report:
        """Add ``other`` into this report (in place) and return it."""
        self.created += other.created
        self.updated += other.updated
        self.deleted += other.deleted
        self.moved += other.moved
        self.unchanged += other.unchanged
        self.vanished += other.vanished
        self.conflicts.extend(other.conflicts)
        self.merged.extend(other.merged)
        self.left_alone.extend(other.left_alone)
        self.skipped.extend(other.skipped)
        self.errors.extend(other.errors)
        for name in _PATH_LISTS.values():
            getattr(self, name).extend(getattr(other, name))
        self.refused = self.refused or other.refused
        for rule, count in other.ignored.items():
            self.ignored[rule] = self.ignored.get(rule, 0) + count
        self.notes.extend(note for note in other.notes if note not in self.notes)
        return self

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping with the documented keys."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """Rebuild a report from :meth:`to_dict` output."""
        return cls(
            created=data.get("created", 0),
            updated=data.get("updated", 0),
            deleted=data.get("deleted", 0),
            moved=data.get("moved", 0),
            unchanged=data.get("unchanged", 0),
            vanished=data.get("vanished", 0),
            conflicts=[Conflict(**c) for c in data.get("conflicts", [])],
            merged=[Merged(**m) for m in data.get("merged", [])],
            left_alone=[LeftAlone(**item) for item in data.get("left_alone", [])],
            skipped=[Skip(**s) for s in data.get("skipped", [])],
            errors=[ItemError(**e) for e in data.get("errors", [])],
            notes=list(data.get("notes", [])),
            dry_run=data.get("dry_run", False),
            ignored=dict(data.get("ignored", {})),
            created_paths=list(data.get("created_paths", [])),
            updated_paths=list(data.get("updated_paths", [])),
            deleted_paths=list(data.get("deleted_paths", [])),
            moved_paths=list(data.get("moved_paths", [])),
            refused=data.get("refused"),
        )


#: The outcomes a dry run lists path by path, and the report's list for each.
_PATH_LISTS = {
    Outcome.CREATED: "created_paths",
    Outcome.UPDATED: "updated_paths",
    Outcome.DELETED: "deleted_paths",
    Outcome.MOVED: "moved_paths",
}
