"""What a follower reports when a job failed here and its record cannot say so (B12)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from brainsync.errors import DiskFullError, JobError, RootUnavailableError
from brainsync.jobs import outcomes
from brainsync.jobs.outcomes import LocalFailures


@pytest.fixture
def failures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalFailures:
    monkeypatch.setattr(outcomes, "_RECORD_GRACE_SECONDS", 0.0)
    return LocalFailures(f"sqlite:///{tmp_path / 'state' / 'brain.jobs.sqlite'}")


def test_the_error_is_the_one_the_record_would_give(failures: LocalFailures) -> None:
    failures.record("j1", JobError("plan failed: RootUnavailableError: no folder"))
    found = failures.settled("j1")
    assert isinstance(found, RootUnavailableError) and str(found) == "no folder"
    assert failures.settled("other") is None


def test_a_job_store_that_cannot_record_for_space_is_named(
    failures: LocalFailures, tmp_path: Path
) -> None:
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
    try:
        try:
            raise JobError("chunk 0 failed: StoreError: refused")
        except JobError:
            raise full from None
    except sqlite3.OperationalError as raised:
        failures.record("j2", raised)
    found = failures.settled("j2")
    assert isinstance(found, DiskFullError)
    assert "brain.jobs.sqlite" in str(found) and str(tmp_path / "state") in str(found)


def test_a_full_disk_in_the_chain_is_reported_as_it_was_raised(failures: LocalFailures) -> None:
    cause = DiskFullError("disk full: no space left in the synced folder /x")
    try:
        try:
            raise cause
        except DiskFullError as exc:
            raise JobError("chunk 3 failed: DiskFullError: ...") from exc
    except JobError as raised:
        failures.record("j3", raised)
    assert failures.settled("j3") is cause


def test_nothing_is_reported_before_the_record_had_its_time(
    failures: LocalFailures, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outcomes, "_RECORD_GRACE_SECONDS", 3600.0)
    failures.record("j4", JobError("boom"))
    assert failures.settled("j4") is None
