"""Three-way merge of a note changed both in its file and in the store (pure, no I/O).

The base is the document both sides last agreed on (the entity as of the folder's last
sync). The frontmatter is merged key by key: a key changed on one side only takes that
change; a key changed differently on both sides is a conflict. The body is merged line by
line with the diff3 algorithm (as ``git merge-file`` runs it): regions where base, file
and store agree are kept, a region changed on one side takes that side, a region changed
identically on both takes it once, and a region changed differently on both (overlapping
or adjacent hunks) is a conflict. A conflict never produces markers: the caller falls
back to keeping both versions.

Bytes outside the merged hunks are kept: lines keep their own endings, the file's BOM
stays as it is (a BOM is how the file is encoded, and a store side rendered from parts
has none), and the frontmatter block keeps its text when only one side touched it. A
store side rendered with LF where the file and the base use CRLF (the frontmatter or the
body) is brought to CRLF first: an agent's rewrite must not read as a change to every
line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import StrEnum
from typing import Any

from brainsync.errors import BrainsyncError
from brainsync.sync.markdown import parse, render

__all__ = [
    "LineMerge",
    "MergeResult",
    "NotMerged",
    "Side",
    "merge_documents",
    "merge_lines",
    "merge_metadata",
]

_BOM = "\ufeff"
_MISSING: Any = object()


class Side(StrEnum):
    """Where a merged hunk came from."""

    FILE = "file"
    STORE = "store"


@dataclass(frozen=True)
class MergeResult:
    """A clean merge: the document to write to both sides, and what each side gave."""

    document: str
    from_file: tuple[str, ...]
    from_store: tuple[str, ...]


@dataclass(frozen=True)
class NotMerged:
    """Why the two versions do not merge cleanly (the caller keeps both)."""

    reason: str


@dataclass(frozen=True)
class LineMerge:
    """The diff3 merge of three line lists.

    ``lines`` is the merged text (None when some region conflicts); ``taken`` lists the
    merged line ranges (1-based, inclusive) that came from one side; ``conflicts`` the base
    line ranges (1-based, inclusive; ``(n+1, n)`` is an insertion after line ``n``) that
    both sides changed differently.
    """

    lines: list[str] | None
    taken: tuple[tuple[Side, int, int], ...]
    conflicts: tuple[tuple[int, int], ...]


# -- lines ---------------------------------------------------------------------------------


def _stable_regions(
    base: Sequence[str], file: Sequence[str], store: Sequence[str]
) -> list[tuple[int, int, int, int]]:
    """Runs of base lines matched in both sides: (base start, base end, file, store start).

    The intersection of the two two-way matchings; a sentinel closes the list.
    """
    to_file = SequenceMatcher(None, base, file, autojunk=False).get_matching_blocks()
    to_store = SequenceMatcher(None, base, store, autojunk=False).get_matching_blocks()
    regions: list[tuple[int, int, int, int]] = []
    i = j = 0
    while i < len(to_file) - 1 and j < len(to_store) - 1:
        f_base, f_at, f_len = to_file[i]
        s_base, s_at, s_len = to_store[j]
        low, high = max(f_base, s_base), min(f_base + f_len, s_base + s_len)
        if low < high:
            regions.append((low, high, f_at + low - f_base, s_at + low - s_base))
        if f_base + f_len < s_base + s_len:
            i += 1
        else:
            j += 1
    regions.append((len(base), len(base), len(file), len(store)))
    return regions


def merge_lines(base: Sequence[str], file: Sequence[str], store: Sequence[str]) -> LineMerge:
    """Merge two edits of ``base`` line by line (diff3); see :class:`LineMerge`."""
    merged: list[str] = []
    taken: list[tuple[Side, int, int]] = []
    conflicts: list[tuple[int, int]] = []
    at_base = at_file = at_store = 0
    for start, end, file_start, store_start in _stable_regions(base, file, store):
        old = list(base[at_base:start])
        ours, theirs = list(file[at_file:file_start]), list(store[at_store:store_start])
        side = _changed_side(old, ours, theirs)
        if side is None:
            conflicts.append((at_base + 1, start))
        else:
            chosen = ours if side is Side.FILE else theirs
            if chosen != old and chosen:
                taken.append((side, len(merged) + 1, len(merged) + len(chosen)))
            merged.extend(chosen)
        merged.extend(base[start:end])
        at_base, at_file, at_store = end, file_start + end - start, store_start + end - start
    return LineMerge(None if conflicts else merged, tuple(taken), tuple(conflicts))


def _changed_side(old: list[Any], ours: list[Any], theirs: list[Any]) -> Side | None:
    """Which side's version of an unstable region to take; None when both changed it."""
    if ours == theirs or theirs == old:
        return Side.FILE
    if ours == old:
        return Side.STORE
    return None


# -- frontmatter ---------------------------------------------------------------------------


