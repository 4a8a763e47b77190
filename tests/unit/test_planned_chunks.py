"""A plan's chunks are built one at a time from its candidates, and read like a list."""

from __future__ import annotations

import json

import pytest

from brainsync.entities import EntityKey
from brainsync.report import Report
from brainsync.sync.engine import PlannedChunks
from brainsync.sync.planner import Candidate, Plan

ROOT = [64768, 1234]


def plan_of(n: int, size: int) -> Plan:
    candidates = [Candidate(f"n{i}.md", EntityKey("note", f"n{i}")) for i in range(n)]
    moved = EntityKey("note", "old")
    candidates.append(Candidate("new.md", EntityKey("note", "new"), "old.md", moved))
    return Plan(candidates=candidates, chunk_size=size, report=Report(unchanged=7))


def test_chunks_hold_the_candidates_in_order_then_the_finish() -> None:
    chunks = PlannedChunks(plan_of(5, 2), ROOT, "sync")
    assert len(chunks) == 4  # 6 candidates in chunks of 2, then the finish
    items = [item for chunk in chunks[:-1] for item in chunk["items"]]
    assert items[:2] == [{"path": "n0.md", "key": "note:n0"}, {"path": "n1.md", "key": "note:n1"}]
    move = {"path": "new.md", "key": "note:new", "from": "old.md", "from_key": "note:old"}
    assert items[-1] == move
    assert [len(chunk["items"]) for chunk in chunks] == [2, 2, 2, 0]
    assert chunks.item_count == 6  # the progress total, without building a chunk
    assert all(chunk["root"] == ROOT for chunk in chunks[:-1])
    assert chunks[-1] == {"items": [], "finish": "sync"} == chunks[3]
    assert chunks[0]["carry"] == Report(unchanged=7).to_dict()
    assert ["carry" in chunk for chunk in chunks] == [True, False, False, False]
    json.dumps(list(chunks))  # what a job stores: plain JSON
    with pytest.raises(IndexError):
        chunks[4]


def test_an_empty_plan_is_one_finishing_chunk_that_carries_the_report() -> None:
    chunks = PlannedChunks(Plan(chunk_size=500, report=Report(unchanged=3)), ROOT, "import")
    assert list(chunks) == [
        {"items": [], "finish": "import", "carry": Report(unchanged=3).to_dict()}
    ]
    assert chunks.item_count == 0
