"""B15: the store and the folders apply one size limit (``max_file_bytes``).

An entity whose file would be larger than the limit is refused at the door (put, revert),
with the limit named; one already in the store (written before the limit was lowered) is
reported skipped by every export, never written and never silently left out.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from disk import Disk

from brainsync.app import Brain
from brainsync.errors import InvalidInputError

BrainFactory = Callable[..., Brain]

LIMIT = 200


def _document(size: int) -> str:
    """A note document of exactly ``size`` UTF-8 bytes (multi-byte characters in it)."""
    head = "---\ntitle: é\n---\n"
    return head + "x" * (size - len(head.encode("utf-8")))


def test_put_larger_than_the_limit_is_refused_with_the_limit_named(
    make_brain: BrainFactory,
) -> None:
    brain = make_brain(max_file_bytes=LIMIT)
    assert brain.put_entity("note", "fits", text=_document(LIMIT)).version == 1
    with pytest.raises(
        InvalidInputError, match=rf"201-byte file.*{LIMIT}-byte limit.*max_file_bytes"
    ):
        brain.put_entity("note", "big", text=_document(LIMIT + 1))
    with pytest.raises(InvalidInputError, match="max_file_bytes"):  # parts render too
        brain.put_entity("note", "big", metadata={"title": "t"}, content="é" * LIMIT)
    with pytest.raises(InvalidInputError, match="max_file_bytes"):  # an update as well
        brain.put_entity("note", "fits", text=_document(LIMIT + 1))
    assert brain.get_entity("note", "fits").document == _document(LIMIT)
    assert [e.id for e in brain.list_entities()] == ["fits"]


def test_revert_to_a_version_over_the_limit_is_refused(make_brain: BrainFactory) -> None:
    roomy = make_brain(max_file_bytes=10 * LIMIT)
    roomy.put_entity("note", "n", text=_document(2 * LIMIT))
    roomy.put_entity("note", "n", text="small\n")
    roomy.close()
    strict = make_brain(max_file_bytes=LIMIT)
    with pytest.raises(InvalidInputError, match=f"{LIMIT}-byte limit"):
        strict.revert_entity("note", "n", to=1)
    assert strict.get_entity("note", "n").document == "small\n"


def test_export_reports_an_entity_already_over_the_limit(
    make_brain: BrainFactory, disk: Disk
) -> None:
    roomy = make_brain(max_file_bytes=10 * LIMIT)
    roomy.put_entity("note", "big", text=_document(2 * LIMIT))
    roomy.put_entity("note", "small", text="small\n")
    roomy.close()
    strict = make_brain(max_file_bytes=LIMIT)
    for run in (strict.export, strict.export, strict.sync):  # every run says so again
        report = run()
        assert [s.path for s in report.skipped] == ["big.md"], report
        reason = report.skipped[0].reason
        assert f"{2 * LIMIT} bytes" in reason and f"{LIMIT}-byte limit (max_file_bytes)" in reason
        assert not (disk.root / "big.md").exists()
    assert (disk.root / "small.md").read_text() == "small\n"
    preview = strict.export(dry_run=True)
    assert preview.skipped and not preview.created


def test_a_merge_larger_than_the_limit_keeps_both_instead(
    make_brain: BrainFactory, disk: Disk
) -> None:
    brain = make_brain(max_file_bytes=120)
    base = "line one\n\nline two\n\nline three\n"
    brain.put_entity("note", "m", text=base)
    assert brain.sync().created == 1
    disk.edit("m.md", "F" * 59 + "\n\n" + base)  # each side fits, both together do not
    brain.put_entity("note", "m", text=base + "\n" + "S" * 59 + "\n")
    report = brain.sync()
    assert report.merged == [] and len(report.conflicts) == 1, report
    assert "larger than the 120-byte limit (max_file_bytes)" in report.conflicts[0].resolution
    assert brain.get_entity("note", "m").document == disk.read("m.md").decode()  # file kept
    second = brain.sync()
    assert (second.created, second.updated, second.conflicts, second.skipped) == (0, 0, [], [])
