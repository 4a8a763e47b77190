"""The store contract: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from brainsync.entities import Entity, EntityKey
from brainsync.errors import (
    ConfigError,
    InvalidInputError,
    StoreError,
    TransientStoreError,
)
from brainsync.store import (
    SCHEMA_VERSION,
    ChangeSet,
    FolderRecord,
    PostgresStore,
    SQLiteStore,
    Store,
    SyncedRow,
    SyncRecord,
    open_store,
)

T0 = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
#: The folder whose sync state these tests write (registered by ``_folder``).
FOLDER = "f0lder"
TYPES = ("note", "post", "site-content")


def make(type_: str, id_: str, body: str = "body", when: datetime = T0, **meta: Any) -> Entity:
    """An entity whose document is derived from its metadata and body."""
    metadata = {"title": id_, **meta}
    document = f"---\ntitle: {id_}\n{meta!r}\n---\n{body}\n"
    return Entity(EntityKey(type_, id_), document, body, metadata, when, when)


def record(path: str, key: EntityKey, n: int = 1) -> SyncRecord:
    """A sync record with values derived from ``n``."""
    return SyncRecord(
        path,
        key,
        size=n,
        mtime_ns=n * 10**9 + 7,
        file_hash=f"f{n}",
        entity_hash=f"e{n}",
        ctime_ns=n * 10**9 + 9,
        inode=(1 << 63) - 1 - n,  # the store keeps the whole signed 64-bit range
    )


@pytest.fixture(autouse=True)
def _folder(request: pytest.FixtureRequest) -> None:
    """Register :data:`FOLDER` in the test's store, if the test uses one."""
    if "store" in request.fixturenames:
        store: Store = request.getfixturevalue("store")
        store.add_folder(FolderRecord(FOLDER, "test", "host", "/tmp/folder", T0))


def many_keys(n: int) -> list[EntityKey]:
    """``n`` distinct keys over several types, with ids that sort in tricky ways."""
    shapes = ("item-{i}", "dir:{i}", "É{i}", "a_b{i}", "a-b{i}", "Zz{i}", "日本{i}", "x y{i}")
    return [EntityKey(TYPES[i % 3], shapes[i % len(shapes)].format(i=i)) for i in range(n)]


def populate(store: Store, n: int) -> list[EntityKey]:
    """Write ``n`` entities in one change set and return their keys, sorted."""
    keys = many_keys(n)
    store.apply(ChangeSet(upserts=[make(k.type, k.id) for k in keys]))
    return sorted(keys)


# -- entities -------------------------------------------------------------------------


def test_round_trip_keeps_unicode_metadata_and_aware_times(store: Store) -> None:
    paris = timezone(timedelta(hours=2))
    when = datetime(2023, 12, 31, 23, 59, 59, 999999, tzinfo=paris)
    nested = {"list": [1, 2.5, None, True, {"deep": ["x"]}]}
    body = "Ünïcødé 🧠\nline 2"
    entity = make("note", "ideas:café ☕", body, when=when, tags=["a", "ß"], nested=nested)
    change = store.put(entity)
    assert change is not None and change.kind == "created"
    got = store.get(entity.key)
    assert got == entity
    assert got.created == when and got.created.tzinfo == UTC
    assert got.updated.utcoffset() == timedelta(0)
    assert store.get(EntityKey("note", "missing")) is None


def test_put_with_same_hash_changes_nothing(store: Store) -> None:
    entity = make("note", "a")
    store.put(entity)
    later = replace(entity, updated=T0 + timedelta(days=1), metadata={"other": 1})
    assert store.put(later) is None
    got = store.get(entity.key)
    assert got is not None
    assert (got.version, got.updated, got.metadata) == (1, T0, entity.metadata)


def test_update_bumps_version_and_keeps_created(store: Store) -> None:
    store.put(make("post", "p", body="one"))
    later = T0 + timedelta(hours=1)
    new = make("post", "p", body="two", when=later)
    change = store.put(new)
    assert change is not None and change.kind == "updated"
    assert change.entity is not None and change.entity.version == 2
    got = store.get(new.key)
    assert got is not None
    assert (got.version, got.created, got.updated, got.content) == (2, T0, later, "two")
    assert got == change.entity
    store.put(make("post", "p", body="three", when=later))
    assert store.get(new.key).version == 3  # type: ignore[union-attr]


