"""Entity history (schema 3): versions kept per change, writers, retention, revert, upgrade."""

from __future__ import annotations

from typing import Any

import pytest
from disk import Disk
from sqlalchemy import create_engine, text

from brainsync.app import Brain
from brainsync.errors import NotFoundError
from brainsync.store import SCHEMA_VERSION, open_store

DOC = "---\ntitle: History\n---\nversion {0}\n"


def test_every_change_is_kept_with_its_writer(brain: Brain, disk: Disk) -> None:
    brain.put_entity("note", "h", text=DOC.format(1))
    brain.put_entity("note", "h", text=DOC.format(1))  # no change: no version
    brain.put_entity("note", "h", text=DOC.format(2))
    brain.sync()
    disk.edit("h.md", DOC.format(3))
    brain.sync()
    folder = brain.folder()
    assert folder is not None
    history = brain.entity_history("note", "h")
    assert [(v.version, v.writer) for v in history] == [
        (1, "api"),
        (2, "api"),
        (3, f"sync:{folder.id}"),
    ]
    assert [v.document for v in history] == [DOC.format(n) for n in (1, 2, 3)]
    assert all(v.content_hash and not v.deleted for v in history)
    assert history[0].recorded <= history[1].recorded <= history[2].recorded


def test_get_an_old_version_and_revert_to_it(brain: Brain, rows: Any) -> None:
    for n in (1, 2, 3):
        brain.put_entity("note", "h", text=DOC.format(n))
    old = brain.get_entity("note", "h", version=1)
    assert (old.version, old.document, old.metadata) == (1, DOC.format(1), {"title": "History"})
    assert brain.get_entity("note", "h", version=3).document == DOC.format(3)
    reverted = brain.revert_entity("note", "h", to=1)
    assert (reverted.version, reverted.document) == (4, DOC.format(1))  # a new version
    history = brain.entity_history("note", "h")
    assert [v.version for v in history] == [1, 2, 3, 4]  # nothing rewritten
    assert history[-1].writer == "api (revert to 1)"
    assert brain.revert_entity("note", "h", to=4).version == 4  # already current: no-op
    with pytest.raises(NotFoundError, match="no version 9"):
        brain.get_entity("note", "h", version=9)


def test_delete_leaves_a_tombstone_and_revert_brings_it_back(brain: Brain) -> None:
    brain.put_entity("note", "gone", text=DOC.format(1))
    brain.put_entity("note", "gone", text=DOC.format(2))
    brain.delete_entity("note", "gone")
    history = brain.entity_history("note", "gone")
    assert [(v.version, v.deleted, v.writer) for v in history] == [
        (1, False, "api"),
        (2, False, "api"),
        (2, True, "api"),
    ]
    back = brain.revert_entity("note", "gone", to=2)
    assert (back.version, back.document) == (3, DOC.format(2))  # created again, goes on
    assert [v.life for v in brain.entity_history("note", "gone")] == [1, 1, 1, 2]
    with pytest.raises(NotFoundError):
        brain.entity_history("note", "never")


def test_retention_by_count_keeps_the_newest(make_brain: Any) -> None:
    brain = make_brain(history_keep_versions=3)
    for n in range(1, 7):
        brain.put_entity("note", "h", text=DOC.format(n))
    assert [v.version for v in brain.entity_history("note", "h")] == [4, 5, 6]
    brain.put_entity("note", "other", text=DOC.format(1))  # other keys are not touched
    assert [v.version for v in brain.entity_history("note", "h")] == [4, 5, 6]


def test_retention_by_age_keeps_the_newest(make_brain: Any) -> None:
    brain = make_brain(history_keep_days=1e-9)  # everything but the newest is "old"
    for n in range(1, 4):
        brain.put_entity("note", "h", text=DOC.format(n))
    assert [v.version for v in brain.entity_history("note", "h")] == [3]
    assert brain.get_entity("note", "h").version == 3


def test_zero_days_means_no_age_limit(make_brain: Any) -> None:
    brain = make_brain(history_keep_days=0)
    for n in range(1, 4):
        brain.put_entity("note", "h", text=DOC.format(n))
    assert [v.version for v in brain.entity_history("note", "h")] == [1, 2, 3]


def _downgrade_to_schema_2(url: str) -> None:
    """Make the store what schema 2 was: the same tables, without the history (and
    without the entities' life of schema 4 and the sync state's ctime and inode of schema 5)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE entity_versions"))
            conn.execute(text("ALTER TABLE entities DROP COLUMN life"))  # schema 4
            for column in ("ctime_ns", "inode"):
                conn.execute(text(f"ALTER TABLE sync_state DROP COLUMN {column}"))
            conn.execute(
                text("UPDATE brainsync_meta SET value = '2' WHERE name = 'schema_version'")
            )
    finally:
        engine.dispose()


def test_schema_2_store_upgrades_with_a_merge_base(
    make_brain: Any, store_url: str, disk: Disk, rows: Any
) -> None:
    brain = make_brain()
    brain.put_entity("note", "a", text="---\ntitle: A\n---\none\n\ntwo\n\nthree\n")
    brain.put_entity("note", "a", text="---\ntitle: A\n---\none\n\ntwo\n\nthree!\n")
    brain.put_entity("note", "b", text="b\n")
    brain.sync()
    brain.close()
    _downgrade_to_schema_2(store_url)

    with open_store(store_url) as store:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION) == "5"
    brain = make_brain()
    history = brain.entity_history("note", "a")
    assert [(v.version, v.writer) for v in history] == [(2, "upgrade")]
    assert [v.version for v in brain.entity_history("note", "b")] == [1]
    # the upgrade gave every entity its base: the next conflict merges
    disk.edit("a.md", "---\ntitle: A\n---\nONE\n\ntwo\n\nthree!\n")
    brain.put_entity("note", "a", text="---\ntitle: A\n---\none\n\ntwo\n\nTHREE!\n")
    report = brain.sync()
    assert [m.key for m in report.merged] == ["note:a"] and report.conflicts == []
    assert rows(brain)["note:a"].document == "---\ntitle: A\n---\nONE\n\ntwo\n\nTHREE!\n"
    with open_store(store_url) as store:  # opening again upgrades nothing twice
        assert len(store.entity_history(rows(brain)["note:a"].key)) == 3
