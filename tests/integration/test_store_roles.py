"""A shared PostgreSQL brain opened by a role that writes its tables but does not own them."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from brainsync.entities import Entity, EntityKey
from brainsync.store import open_store

pytestmark = pytest.mark.postgres

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _note(id_: str) -> Entity:
    return Entity(EntityKey("note", id_), f"# {id_}\n", f"# {id_}\n", {}, T0, T0)


@pytest.fixture
def store_without_index(pg_url: str) -> str:
    """A store its owner made, from before the read index (the index is dropped)."""
    with open_store(pg_url) as made:
        made.put(_note("kept"))
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX IF EXISTS ix_entities_key_hash"))
    engine.dispose()
    return pg_url


@pytest.fixture
def writer_url(store_without_index: str) -> Iterator[str]:
    """The store's URL for a new login role granted its rows, not its tables' ownership."""
    role = f"brainsync_writer_{secrets.token_hex(4)}"
    database = sa.make_url(store_without_index).database
    admin = sa.create_engine(store_without_index, isolation_level="AUTOCOMMIT")
    grants = (
        f'CREATE ROLE "{role}" LOGIN',
        f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"',
        f'GRANT USAGE ON SCHEMA public TO "{role}"',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"',
        f'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "{role}"',
    )
    try:
        with admin.connect() as conn:
            for statement in grants:
                conn.execute(sa.text(statement))
        yield store_without_index.replace("postgres@", f"{role}@", 1)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def test_a_role_that_may_not_add_the_read_index_still_opens_and_writes(
    writer_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), open_store(writer_url) as store:
        store.put(_note("added"))
        assert store.get(EntityKey("note", "added")) is not None  # writes work
        assert store.get(EntityKey("note", "kept")) is not None  # and reads
    assert "ix_entities_key_hash not added" in caplog.text