def test_delete(store: Store) -> None:
    entity = make("note", "gone")
    store.put(entity)
    assert store.delete(entity.key) is True
    assert store.get(entity.key) is None
    assert store.delete(entity.key) is False


def test_naive_datetimes_are_refused(store: Store) -> None:
    naive = replace(make("note", "n"), created=datetime(2024, 1, 1))
    with pytest.raises(StoreError):
        store.put(naive)
    assert store.count() == 0


# -- apply ----------------------------------------------------------------------------


def test_apply_writes_everything_in_one_go(store: Store) -> None:
    old = make("note", "old")
    store.apply(
        ChangeSet(
            folder=FOLDER,
            upserts=[old],
            records=[record("old.md", old.key), record("x.md", old.key)],
        )
    )
    new = make("post", "new")
    changes = store.apply(
        ChangeSet(folder=FOLDER, upserts=[new], deletes=[old.key],
                  records=[record("post/new.md", new.key, 2)], drop_records=["old.md", "x.md"])
    )  # fmt: skip
    assert [(c.kind, c.key) for c in changes] == [("created", new.key), ("deleted", old.key)]
    assert changes[1].entity is None
    assert store.get(old.key) is None and store.get(new.key) == new
    assert list(store.get_records(FOLDER, ["old.md", "x.md", "post/new.md"])) == ["post/new.md"]


def test_apply_returns_only_real_changes(store: Store) -> None:
    same, changed = make("note", "same"), make("note", "changed")
    doomed = make("note", "doomed")
    store.apply(ChangeSet(upserts=[same, changed, doomed]))
    changes = store.apply(
        ChangeSet(upserts=[same, make("note", "changed", body="new"), make("note", "fresh")],
                  deletes=[doomed.key, EntityKey("note", "never-existed")])
    )  # fmt: skip
    kinds = {(c.kind, c.key.id) for c in changes}
    assert kinds == {("updated", "changed"), ("created", "fresh"), ("deleted", "doomed")}
    assert store.apply(ChangeSet()) == []


def test_apply_keeps_the_last_of_duplicate_upserts(store: Store) -> None:
    first, last = make("note", "dup", body="first"), make("note", "dup", body="last")
    changes = store.apply(ChangeSet(upserts=[first, last]))
    assert [c.kind for c in changes] == ["created"]
    assert store.get(first.key) == last


def test_failed_apply_leaves_nothing(store: Store) -> None:
    kept = make("note", "kept")
    store.apply(ChangeSet(folder=FOLDER, upserts=[kept], records=[record("kept.md", kept.key)]))
    # A NOT NULL violation, raised by the database after the entity writes went through.
    broken = replace(record("bad.md", kept.key), file_hash=None)  # type: ignore[arg-type]
    failing = ChangeSet(
        folder=FOLDER,
        upserts=[make("note", "new"), make("note", "kept", body="changed")],
        deletes=[kept.key], records=[record("new.md", kept.key), broken],
        drop_records=["kept.md"],
    )  # fmt: skip
    with pytest.raises(StoreError) as info:
        store.apply(failing)
    assert not isinstance(info.value, TransientStoreError)
    assert info.value.__cause__ is not None
    assert store.get(kept.key) == kept and store.count() == 1
    assert list(store.iter_records(FOLDER)) == [record("kept.md", kept.key)]


# -- listing and paging (catalogue K7) --------------------------------------------------


def test_keyset_pagination_returns_every_key_once_in_order(store: Store) -> None:
    keys = populate(store, 1234)
    seen: list[EntityKey] = []
    after: EntityKey | None = None
    while page := store.list_entities(after=after, limit=100):
        seen += [entity.key for entity in page]
        after = page[-1].key
    assert seen == keys
    for type_ in TYPES:
        typed: list[EntityKey] = []
        after = None
        while page := store.list_entities(type_, after=after, limit=37):
            typed += [entity.key for entity in page]
            after = page[-1].key
        assert typed == [key for key in keys if key.type == type_]


