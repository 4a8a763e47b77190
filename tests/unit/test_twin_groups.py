"""Which new paths the planner judges as twins: names that decode to one entity."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from brainsync.entities import EntityKey
from brainsync.sync.twins import twin_groups

A, B, C = EntityKey("note", "a b"), EntityKey("note", "c"), EntityKey("post", "d")


def test_only_twins_and_paths_beside_a_synced_one_are_listed_in_first_seen_order() -> None:
    new_paths = {"c.md": B, "a%20b.md": A, "post/d.md": C, "a b.md": A, "a%20%62.md": A}
    record_paths = {B: "C.md"}  # c's entity is synced under another name
    assert list(twin_groups(new_paths, record_paths)) == [
        (B, ["c.md"]),
        (A, ["a%20b.md", "a b.md", "a%20%62.md"]),
    ]


def test_a_first_import_without_twins_lists_nothing() -> None:
    new_paths = {f"n{i}.md": EntityKey("note", f"n{i}") for i in range(1000)}
    assert list(twin_groups(new_paths, {})) == []


@given(
    st.dictionaries(
        st.text("abc", min_size=1, max_size=3), st.sampled_from([A, B, C]), max_size=12
    ),
    st.sets(st.sampled_from([A, B, C])),
)
def test_the_same_groups_as_grouping_every_path(
    new_paths: dict[str, EntityKey], synced: set[EntityKey]
) -> None:
    every: dict[EntityKey, list[str]] = {}
    for path, key in new_paths.items():
        every.setdefault(key, []).append(path)
    expected = [(k, p) for k, p in every.items() if len(p) > 1 or k in synced]
    assert list(twin_groups(new_paths, synced)) == expected
