"""The report of an export, import or sync: counts plus per-item problems.

A report is plain data so that it can cross process boundaries (a durable job stores the
report of each chunk) and be merged: the report of a whole run is the merge of the reports
of its chunks.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Conflict", "Entry", "ItemError", "LeftAlone", "Merged", "Outcome", "Report", "Skip"]


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

    @property
    def ok(self) -> bool:
        """True when no item failed."""
        return not self.errors

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
        )