def test_iter_summaries_pages_through_everything(store: Store) -> None:
    keys = populate(store, 50)
    summaries = list(store.iter_summaries(page_size=7))
    assert [s.key for s in summaries] == keys
    stored = [store.get(key) for key in keys]
    assert [s.content_hash for s in summaries] == [e.content_hash for e in stored if e]
    posts = [s.key for s in store.iter_summaries(["post", "nope"], page_size=3)]
    assert posts == [key for key in keys if key.type == "post"]
    assert list(store.iter_summaries([], page_size=3)) == []


def test_exact_multiple_of_page_size(store: Store) -> None:
    keys = populate(store, 12)
    assert [s.key for s in store.iter_summaries(page_size=4)] == keys
    assert store.list_entities(after=keys[-1]) == []


def test_counts(store: Store) -> None:
    assert (store.count(), store.count_by_type(), store.count_records(FOLDER)) == (0, {}, 0)
    populate(store, 10)
    assert store.count() == 10
    assert store.count_by_type() == {"note": 4, "post": 3, "site-content": 3}


def test_get_many_over_one_batch(store: Store) -> None:
    keys = populate(store, 2500)  # also past the first PostgreSQL ANALYZE threshold
    missing = [EntityKey("note", f"missing-{i}") for i in range(20)]
    found = store.get_many([*keys, *missing, keys[0]])
    assert set(found) == set(keys)
    assert all(found[key].key == key for key in keys)


def test_bad_page_sizes_are_refused(store: Store) -> None:
    with pytest.raises(InvalidInputError):
        store.list_entities(limit=0)
    with pytest.raises(InvalidInputError):
        list(store.iter_summaries(page_size=0))


# -- sync records ---------------------------------------------------------------------


def test_records_round_trip_and_drop(store: Store) -> None:
    keys = many_keys(600)
    records = [record(f"{k.type}/{i:04d}.md", k, i) for i, k in enumerate(keys)]
    store.apply(ChangeSet(folder=FOLDER, records=records))
    assert store.count_records(FOLDER) == 600
    assert store.get_records(FOLDER, [r.path for r in records] + ["nope.md"]) == {
        r.path: r for r in records
    }
    moved = replace(records[0], size=99, file_hash="moved")
    store.apply(
        ChangeSet(folder=FOLDER, records=[moved], drop_records=[r.path for r in records[1:]])
    )
    assert list(store.iter_records(FOLDER)) == [moved]


def test_iter_records_pages_by_path(store: Store) -> None:
    key = EntityKey("note", "n")
    paths = sorted(f"{d}/{i}.md" for d in ("a", "b", "É", "z z") for i in range(5))
    store.apply(ChangeSet(folder=FOLDER, records=[record(p, key) for p in paths]))
    assert [r.path for r in store.iter_records(FOLDER, page_size=3)] == paths
    assert [r.path for r in store.iter_records(FOLDER, page_size=20)] == paths


def synced_state(store: Store) -> list[tuple[SyncRecord, str | None]]:
    """18 records in path order, each with its entity's current hash (None: gone): every
    third one's entity is gone, every third holds the current hash, the rest an old one."""
    kept, gone = make("note", "kept"), make("note", "gone")
    store.apply(ChangeSet(upserts=[kept, gone]))
    store.delete(gone.key)
    stored = store.get(kept.key)
    assert stored is not None
    paths = sorted(f"{d}/{i}.md" for d in ("a", "É", "z z") for i in range(6))
    records = [record(p, kept.key if i % 3 else gone.key, i) for i, p in enumerate(paths)]
    records = [
        replace(r, entity_hash=stored.content_hash) if i % 3 == 1 else r
        for i, r in enumerate(records)
    ]
    store.apply(ChangeSet(folder=FOLDER, records=records))
    return [(r, stored.content_hash if i % 3 else None) for i, r in enumerate(records)]


