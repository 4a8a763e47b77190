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
