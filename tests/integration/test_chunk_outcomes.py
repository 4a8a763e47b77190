"""A chunk counts each item once, after its commit: what did not happen is listed, never
counted (a write that failed, an entity that changed in the database meanwhile)."""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

import pytest

from brainsync import Brain, DiskFullError
from brainsync.store import ChangeSet, EntityChange
from brainsync.sync import work


def _b_fails_to_write(brain: Brain, monkeypatch: pytest.MonkeyPatch, error: OSError) -> None:
    """Notes a and b in the store; writing b.md raises ``error`` (until ``undo``)."""
    for name in ("a", "b"):
        brain.put_entity("note", name, metadata={"title": name}, content=f"{name}\n")
    real_write = work.atomic_write

    def failing(guard: Any, rel: str, *args: Any, **kwargs: Any) -> Any:
        if rel == "b.md":
            raise error
        return real_write(guard, rel, *args, **kwargs)

    monkeypatch.setattr(work, "atomic_write", failing)


def test_a_failed_write_is_an_error_not_a_creation(
    brain: Brain, disk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _b_fails_to_write(brain, monkeypatch, OSError(errno.EIO, "Input/output error"))
    report = brain.export()
    assert report.created == 1 and report.processed == 2
    assert [(e.path, e.error) for e in report.errors] == [("b.md", "[Errno 5] Input/output error")]
    assert sorted(disk.tree()) == ["a.md"]
    monkeypatch.undo()
    assert brain.export().created == 1  # no record was kept for b.md: it is written now


def test_a_full_disk_stops_the_run_after_committing_what_was_written(
    brain: Brain, disk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """B12: not a per-item error: the run fails, naming the folder; a.md's record is kept."""
    _b_fails_to_write(brain, monkeypatch, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(DiskFullError, match="synced folder") as raised:
        brain.export()
    assert str(disk.root) in str(raised.value) and "1 file(s)" in str(raised.value)
    assert sorted(disk.tree()) == ["a.md"]
    monkeypatch.undo()
    report = brain.export()
    assert (report.created, report.unchanged) == (1, 1)  # a.md was recorded before the stop


def test_an_entity_changed_during_the_chunk_is_skipped_not_counted(
    brain: Brain, disk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    brain.put_entity("note", "a", metadata={"title": "a"}, content="a\n")
    brain.export()
    disk.edit("a.md", "---\ntitle: file\n---\nthe file's edit\n")
    store = brain.store
    real_apply: Callable[[ChangeSet], list[EntityChange]] = store.apply

    def racing(changes: ChangeSet) -> list[EntityChange]:
        if changes.writer is not None and changes.writer.startswith("sync:"):
            # another writer commits just before the chunk does
            brain.put_entity("note", "a", metadata={"title": "db"}, content="meanwhile\n")
        return real_apply(changes)

    monkeypatch.setattr(store, "apply", racing)
    report = brain.import_()
    assert (report.created, report.updated, report.processed) == (0, 0, 1)
    assert [(s.path, s.reason) for s in report.skipped] == [
        ("a.md", "entity changed in the database during the run; re-checked next run")
    ]
    entity = brain.get_entity("note", "a")
    assert entity is not None and entity.content == "meanwhile\n"


def test_an_inline_run_reports_progress_against_the_plans_item_count(
    make_brain: Any, disk: Any
) -> None:
    brain = make_brain(chunk_size=2)
    for n in range(5):
        disk.write(f"n{n}.md", f"---\ntitle: n{n}\n---\nnote {n}\n")
    progress: list[tuple[int, int]] = []
    report = brain.run("import", on_chunk=lambda done, total: progress.append((done, total)))
    assert report.created == 5
    # three chunks of items, then the one that finishes the run
    assert progress == [(2, 5), (4, 5), (5, 5), (5, 5)]
