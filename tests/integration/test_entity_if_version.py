"""``delete_entity(..., if_version=N)``: deletes only the version the caller read."""

from __future__ import annotations

import pytest

from brainsync.app import Brain
from brainsync.entities import Entity, EntityKey
from brainsync.errors import ConflictError, NotFoundError


def test_delete_if_version(brain: Brain) -> None:
    brain.put_entity("note", "n", text="one\n")
    brain.put_entity("note", "n", text="two\n")
    with pytest.raises(ConflictError, match="version 2, not 1"):
        brain.delete_entity("note", "n", if_version=1)
    brain.delete_entity("note", "n", if_version=2)
    with pytest.raises(NotFoundError):
        brain.delete_entity("note", "n", if_version=0)


def test_delete_if_version_refuses_a_change_made_after_the_check(
    brain: Brain, monkeypatch: pytest.MonkeyPatch
) -> None:
    brain.put_entity("note", "n", text="one\n")
    store = brain.store
    real_get = store.get

    def get_then_another_writer(key: EntityKey) -> Entity | None:
        found = real_get(key)
        monkeypatch.setattr(store, "get", real_get)
        brain.put_entity("note", "n", text="two\n")  # slips in between the check and delete
        return found

    monkeypatch.setattr(store, "get", get_then_another_writer)
    with pytest.raises(ConflictError, match="changed since version 1"):
        brain.delete_entity("note", "n", if_version=1)
    assert brain.get_entity("note", "n").document == "two\n"
