"""Catalogue C1 at its narrowest: a save lands between a chunk's read and its write.

Edits made before a run starts are seen by the chunk's read; only the write-time re-check
("file changed during the run") protects an edit saved after the read and before the
write. A hook in the chunk runner saves the edit at exactly that point: just before the
chunk's deferred writes run, or, for a merge, just before the merged file is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from brainsync.app import Brain
from brainsync.report import Skip
from brainsync.sync import conflicts
from brainsync.sync.chunk import ChunkRunner
from brainsync.sync.work import Result

PATH = "post/c.md"
ORIGINAL = "---\ntitle: Shared\n---\nFirst line.\n\nSecond line.\n"
IN_DB = "---\ntitle: Shared\n---\nFirst line, from the API.\n\nSecond line.\n"
ON_DISK = "---\ntitle: Shared\n---\nFirst line.\n\nSecond line.\n\nSaved while the run wrote.\n"
LATE = "---\ntitle: Shared\n---\nSaved between the read and the write.\n"


def _synced(brain: Brain) -> None:
    brain.put_entity("post", "c", text=ORIGINAL)
    assert brain.sync().created == 1


def _save_before_writes(monkeypatch: pytest.MonkeyPatch, save: Callable[[], None]) -> list[int]:
    """Run ``save`` once a chunk has read and decided, right before its file writes."""
    original = ChunkRunner._write_all
    pending: list[int] = []

    def write_all(self: ChunkRunner, total: Result) -> None:
        pending.append(len(total.writes))
        if total.writes:
            save()
        original(self, total)

    monkeypatch.setattr(ChunkRunner, "_write_all", write_all)
    return pending


@pytest.mark.parametrize("kind", ["export", "sync"])
def test_c1_a_save_between_read_and_write_is_never_overwritten(
    kind: str, brain: Brain, disk: Any, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _synced(brain)
    brain.put_entity("post", "c", text=IN_DB)  # the run will want to write the file
    pending = _save_before_writes(monkeypatch, lambda: disk.edit(PATH, LATE))

    report = brain.run(kind)

    assert sum(pending) == 1  # the write was decided on the bytes read before the save
    assert disk.read(PATH).decode() == LATE
    assert report.skipped == [Skip(PATH, "file changed during the run; not overwritten")]
    assert report.updated == 0 and report.errors == []
    assert rows(brain)["post:c"].document == IN_DB  # the database side is kept too
    monkeypatch.undo()
    # the next sync sees both sides changed: a conflict, and both versions are kept
    after = brain.sync()
    assert [c.path for c in after.conflicts] == [PATH]
    assert disk.read(PATH).decode() == LATE


def test_c1_a_save_before_a_merge_is_written_is_never_overwritten(
    brain: Brain, disk: Any, rows: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _synced(brain)
    brain.put_entity("post", "c", text=IN_DB)
    disk.edit(PATH, ON_DISK)  # both sides changed, different lines: a merge
    merge = conflicts.merge_documents

    def merge_then_save(*args: Any) -> Any:
        outcome = merge(*args)
        disk.edit(PATH, LATE)  # after the chunk read ON_DISK, before the merge is written
        return outcome

    monkeypatch.setattr(conflicts, "merge_documents", merge_then_save)
    report = brain.sync()

    assert disk.read(PATH).decode() == LATE
    assert report.skipped == [Skip(PATH, "file changed during the run; not merged")]
    assert report.merged == [] and report.errors == []
    assert rows(brain)["post:c"].document == IN_DB