def test_iter_synced_tells_each_record_whether_its_entity_is_the_recorded_one(
    store: Store,
) -> None:
    pairs = synced_state(store)
    records = [r for r, _ in pairs]
    expected = [
        # an entity that is gone (i % 3 == 0) is not the recorded one either
        SyncedRow(r.path, r.key.type, r.size, r.mtime_ns, r.ctime_ns, r.inode, i % 3 == 1)
        for i, r in enumerate(records)
    ]
    for size in (1, 5, 50):
        synced = list(store.iter_synced(FOLDER, page_size=size))
        assert synced == expected
        assert {type(row.same_entity) for row in synced} == {bool}
        assert list(store.iter_records(FOLDER, page_size=size)) == records
    assert list(store.iter_synced(None)) == []


def test_records_between_reads_a_range_of_paths_with_their_entities_hashes(
    store: Store,
) -> None:
    pairs = synced_state(store)
    paths = [r.path for r, _ in pairs]
    for size in (1, 3, 50):
        assert list(store.records_between(FOLDER, None, paths[-1], size)) == pairs
        assert list(store.records_between(FOLDER, paths[2], paths[7], size)) == pairs[3:8]
        assert list(store.records_between(FOLDER, paths[-1], "\uffff", size)) == []
    assert list(store.records_between("other", None, paths[-1])) == []


def test_synced_records_looks_up_scattered_paths_with_their_entities_hashes(
    store: Store,
) -> None:
    pairs = synced_state(store)
    wanted = [pairs[i] for i in (16, 0, 5, 7)]
    asked = [r.path for r, _ in wanted] + ["missing.md", pairs[0][0].path]  # a repeat
    assert sorted(store.synced_records(FOLDER, asked), key=lambda p: p[0].path) == sorted(
        wanted, key=lambda p: p[0].path
    )
    assert list(store.synced_records(FOLDER, [])) == []
    assert list(store.synced_records("other", asked)) == []
    many = [record(f"m/{i:04d}.md", pairs[1][0].key, i) for i in range(1100)]  # 3 batches
    store.apply(ChangeSet(folder=FOLDER, records=many))
    found = sorted(store.synced_records(FOLDER, [r.path for r in many]), key=lambda p: p[0].path)
    assert found == [(r, pairs[1][1]) for r in many]


def test_iter_unsynced_lists_entities_without_a_record_here(store: Store) -> None:
    keys = many_keys(40)
    store.apply(ChangeSet(upserts=[make(k.type, k.id) for k in keys]))
    store.add_folder(FolderRecord("other", "test", "host", "/tmp/other", T0))
    here = [record(f"{i}.md", k) for i, k in enumerate(keys[::3])]
    store.apply(ChangeSet(folder=FOLDER, records=here))
    store.apply(ChangeSet(folder="other", records=[record("x.md", keys[1])]))
    synced_here = set(keys[::3])
    # the store's key order (PostgreSQL may collate differently from Python)
    expected = [s.key for s in store.iter_summaries() if s.key not in synced_here]
    assert len(expected) == len(keys) - len(synced_here)
    for size in (1, 7, 100):
        # a record in another folder does not count
        assert list(store.iter_unsynced(FOLDER, page_size=size)) == expected


# -- meta, schema, lifecycle ----------------------------------------------------------


def test_meta_get_and_set(store: Store) -> None:
    assert store.get_meta("cursor") is None
    store.set_meta("cursor", "1")
    store.set_meta("cursor", "2 ✓")
    assert store.get_meta("cursor") == "2 ✓"
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)


def test_reopening_keeps_data_and_refuses_newer_schema(store: Store, store_url: str) -> None:
    store.put(make("note", "kept"))
    with open_store(store_url) as again:
        assert again.count() == 1
        again.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    with pytest.raises(StoreError, match="schema version"):
        open_store(store_url)


def test_a_store_made_before_a_read_index_gets_it_at_its_next_open(
    store: Store, store_url: str
) -> None:
    store.put(make("note", "kept"))
    engine = sa.create_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP INDEX ix_entities_key_hash"))
        assert "ix_entities_key_hash" not in _index_names(engine)
        with open_store(store_url) as again:
            assert again.count() == 1
            assert again.get_meta("schema_version") == str(SCHEMA_VERSION)  # no new version
        assert "ix_entities_key_hash" in _index_names(engine)
    finally:
        engine.dispose()


def _index_names(engine: sa.Engine) -> set[str]:
    return {str(index["name"]) for index in sa.inspect(engine).get_indexes("entities")}


