"""Failure catalogue P1 and P3: a file keeps its mode, and a read-only file is not replaced.

An export writes a temp file and renames it over the old one; the new file must carry the
old one's permission bits (a private note stays private) and, where the process may, its
owner and group. A new file gets ``0666`` less the umask. A file without its write bit is
left alone, with the reason and the command that settles it, unless
``overwrite_readonly`` is set. Run as root these matter most: root ignores the bits.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from brainsync.report import LeftAlone


def note(text: str) -> str:
    return f"---\ntitle: t\n---\n{text}\n"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_002() -> Iterator[None]:
    old = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(old)


def exported(make_brain: Any, root: Path, **settings: Any) -> tuple[Any, Path]:
    brain = make_brain(**settings)
    brain.put_entity("note", "secret", text=note("v1"))
    assert brain.export().created == 1
    return brain, root / "secret.md"


def test_p1_a_private_file_updated_by_export_stays_private(make_brain: Any, root: Path) -> None:
    brain, path = exported(make_brain, root)
    path.chmod(0o600)
    brain.put_entity("note", "secret", text=note("v2"))
    report = brain.export()
    assert (report.updated, report.errors, report.left_alone) == (1, [], [])
    assert path.read_text() == note("v2")
    assert mode_of(path) == 0o600
    # and a sync (the other writer of files) too, with odd bits kept as they are
    path.chmod(0o640)
    brain.put_entity("note", "secret", text=note("v3"))
    assert brain.sync().updated == 1
    assert (path.read_text(), mode_of(path)) == (note("v3"), 0o640)


def test_p1_a_new_file_gets_the_umask_mode(make_brain: Any, root: Path, umask_002: None) -> None:
    _, path = exported(make_brain, root)
    assert mode_of(path) == 0o664  # 0666 less the umask 002 (group-writable, as asked)
    nested = make_brain()
    nested.put_entity("note", "a:b", text=note("deep"))
    nested.export()
    assert mode_of(root / "a" / "b.md") == 0o664
    assert mode_of(root / "a") == 0o775  # a folder it made: 0777 less the umask


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may give a file to another user")
def test_p1_an_updated_file_keeps_its_owner_and_group(make_brain: Any, root: Path) -> None:
    brain, path = exported(make_brain, root)
    os.chown(path, 12345, 23456)
    path.chmod(0o604)
    brain.put_entity("note", "secret", text=note("v2"))
    assert brain.export().updated == 1
    info = path.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (12345, 23456, 0o604)


def test_p3_a_read_only_file_is_left_alone_with_the_reason(make_brain: Any, root: Path) -> None:
    brain, path = exported(make_brain, root)
    path.chmod(0o444)
    brain.put_entity("note", "secret", text=note("v2"))
    for run in (brain.export, brain.sync):
        report = run()
        assert (report.updated, report.errors) == (0, [])
        assert report.left_alone == [
            LeftAlone(
                "secret.md",
                "note:secret",
                "the file is read-only (no write bit): not replaced with the store's version",
                "make it writable (chmod u+w) and run again, or set overwrite_readonly = true",
            )
        ]
        assert path.read_text() == note("v1")
        assert mode_of(path) == 0o444
    # made writable again, the next run writes it
    path.chmod(0o644)
    assert brain.export().updated == 1
    assert path.read_text() == note("v2")


def test_p3_with_overwrite_readonly_it_is_replaced_and_keeps_its_mode(
    make_brain: Any, root: Path
) -> None:
    brain, path = exported(make_brain, root, overwrite_readonly=True)
    path.chmod(0o400)
    brain.put_entity("note", "secret", text=note("v2"))
    report = brain.export()
    assert (report.updated, report.left_alone, report.errors) == (1, [], [])
    assert (path.read_text(), mode_of(path)) == (note("v2"), 0o400)


def test_p3_a_conflict_on_a_read_only_file_merges_nothing_into_it(
    make_brain: Any, root: Path
) -> None:
    """Both sides changed, apart: the merge would rewrite the file; it keeps both instead."""
    brain = make_brain()
    brain.put_entity("note", "secret", text=note("one\n\ntwo\n\nthree"))
    brain.export()
    path = root / "secret.md"
    path.write_text(note("ONE\n\ntwo\n\nthree"))
    path.chmod(0o444)
    brain.put_entity("note", "secret", text=note("one\n\ntwo\n\nTHREE"))
    report = brain.sync()
    assert report.merged == [] and report.errors == []
    assert [c.resolution for c in report.conflicts] == [
        "not merged (the file is read-only (no write bit)); kept both: file imported, "
        "database version saved as copy"
    ]
    assert path.read_text() == note("ONE\n\ntwo\n\nthree")
    assert brain.get_entity("note", "secret").document == note("ONE\n\ntwo\n\nthree")
