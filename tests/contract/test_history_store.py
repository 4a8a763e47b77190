"""The entity history in the store contract: every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from brainsync.entities import Entity, EntityKey
from brainsync.store import ChangeSet, Store
from brainsync.store.history import Retention

T0 = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
KEY = EntityKey("note", "h")


def version(n: int, key: EntityKey = KEY) -> Entity:
    return Entity(key, f"v{n}\n", f"v{n}\n", {}, T0, T0)


def test_apply_records_each_change_with_its_writer(store: Store) -> None:
    store.apply(ChangeSet(upserts=[version(1)], writer="api"))
    store.apply(ChangeSet(upserts=[version(1)], writer="api"))  # same hash: no row
    store.apply(ChangeSet(upserts=[version(2), version(1, EntityKey("note", "o"))], writer="x"))
    store.apply(ChangeSet(deletes=[KEY], writer="mcp"))
    rows = store.entity_history(KEY)
    assert [(r.version, r.document, r.writer, r.deleted) for r in rows] == [
        (1, "v1\n", "api", False),
        (2, "v2\n", "x", False),
        (2, None, "mcp", True),
    ]
    assert rows[1].content_hash == version(2).content_hash
    assert [r.version for r in store.entity_history(EntityKey("note", "o"))] == [1]


def test_a_stale_change_leaves_no_history(store: Store) -> None:
    store.put(version(1))
    changes = ChangeSet(upserts=[version(2)], expected={KEY: "not the stored hash"})
    assert store.apply(changes) == [] and changes.stale == {KEY}
    assert [r.version for r in store.entity_history(KEY)] == [1]


def test_lookups_by_version_and_by_hash(store: Store) -> None:
    for n in (1, 2, 3):
        store.put(version(n))
    found = store.entity_version(KEY, 2)
    assert found is not None and found.document == "v2\n"
    assert store.entity_version(KEY, 7) is None
    assert store.document_with_hash(KEY, version(1).content_hash) == "v1\n"
    assert store.document_with_hash(KEY, "nope") is None
    store.delete(KEY)
    store.put(version(9))  # created again: version 4, in a new life
    first = store.entity_version(KEY, 1)
    assert first is not None and first.document == "v1\n" and first.life == 1
    again = store.entity_version(KEY, 4)
    assert again is not None and again.document == "v9\n" and again.life == 2


def test_versions_never_repeat_for_a_key_across_deletes(store: Store) -> None:
    store.apply(ChangeSet(upserts=[version(1)], writer="api"))
    store.apply(ChangeSet(upserts=[version(2)], writer="api"))
    store.delete(KEY, "api")
    created = store.put(version(3), "api")  # created again
    assert created is not None and created.kind == "created"
    assert created.entity is not None and created.entity.version == 3
    store.put(version(4), "api")
    store.delete(KEY, "api")
    store.apply(ChangeSet(upserts=[version(5), version(1, EntityKey("note", "o"))]))
    rows = store.entity_history(KEY)
    assert [(r.version, r.life, r.deleted) for r in rows] == [
        (1, 1, False), (2, 1, False), (2, 1, True),
        (3, 2, False), (4, 2, False), (4, 2, True),
        (5, 3, False),
    ]  # fmt: skip
    current = store.get(KEY)
    assert current is not None and current.version == 5
    assert [(r.version, r.life) for r in store.entity_history(EntityKey("note", "o"))] == [(1, 1)]
    assert [store.entity_version(KEY, n).document for n in (1, 3, 5)] == ["v1\n", "v3\n", "v5\n"]  # type: ignore[union-attr]


def test_versions_go_on_when_retention_pruned_the_earlier_life(store: Store) -> None:
    store.retention = Retention(versions=1)
    for n in (1, 2, 3):
        store.put(version(n))
    store.delete(KEY)
    assert [(r.version, r.deleted) for r in store.entity_history(KEY)] == [(3, True)]
    store.put(version(4))  # the tombstone was the newest row, so it was kept: 3 + 1
    store.put(version(5))
    assert [(r.version, r.life) for r in store.entity_history(KEY)] == [(5, 2)]
    store.delete(KEY)
    store.put(version(6))
    current = store.get(KEY)
    assert current is not None and current.version == 6
    assert [(r.version, r.life) for r in store.entity_history(KEY)][-1] == (6, 3)


def test_retention_prunes_only_touched_keys_and_keeps_the_newest(store: Store) -> None:
    other = EntityKey("note", "other")
    for n in (1, 2, 3):
        store.put(version(n, other))
    store.retention = Retention(versions=2)
    for n in (1, 2, 3, 4):
        store.put(version(n))
    assert [r.version for r in store.entity_history(KEY)] == [3, 4]
    assert [r.version for r in store.entity_history(other)] == [1, 2, 3]  # not touched
    store.retention = Retention(days=1e-9)
    store.put(version(5))
    assert [r.version for r in store.entity_history(KEY)] == [5]


def test_the_history_is_a_feed_of_every_write_even_when_pruned(store: Store) -> None:
    store.retention = Retention(versions=1)
    assert store.latest_change() == 0 and store.changes_since(0, 10) == ([], 0)
    store.apply(ChangeSet(upserts=[version(1)], writer="api"))
    start = store.latest_change()
    other = EntityKey("note", "o")
    store.apply(ChangeSet(upserts=[version(2), version(1, other)], writer="api"))
    store.apply(ChangeSet(deletes=[KEY], writer="api"))  # pruning keeps only the newest row
    keys, newest = store.changes_since(start, 10)
    assert set(keys) == {KEY, other} and newest == store.latest_change() > start
    assert store.changes_since(newest, 10) == ([], newest)
    first, upto = store.changes_since(start, 1)  # bounded: the rest on the next read
    assert len(first) == 1 and start < upto < newest