def test_dialect_and_url(store: Store, store_url: str) -> None:
    assert store.dialect == ("sqlite" if store_url.startswith("sqlite") else "postgresql")
    assert make_url(store.url) == make_url(store_url)
    assert store.url in repr(store)


# -- transient errors (catalogue K8) --------------------------------------------------


@pytest.fixture
def lock_holder(store_url: str) -> Iterator[tuple[Store, Callable[[], None], Callable[[], None]]]:
    """A store with short lock waits, and (hold, release) for a rival writer's lock."""
    if store_url.startswith("sqlite"):
        path = make_url(store_url).database
        assert path is not None
        short: Store = SQLiteStore(store_url, busy_timeout_ms=50)
        rival: Any = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        hold_sql, release_sql = "BEGIN IMMEDIATE", "COMMIT"
    else:
        import psycopg

        short = open_store(f"{store_url}?options=-c%20lock_timeout%3D50")
        rival = psycopg.connect(store_url.replace("+psycopg", ""), autocommit=True)
        hold_sql, release_sql = "BEGIN; LOCK TABLE entities IN EXCLUSIVE MODE", "COMMIT"
    short.retry_delay = 0.2
    try:
        yield short, lambda: rival.execute(hold_sql), lambda: rival.execute(release_sql)
    finally:
        rival.close()
        short.close()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The back-off sleeps the store takes (still really sleeping)."""
    taken: list[float] = []
    real = time.sleep

    def spy(seconds: float) -> None:
        taken.append(seconds)
        real(seconds)

    monkeypatch.setattr(time, "sleep", spy)
    return taken


def test_apply_retries_a_locked_database(
    lock_holder: tuple[Store, Callable[[], None], Callable[[], None]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, hold, release = lock_holder
    sleeps: list[float] = []

    def release_at_first_back_off(seconds: float) -> None:
        # The rival keeps its lock until the store backs off, so the first attempt always
        # meets the lock and the second never does, however slow either side is.
        if not sleeps:
            release()
        sleeps.append(seconds)

    monkeypatch.setattr(time, "sleep", release_at_first_back_off)
    hold()
    try:
        change = store.put(make("note", "patient"))
    finally:
        if not sleeps:
            release()
    assert change is not None and change.kind == "created"
    assert sleeps == [store.retry_delay]


def test_apply_gives_up_on_a_lock_never_released(
    lock_holder: tuple[Store, Callable[[], None], Callable[[], None]], sleeps: list[float]
) -> None:
    store, hold, release = lock_holder
    store.put(make("note", "readable"))
    hold()
    try:
        with pytest.raises(TransientStoreError):
            store.put(make("note", "blocked"))
        assert store.get(EntityKey("note", "readable")) is not None  # readers not blocked
    finally:
        release()
    assert len(sleeps) == store.retry_attempts - 1
    assert store.get(EntityKey("note", "blocked")) is None


# -- choosing a backend from a URL ----------------------------------------------------


def test_open_store_picks_sqlite(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'er' / 'brain.db'}"
    with open_store(url) as store:
        assert isinstance(store, SQLiteStore)
    assert (tmp_path / "deep" / "er" / "brain.db").is_file()


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg", "postgres"])
def test_open_store_picks_postgres(pg_url: str, scheme: str) -> None:
    rest = pg_url.partition("://")[2].replace("postgres@", "postgres:s3cret@", 1)
    with open_store(f"{scheme}://{rest}") as store:
        assert isinstance(store, PostgresStore) and store.dialect == "postgresql"
        assert "s3cret" not in store.url and "s3cret" not in repr(store)


@pytest.mark.parametrize(
    "url",
    ["mysql://u@h/db", "sqlite://", "sqlite:///:memory:", "postgresql+psycopg2://u@h/db", "nope"],
)
def test_open_store_refuses_other_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(url)


@pytest.mark.parametrize(
    "url", ["postgresql://u:s3cret@h:notaport/db", "mysql://u:s3cret@h/db", "s3cret"]
)
def test_a_refused_url_never_echoes_its_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_store(url)
    assert "s3cret" not in str(caught.value)
