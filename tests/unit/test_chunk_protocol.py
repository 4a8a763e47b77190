"""The typed pieces a chunk works with: plan items, outcomes, results and policies."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest

from brainsync.config import CONFLICT_POLICIES, ConflictPolicy, Settings, load_settings
from brainsync.entities import EntityKey
from brainsync.errors import ConfigError
from brainsync.report import Conflict, ItemError, LeftAlone, Merged, Outcome, Report, Skip
from brainsync.store import SyncRecord
from brainsync.sync.paths import PathGuard
from brainsync.sync.work import Item, PlanItem, Result, report_of, void_stale

KEY = EntityKey("note", "a")


def _item(path: str = "a.md", key: EntityKey = KEY) -> Item:
    return Item(path, key, None, None, PathGuard(Path("/nonexistent-root")))


def test_a_plan_item_is_plain_json() -> None:
    moved: PlanItem = {"path": "b.md", "key": "note:b", "from": "a.md", "from_key": "note:b"}
    assert json.loads(json.dumps([moved])) == [moved]


def test_every_outcome_counts_once() -> None:
    report = Report()
    for outcome in Outcome:
        report.count(outcome)
    counts = {outcome.value: getattr(report, outcome.value) for outcome in Outcome}
    assert counts == dict.fromkeys(counts, 1)
    assert report.processed == len(Outcome)


def test_every_entry_is_listed_with_its_kind() -> None:
    report = Report()
    entries = [
        Conflict("a.md", "note:a", "kept both"),
        Merged("a.md", "note:a"),
        LeftAlone("a.md", "note:a", "why", "how"),
        Skip("a.md", "why"),
        ItemError("a.md", "what"),
    ]
    for entry in entries:
        report.add(entry)
    listed = [report.conflicts, report.merged, report.left_alone, report.skipped, report.errors]
    assert listed == [[entry] for entry in entries]


def test_a_void_item_counts_nothing_and_keeps_no_merge() -> None:
    item = _item()
    item.outcome = Outcome.UPDATED
    item.entries += [Conflict("a.md", "note:a", "r"), Merged("a.md", "note:a")]
    item.void(Skip("a.md", "changed meanwhile"))
    assert item.outcome is None
    assert item.entries == [Conflict("a.md", "note:a", "r"), Skip("a.md", "changed meanwhile")]


def test_stale_items_are_voided_by_their_key_or_the_key_they_moved_from() -> None:
    plain, moved, other = _item("a.md"), _item("b.md", EntityKey("note", "b")), _item("c.md")
    moved.move_from = SyncRecord("old.md", EntityKey("note", "old"), 1, 1, "f", "e")
    other.key = EntityKey("note", "c")
    for item in (plain, moved, other):
        item.outcome = Outcome.MOVED
    void_stale({KEY, EntityKey("note", "old")}, [plain, moved, other])
    report = report_of([plain, moved, other], dry_run=False)
    assert (report.moved, [s.path for s in report.skipped]) == (1, ["a.md", "b.md"])


def test_results_merge_in_order() -> None:
    first, second = Result(), Result()
    first.changes.drop_records.append("a.md")
    second.changes.drop_records.append("b.md")
    second.changes.deletes.append(KEY)
    second.changes.expected[KEY] = "hash"
    merged = first.merge(second)
    assert merged is first
    assert merged.changes.drop_records == ["a.md", "b.md"]
    assert (merged.changes.deletes, merged.changes.expected) == ([KEY], {KEY: "hash"})


def test_policies_keep_their_names() -> None:
    assert CONFLICT_POLICIES == ("merge", "keep-both", "file-wins", "db-wins", "fail")
    assert Settings().conflict_policy is ConflictPolicy.MERGE


def test_a_policy_given_as_text_becomes_the_enum() -> None:
    assert Settings(conflict_policy="db-wins").conflict_policy is ConflictPolicy.DB_WINS  # type: ignore[arg-type]
    loaded = load_settings({}, {"BRAINSYNC_CONFLICT_POLICY": "keep-both"})
    assert loaded.conflict_policy is ConflictPolicy.KEEP_BOTH
    assert loaded.conflict_policy == "keep-both"
    with pytest.raises(ConfigError, match="conflict policy must be one of merge, keep-both"):
        Settings(conflict_policy="newest")  # type: ignore[arg-type]


def test_the_mcp_tool_offers_every_policy() -> None:
    from brainsync.interfaces.mcp_tools import Policy

    assert typing.get_args(Policy) == CONFLICT_POLICIES
