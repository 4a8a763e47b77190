"""A store written by the first release (schema 1) upgrades in place on first open.

The fixture (tests/fixtures/schema1, see its README) was made by that release: the sample
notes synced, then one entity added through the API. Its sync state becomes the state of
the folder it was used with, so nothing is re-imported or rewritten.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from folder_state import tracked
from sqlalchemy import create_engine, text

from brainsync.app import Brain
from brainsync.config import Settings
from brainsync.entities import Entity, EntityKey, document_hash
from brainsync.store import SCHEMA_VERSION, open_store
from brainsync.store.migrations import UNCLAIMED_LABEL
from brainsync.store.schema import entity_versions

SCHEMA1 = Path(__file__).resolve().parents[1] / "fixtures" / "schema1"
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def _folder_copy(target: Path) -> Path:
    """The fixture's folder as the user had it: same bytes, same mtimes."""
    shutil.copytree(SCHEMA1 / "brain", target)
    for rel, mtime_ns in json.loads((SCHEMA1 / "mtimes.json").read_text()).items():
        os.utime(target / rel, ns=(mtime_ns, mtime_ns))
    return target


def _postgres_copy(admin_dsn: str) -> Iterator[str]:
    import psycopg
    from psycopg import sql

    name = f"brainsync_schema1_{secrets.token_hex(4)}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dump = (SCHEMA1 / "schema1.postgres.sql").read_text(encoding="utf-8")
    # psql meta-commands (\restrict) are not SQL; the rest is what pg_dump wrote
    statements = "\n".join(line for line in dump.splitlines() if not line.startswith("\\"))
    with psycopg.connect(admin_dsn.replace("dbname=postgres", f"dbname={name}")) as conn:
        conn.execute(statements.encode())
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def schema1_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A copy of the schema-1 store on each backend."""
    if request.param == "sqlite":
        target = tmp_path / "store" / "brain.sqlite"
        target.parent.mkdir()
        shutil.copyfile(SCHEMA1 / "schema1.sqlite", target)
        yield f"sqlite:///{target}"
        return
    request.getfixturevalue("pg_url")  # skips (or fails in CI) without a server
    yield from _postgres_copy(PG_ADMIN_DSN)


def _brain(tmp_path: Path, root: Path, url: str) -> Brain:
    return Brain(Settings(directory=root, home=tmp_path / "state", db=url, io_threads=2))


def test_schema1_store_upgrades_and_its_folder_adopts_the_state(
    tmp_path: Path, schema1_url: str
) -> None:
    root = _folder_copy(tmp_path / "brain")
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*.md")}
    with _brain(tmp_path, root, schema1_url) as brain:
        unclaimed = brain.folders()
        assert [(f.label, f.path, f.tracked_files) for f in unclaimed] == [(UNCLAIMED_LABEL, "", 6)]
        versions = {str(e.key): e.version for e in brain.list_entities()}
        report = brain.sync()
        assert (report.created, report.updated, report.deleted, report.conflicts) == (1, 0, 0, [])
        assert any("schema 1" in note for note in report.notes)
        assert {str(e.key): e.version for e in brain.list_entities()} == versions
        assert [(f.id, f.path) for f in brain.folders()] == [(unclaimed[0].id, str(root))]
        assert tracked(brain) == 7
        assert brain.store.get_meta("schema_version") == str(SCHEMA_VERSION)
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*.md")}
    assert {p: after[p] for p in before} == before  # not one file rewritten
    assert (root / "store-only.md").read_text().startswith("---\ntitle: Only in the store")


def test_a_fresh_folder_does_not_take_the_old_state(tmp_path: Path, schema1_url: str) -> None:
    fresh = tmp_path / "restore"
    with _brain(tmp_path, fresh, schema1_url) as brain:
        report = brain.export()
        assert (report.created, report.deleted, report.left_alone) == (7, 0, [])
        assert not any("schema 1" in note for note in report.notes)
    assert len(list(fresh.rglob("*.md"))) == 7
    root = _folder_copy(tmp_path / "brain")
    with _brain(tmp_path, root, schema1_url) as brain:
        report = brain.sync()
        assert any("schema 1" in note for note in report.notes)
        assert (report.created, report.updated, report.deleted, report.conflicts) == (1, 0, 0, [])
        assert sorted(f.path for f in brain.folders()) == sorted([str(fresh), str(root)])


def test_opening_twice_upgrades_once(tmp_path: Path, schema1_url: str) -> None:
    with open_store(schema1_url) as first:
        store_id = first.store_id
    with open_store(schema1_url) as second:
        assert second.store_id == store_id
        assert len(second.list_folders()) == 1
        engine = create_engine(schema1_url)
        with engine.connect() as conn:
            names = {
                row[0]
                for row in conn.execute(
                    text(
                        "SELECT name FROM sqlite_master WHERE type = 'table'"
                        if schema1_url.startswith("sqlite")
                        else "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    )
                )
            }
        engine.dispose()
        assert "sync_state_v1" not in names and {"folders", "sync_state"} <= names


# -- schema 3: versions began again at 1 after a delete ------------------------------------

T0 = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
#: Each key's schema-3 history, oldest first: (version, document; None for a tombstone).
SCHEMA3_HISTORY = {
    "a": [(1, "a1\n"), (2, "a2\n"), (2, None), (1, "a3\n"), (2, "a4\n")],
    "b": [(1, "b1\n"), (2, "b2\n")],
    "c": [(1, "c1\n"), (2, "c2\n"), (1, "c3\n")],  # retention pruned the tombstone
    "d": [(1, "d1\n"), (1, None)],  # deleted, never created again
}


def _make_schema3_store(url: str) -> None:
    """A store as schema 3 left it: repeated versions after a delete, no ``life``."""
    with open_store(url) as store:
        for id_, rows in SCHEMA3_HISTORY.items():
            document = rows[-1][1]
            if document is not None:
                store.put(Entity(EntityKey("note", id_), document, document, {}, T0, T0))
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM entity_versions"))
            conn.execute(
                entity_versions.insert(),
                [
                    {"type": "note", "id": id_, "version": version, "document": document,
                     "content_hash": None if document is None else document_hash(document),
                     "updated": T0, "recorded": T0, "writer": "api"}
                    for id_, rows in SCHEMA3_HISTORY.items()
                    for version, document in rows
                ],
            )  # fmt: skip
            for id_, rows in SCHEMA3_HISTORY.items():
                conn.execute(
                    text("UPDATE entities SET version = :v WHERE type = 'note' AND id = :id"),
                    {"v": rows[-1][0], "id": id_},
                )
            conn.execute(text("DROP INDEX ix_entity_versions_deleted"))
            conn.execute(text("ALTER TABLE entity_versions DROP COLUMN life"))
            conn.execute(text("ALTER TABLE entities DROP COLUMN life"))
            for column in ("ctime_ns", "inode"):  # schema 5
                conn.execute(text(f"ALTER TABLE sync_state DROP COLUMN {column}"))
            conn.execute(
                text("UPDATE brainsync_meta SET value = '3' WHERE name = 'schema_version'")
            )
    finally:
        engine.dispose()


def test_schema3_store_numbers_versions_so_none_repeats(store_url: str) -> None:
    _make_schema3_store(store_url)
    with open_store(store_url) as store:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)

        def history(id_: str) -> list[tuple[int, int, bool]]:
            rows = store.entity_history(EntityKey("note", id_))
            return [(r.version, r.life, r.deleted) for r in rows]

        assert history("a") == [(1, 1, False), (2, 1, False), (2, 1, True), (3, 2, False),
                                (4, 2, False)]  # fmt: skip
        assert history("b") == [(1, 1, False), (2, 1, False)]
        assert history("c") == [(1, 1, False), (2, 1, False), (3, 2, False)]
        assert history("d") == [(1, 1, False), (1, 1, True)]
        versions = {e.id: e.version for e in store.list_entities()}
        assert versions == {"a": 4, "b": 2, "c": 3}
        a = EntityKey("note", "a")
        documents = [store.entity_version(a, n) for n in (1, 2, 3, 4)]
        assert [d.document if d else None for d in documents] == ["a1\n", "a2\n", "a3\n", "a4\n"]
        store.delete(a)
        store.put(Entity(a, "a5\n", "a5\n", {}, T0, T0))
        assert history("a")[-2:] == [(4, 2, True), (5, 3, False)]
    with open_store(store_url) as again:  # opened again: nothing is renumbered twice
        assert [e.version for e in again.list_entities()] == [5, 2, 3]
