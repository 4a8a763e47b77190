"""The report's ``ignored`` counts: merged by adding, and through ``to_dict`` and back."""

from __future__ import annotations

import json

from brainsync.report import Report


def test_ignored_counts_merge_by_adding() -> None:
    total = Report(ignored={"dot-folder": 2, "backup": 1})
    total.merge(Report(ignored={"backup": 3, "editor-temp": 1}))
    total.merge(Report())
    assert total.ignored == {"dot-folder": 2, "backup": 4, "editor-temp": 1}


def test_ignored_counts_round_trip_through_json() -> None:
    report = Report(created=1, ignored={"dot-folder": 2, "not-markdown": 7})
    again = Report.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again == report
    assert Report.from_dict({}).ignored == {}  # a report stored before the field existed


def test_a_job_summary_says_what_the_job_did() -> None:
    from datetime import UTC, datetime

    from brainsync.jobs.records import NO_PROGRESS, Job, JobState
    from brainsync.report import ItemError
    from brainsync.status import job_summary

    def job(result: Report) -> Job:
        now = datetime.now(UTC)
        state = JobState.SUCCEEDED
        return Job("j", "sync", {}, state, NO_PROGRESS, now, now, now, result, None, False, "l")

    assert job_summary(job(Report(created=3, deleted=1)))["summary"] == "3 created, 1 deleted"
    assert job_summary(job(Report(unchanged=7)))["summary"] == "no changes (7 unchanged)"
    failed = Report(updated=1, errors=[ItemError("a.md", "bad")])
    assert job_summary(job(failed))["summary"] == "1 updated, 1 errors, first: a.md: bad"
