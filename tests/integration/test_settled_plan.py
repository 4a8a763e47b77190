"""A full plan sets settled files aside, and still plans what the whole inventory would.

``brainsync.sync.settle`` streams the sync state and keeps only the residue; the planner's
cross-path rules (twin names of one entity, canonical names already taken, case clashes)
must see the settled paths they concern. Each test plans twice, streamed and from the
whole inventory (:func:`whole_inventory`), and compares the reports.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from disk import Disk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brainsync.app import Brain
from brainsync.config import Settings
from brainsync.entities import EntityKey
from brainsync.errors import SafetyError
from brainsync.report import Report
from brainsync.store import Store
from brainsync.sync import inventory
from brainsync.sync import settle as settle_module
from brainsync.sync.paths import PathMapper
from brainsync.sync.scan import ScanResult


def whole_inventory(
    store: Store, mapper: PathMapper, folder: str, scanned: ScanResult
) -> inventory.Inventory:
    """The inventory before streaming: every record and every entity summary, held."""
    records = {record.path: record for record in store.iter_records(folder)}
    summaries = {summary.key: summary for summary in store.iter_summaries()}
    return inventory.Inventory(scanned, records, summaries)


def both_plans(brain: Brain, monkeypatch: pytest.MonkeyPatch) -> tuple[Report, Report]:
    """The dry-run report of the streamed plan, and of the plan over the whole inventory."""
    streamed = brain.sync(dry_run=True)
    with monkeypatch.context() as patch:
        patch.setattr(inventory, "_residue", whole_inventory)
        whole = brain.sync(dry_run=True)
    return streamed, whole


def body(name: str) -> str:
    return f"---\ntitle: {name}\n---\nText of {name}.\n"


def settle(brain: Brain, *ids: str) -> None:
    for id_ in ids:
        brain.put_entity("note", id_, text=body(id_))
    assert brain.export().errors == []
    assert brain.sync().unchanged == len(ids)


def test_a_new_twin_name_of_a_settled_entity_is_skipped(
    brain: Brain, disk: Disk, monkeypatch: pytest.MonkeyPatch
) -> None:
    settle(brain, "a b", "c")
    disk.write("a%20b.md", body("twin"))  # decodes to the settled note "a b"
    streamed, whole = both_plans(brain, monkeypatch)
    assert streamed == whole
    assert [(s.path, s.reason) for s in streamed.skipped] == [
        ("a%20b.md", "names the same entity as a b.md")
    ]
    assert streamed.unchanged == 2 and streamed.created == 0


def test_a_new_entity_whose_file_clashes_with_a_settled_one_is_skipped(
    brain: Brain, disk: Disk, monkeypatch: pytest.MonkeyPatch
) -> None:
    settle(brain, "Note", "other")
    brain.put_entity("note", "note", text=body("note"))  # note.md: Note.md on macOS
    streamed, whole = both_plans(brain, monkeypatch)
    assert streamed == whole
    assert [s.path for s in streamed.skipped] == ["note.md"]
    assert "clashes with Note.md" in streamed.skipped[0].reason
    assert (streamed.created, streamed.unchanged) == (0, 2)


def test_a_new_file_clashing_with_a_settled_one_is_skipped(
    brain: Brain, disk: Disk, monkeypatch: pytest.MonkeyPatch
) -> None:
    settle(brain, "sub:page", "top")
    disk.write("Sub/page.md", body("case twin"))
    disk.edit("top.md", body("top, edited"))
    streamed, whole = both_plans(brain, monkeypatch)
    assert streamed == whole
    assert [s.path for s in streamed.skipped] == ["Sub/page.md"]
    assert (streamed.updated, streamed.unchanged) == (1, 1)


@pytest.mark.parametrize("stretch", [5000, 4, 1])
def test_moves_and_deletes_among_settled_files(
    brain: Brain, disk: Disk, monkeypatch: pytest.MonkeyPatch, stretch: int
) -> None:
    """Read back by path (few unsettled in a stretch) and by range (many): same plan."""
    monkeypatch.setattr(settle_module, "_STRETCH_ROWS", stretch)
    settle(brain, *(f"n{i}" for i in range(12)))
    (disk.root / "n1.md").rename(disk.root / "moved.md")
    (disk.root / "n2.md").unlink()
    brain.delete_entity("note", "n3")
    brain.put_entity("note", "n4", text=body("n4 by an agent"))
    streamed, whole = both_plans(brain, monkeypatch)
    assert streamed == whole
    assert (streamed.moved, streamed.deleted, streamed.updated) == (1, 2, 1)
    assert streamed.unchanged == 8


# -- the property: random vaults, random edits on both sides ------------------------------

#: Ids and file names chosen to collide: percent twins, case twins, folders and files.
IDS = ("a b", "A b", "a%20b", "Note", "note", "sub:y", "Sub:y", "x", "x:z")
NAMES = ("a b.md", "a%20b.md", "A b.md", "Note.md", "note.md", "sub/y.md", "Sub/y.md", "x.md")
FILE_OPS = st.tuples(st.sampled_from(("write", "edit", "delete")), st.sampled_from(NAMES))
ENTITY_OPS = st.tuples(st.sampled_from(("put", "delete")), st.sampled_from(IDS))


def _apply_file_op(disk: Disk, op: str, name: str, n: int) -> None:
    path = disk.root / name
    if op == "delete":
        path.unlink(missing_ok=True)
    elif op == "edit" and path.exists():
        disk.edit(name, body(f"{name} edit {n}"))
    elif op == "write":
        disk.write(name, body(f"{name} write {n}"))


def _apply_entity_op(brain: Brain, op: str, id_: str, n: int) -> None:
    if op == "delete":
        if brain.store.get(EntityKey("note", id_)) is not None:
            brain.delete_entity("note", id_)
    else:
        brain.put_entity("note", id_, text=body(f"{id_} put {n}"))


def _outcome(
    brain: Brain, monkeypatch: pytest.MonkeyPatch, *, streamed: bool, stretch: int = 5000
) -> object:
    """A dry run's report, or the refusal it raised (an emptied folder is refused)."""
    with monkeypatch.context() as patch:
        patch.setattr(settle_module, "_STRETCH_ROWS", stretch)
        if not streamed:
            patch.setattr(inventory, "_residue", whole_inventory)
        try:
            return brain.sync(dry_run=True)
        except SafetyError as exc:
            return f"{type(exc).__name__}: {exc}"


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    start=st.lists(st.sampled_from(IDS), unique=True, max_size=6),
    rounds=st.lists(
        st.tuples(st.lists(FILE_OPS, max_size=5), st.lists(ENTITY_OPS, max_size=4)),
        min_size=1,
        max_size=2,
    ),
    stretch=st.integers(min_value=1, max_value=6),
)
def test_the_streamed_plan_is_the_whole_plan(
    monkeypatch: pytest.MonkeyPatch, start: list[str], rounds: list[Any], stretch: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        disk = Disk(home / "brain")
        disk.root.mkdir()
        options = Settings(directory=disk.root, home=home / "state", io_threads=1)
        with Brain(options) as brain:
            for id_ in start:
                brain.put_entity("note", id_, text=body(id_))
            brain.sync(force_deletes=True)
            for n, (file_ops, entity_ops) in enumerate(rounds):
                for op, name in file_ops:
                    _apply_file_op(disk, op, name, n)
                for op, id_ in entity_ops:
                    _apply_entity_op(brain, op, id_, n)
                assert _outcome(brain, monkeypatch, streamed=True, stretch=stretch) == _outcome(
                    brain, monkeypatch, streamed=False
                )
                brain.sync(force_deletes=True)