def merge_metadata(
    base: dict[str, Any], file: dict[str, Any], store: dict[str, Any]
) -> tuple[dict[str, Any], dict[Side, list[str]], list[str]]:
    """Merge frontmatter key by key: (merged mapping, keys taken per side, conflicting keys).

    Keys keep the file's order; keys new from the store follow in the store's order.
    """
    merged: dict[str, Any] = {}
    taken: dict[Side, list[str]] = {Side.FILE: [], Side.STORE: []}
    clashes: list[str] = []
    for key in dict.fromkeys([*file, *store, *base]):
        old, ours = base.get(key, _MISSING), file.get(key, _MISSING)
        theirs = store.get(key, _MISSING)
        side = _changed_side([old], [ours], [theirs])
        if side is None:
            clashes.append(key)
            continue
        value = ours if side is Side.FILE else theirs
        if value is not old and value != old:
            taken[side].append(key)
        if value is not _MISSING:
            merged[key] = value
    return merged, taken, clashes


# -- documents -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parts:
    """A document cut where the merge treats it differently."""

    bom: bool
    head: str  # the frontmatter block with its fences ('' when there is none)
    metadata: dict[str, Any]
    body: str


def _split(document: str) -> _Parts:
    text = document.removeprefix(_BOM)
    parsed = parse(text)
    head = text[: len(text) - len(parsed.body)]
    return _Parts(document.startswith(_BOM), head, parsed.metadata, parsed.body)


def merge_documents(base: str, file: str, store: str) -> MergeResult | NotMerged:
    """Merge the file's and the store's edits of ``base`` into one document, or say why not."""
    try:
        old, ours, theirs = _split(base), _split(file), _split(store)
    except BrainsyncError as exc:
        return NotMerged(f"a version does not parse: {exc}")
    theirs = _Parts(
        theirs.bom,
        _eol_like(theirs.head, ours.head, old.head),
        theirs.metadata,
        _eol_like(theirs.body, ours.body, old.body),
    )
    head = _merge_head(old, ours, theirs)
    if isinstance(head, NotMerged):
        return head
    body = merge_lines(
        old.body.splitlines(True), ours.body.splitlines(True), theirs.body.splitlines(True)
    )
    if body.lines is None:  # line numbers as in the base file, frontmatter counted
        at = old.head.count("\n")
        where = ", ".join(_span(start + at, end + at) for start, end in body.conflicts)
        return NotMerged(f"both sides changed {where}")
    document = (_BOM if ours.bom else "") + head[0] + "".join(body.lines)
    if not _reads_back(document, head[0], "".join(body.lines)):
        # e.g. a body that now reads as frontmatter: never write what does not read back
        return NotMerged("the merged document would not read back as merged")
    notes, at = head[1], head[0].count("\n")
    for side, start, end in body.taken:
        notes[side].append(_span(start + at, end + at))
    return MergeResult(document, tuple(notes[Side.FILE]), tuple(notes[Side.STORE]))


def _merge_head(
    old: _Parts, ours: _Parts, theirs: _Parts
) -> tuple[str, dict[Side, list[str]]] | NotMerged:
    """The merged frontmatter block and the keys each side gave."""
    metadata, taken, clashes = merge_metadata(old.metadata, ours.metadata, theirs.metadata)
    if clashes:
        return NotMerged(f"both sides changed frontmatter {', '.join(map(repr, clashes))}")
    notes = {side: [f"frontmatter {key}" for key in keys] for side, keys in taken.items()}
    side = _changed_side([old.head], [ours.head], [theirs.head])
    if side is not None:
        return (ours.head if side is Side.FILE else theirs.head), notes
    # both rewrote the block: its lines merge when their keys sit apart (bytes kept)
    lines = merge_lines(
        old.head.splitlines(True), ours.head.splitlines(True), theirs.head.splitlines(True)
    )
    if lines.lines is not None:
        head = "".join(lines.lines)
        try:
            if parse(head).metadata == metadata:
                return head, notes
        except BrainsyncError:
            pass  # the merged lines are not valid YAML: the key-by-key merge decides
    # the keys merged but the lines did not: the merged mapping in canonical form
    head = render(metadata, "") if metadata else ""
    return (head.replace("\n", "\r\n") if _crlf_only(ours.head) else head), notes


def _reads_back(document: str, head: str, body: str) -> bool:
    """Whether ``document`` parses into the merged frontmatter block and body."""
    try:
        found = _split(document)
        return (found.head, found.body) == (head, body)
    except BrainsyncError:
        return False


def _eol_like(store: str, file: str, base: str) -> str:
    """The store side in CRLF when it is LF only and the file and the base are CRLF."""
    if "\r\n" in store or "\n" not in store:
        return store
    if _crlf_only(file) and _crlf_only(base):
        return store.replace("\n", "\r\n")
    return store


def _crlf_only(text: str) -> bool:
    return "\n" in text and text.count("\n") == text.count("\r\n")


def _span(start: int, end: int) -> str:
    if end < start:
        return f"after line {end}"
    return f"line {start}" if start == end else f"lines {start}-{end}"
