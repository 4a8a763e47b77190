"""What a watcher reads when many entities changed at once: ``changed_paths`` on both backends.

Past the history feed's limit a watcher compares the whole folder (one pass over the
records joined with their entities, then the entities without a record); the paths it
hands over must be exactly those a sync would write or delete.
"""

from __future__ import annotations

from typing import Any

from folder_state import folder_id

from brainsync.app import Brain
from brainsync.entities import EntityKey
from brainsync.sync.watch_signal import changed_paths


def body(name: str) -> str:
    return f"---\ntitle: {name}\n---\nText of {name}.\n"


def test_changed_paths_lists_exactly_what_differs(brain: Brain, disk: Any) -> None:
    for n in range(30):
        brain.put_entity("note", f"n{n}", text=body(f"n{n}"))
    brain.put_entity("note", "sub:deep", text=body("deep"))
    assert brain.export().created == 31
    folder, mapper = folder_id(brain), brain.engine.mapper
    assert changed_paths(brain.store, folder, mapper) == {}

    brain.put_entity("note", "n3", text=body("n3 edited"))
    brain.delete_entity("note", "n4")
    brain.put_entity("note", "sub:new", text=body("new"))
    brain.put_entity("note", "n5", text=body("n5"))  # the same text: nothing differs

    hashes = brain.store.summaries_for([EntityKey("note", "n3"), EntityKey("note", "sub:new")])
    assert changed_paths(brain.store, folder, mapper) == {
        "n3.md": hashes[EntityKey("note", "n3")].content_hash,
        "n4.md": "",  # the entity is gone, its file is still synced
        "sub/new.md": hashes[EntityKey("note", "sub:new")].content_hash,
    }
    brain.sync()
    assert changed_paths(brain.store, folder, mapper) == {}
